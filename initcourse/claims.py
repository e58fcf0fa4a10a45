"""Checked claims: the sentence a notebook states, asserted by the cell that computes it.

>>> claim(0.5 < 1.0, "each ReLU layer keeps less than the whole variance")
✓ each ReLU layer keeps less than the whole variance

A claim that has become false (after a version bump, say) raises :class:`ClaimError`
with the sentence in its message, so nbval fails with a readable reason instead of
leaving false prose in a notebook. ``tests/test_notebooks.py`` checks that every
notebook that teaches a result carries such checks, and that none is disabled.
"""

from __future__ import annotations

import numbers

import numpy as np

#: The mark printed before a claim that holds.
CHECK_MARK = "✓"


class ClaimError(AssertionError):
    """A claim of the course's prose did not hold on this run."""


def _truth(condition, statement: str) -> bool:
    if isinstance(condition, (bool, np.bool_)):
        return bool(condition)
    if condition is None or isinstance(condition, (str, bytes)):
        raise TypeError(
            f"condition must be a bool (the result of a comparison), for the claim "
            f"{statement!r}; received {condition!r} (type {type(condition).__name__})"
        )
    shape = getattr(condition, "shape", None)
    if shape is not None:
        if tuple(shape) != ():
            raise TypeError(
                f"condition must be a single bool, not an array of shape {tuple(shape)}, for "
                f"the claim {statement!r}: reduce it with .all() or .any() first"
            )
        value = np.asarray(condition)
        if value.dtype.kind != "b":
            raise TypeError(
                f"condition must be a bool (the result of a comparison), for the claim "
                f"{statement!r}; received an array of dtype {value.dtype}"
            )
        return bool(value)
    if isinstance(condition, numbers.Number):
        raise TypeError(
            f"condition must be a bool (the result of a comparison), for the claim "
            f"{statement!r}; received the number {condition!r}"
        )
    raise TypeError(
        f"condition must be a bool (the result of a comparison), for the claim {statement!r}; "
        f"received {condition!r} (type {type(condition).__name__})"
    )


def claim(condition, statement: str, *, measured: str | None = None) -> None:
    """Assert ``condition`` and print ``✓ statement``; raise :class:`ClaimError` if it fails.

    Arguments:
        condition: a bool (or a 0-d boolean array): the comparison that makes the claim true.
        statement: the claim in words, as the prose states it.
        measured: optional, what was measured (e.g. ``f"ratio {r:.2f}"``), shown only when
            the claim fails, to say by how much.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError(f"statement must be a non-empty str; received {statement!r}")
    if measured is not None and not isinstance(measured, str):
        raise TypeError(f"measured must be a str or None; received {measured!r}")
    if not _truth(condition, statement):
        detail = f" (measured: {measured})" if measured else ""
        raise ClaimError(
            f"claim failed: {statement}{detail}. The text that states it is no longer true "
            f"on this run: re-measure and rewrite it."
        )
    print(f"{CHECK_MARK} {statement}")
