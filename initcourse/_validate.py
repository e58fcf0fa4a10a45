"""Argument checks shared by the package: clear errors that name the argument
and show what was received. Nothing is silently converted."""

from __future__ import annotations

import math
import numbers

import numpy as np


def _shown(value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def integral(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is a finite, integral-valued real number.

    ``3`` and ``3.0`` (or a 0-d numeric array holding 3) are accepted; ``3.5``, NaN, inf,
    bools and strings raise, naming ``name`` and showing what was received.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, not a bool; received {_shown(value)}")
    if isinstance(value, np.ndarray) or hasattr(value, "__jax_array__") or _is_jax_array(value):
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number; received {_shown(value)}")
        value = arr.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; received {_shown(value)}")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{name} must be finite; received {_shown(value)}")
    if as_float != math.floor(as_float):
        raise ValueError(f"{name} must be a whole number (3 or 3.0); received {_shown(value)}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {_shown(value)}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}; received {_shown(value)}")
    return result


#: The seeds ``jax.random.PRNGKey`` accepts: 64-bit signed integers.
SEED_RANGE = (-(2**63), 2**63 - 1)


def seed(value, name: str = "seed") -> int:
    """A seed for ``jax.random.PRNGKey``: a whole number in the 64-bit signed range."""
    return integral(name, value, minimum=SEED_RANGE[0], maximum=SEED_RANGE[1])


def positive_real(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number > 0 (>= 0 if allowed)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; received {_shown(value)}")
    as_float = float(value)
    if not math.isfinite(as_float) or as_float < 0 or (as_float == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; received {_shown(value)}")
    return as_float


def choice(name: str, value, options) -> str:
    """Return ``value`` if it is one of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}; received {_shown(value)}")
    return value


def vector(name: str, value) -> np.ndarray:
    """Check that ``value`` is a non-empty, finite, numeric 1-D array; return it as numpy."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a 1-D numeric array; received {_shown(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise TypeError(f"{name} must be a 1-D numeric array; received {_shown(value)}") from exc
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold numbers (int or float), got dtype {arr.dtype}; received {_shown(value)}"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; received {_shown(value)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; received {_shown(value)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold only finite values (no NaN or inf); received {_shown(value)}")
    return arr


def _is_jax_array(value) -> bool:
    try:
        import jax
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, jax.Array)
