"""The ``grade`` command's entry points (kept here for ``python -m initcourse grade``).

The command lives in :mod:`initcourse.grading`; see :mod:`initcourse.grading.cli`. Nothing
here is used while a submission runs: its verdict is computed in the grading process, on
the outputs of its functions, so replacing anything in this module from a notebook changes
nothing.
"""

from __future__ import annotations

from initcourse.grading.cli import add_arguments, find_submissions, run
from initcourse.grading.report import COLUMNS

__all__ = ["COLUMNS", "add_arguments", "find_submissions", "run"]
