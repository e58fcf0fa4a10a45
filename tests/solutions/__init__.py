"""Corpora of learners' solutions, one module each (``SOLUTIONS``: name -> function, each
wrong one carrying the mistake codes it must get in ``.expected``)."""

from __future__ import annotations

import importlib


def load(name: str) -> dict:
    """``SOLUTIONS`` of tests/solutions/<name>.py."""
    return importlib.import_module(f"solutions.{name}").SOLUTIONS


def timeout(fn) -> float:
    """The time limit a check gets for ``fn``: 1 s for the runaway solutions; generous
    otherwise, so that JAX's compilations on a busy machine (up to 10 s seen here) are not
    taken for a runaway call."""
    return 1.0 if "timeout" in getattr(fn, "expected", ()) else 60.0
