"""The course's figure style under its old name: it now lives in :mod:`initcourse.figures`.

Kept so that code written against ``initcourse.plots`` still runs; import ``PALETTE``,
``CYCLE``, ``RC`` and ``style`` from :mod:`initcourse.figures` in new code.
"""

from initcourse.figures import CYCLE, PALETTE, RC, style

__all__ = ["CYCLE", "PALETTE", "RC", "style"]
