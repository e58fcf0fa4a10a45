"""Argument checks shared by the package: clear errors that name the argument
and show what was received. Nothing is silently converted."""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

#: The seeds of the course: the whole numbers ``jax.random.PRNGKey`` takes without
#: folding two of them onto one key (it folds 2**32 onto 0 and -1 onto 2**32 - 1).
SEED_RANGE = (0, 2**32 - 1)
#: The run seeds of a check's hidden inputs (``check(..., seed=)``, ``initcourse grade
#: --seed``): any seed NumPy's generators take, up to 2**63 - 1 (one signed 64-bit int).
RUN_SEED_RANGE = (0, 2**63 - 1)


def shown(value) -> str:
    """``value``'s repr (cut at 80 characters) and its type, for an error message."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def _real(name: str, value) -> numbers.Real:
    """``value`` as a Python real number: a real number or a 0-d numeric array, not a bool."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, not a bool; received {shown(value)}")
    if isinstance(value, (np.ndarray, jax.Array)):
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number; received {shown(value)}")
        value = arr.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; received {shown(value)}")
    return value


def integral(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is a finite, integral-valued real number in range.

    ``3`` and ``3.0`` (or a 0-d numeric array holding 3) are accepted; ``3.5``, NaN, inf,
    bools and strings raise, naming ``name`` and showing what was received. Integers of
    any size are compared exactly (``10**400`` is out of range, not an ``OverflowError``).
    """
    value = _real(name, value)
    if not isinstance(value, numbers.Integral):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{name} must be finite; received {shown(value)}")
        if as_float != math.floor(as_float):
            raise ValueError(f"{name} must be a whole number (3 or 3.0); received {shown(value)}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {shown(value)}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}; received {shown(value)}")
    return result


def seed(value, name: str = "seed") -> int:
    """A seed: a whole number in ``SEED_RANGE``, 0 to 2**32 - 1."""
    return integral(name, value, minimum=SEED_RANGE[0], maximum=SEED_RANGE[1])


def _as_float(value: numbers.Real) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond float's range
        return math.inf


def real(name: str, value, *, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    """Return ``value`` as a float if it is a finite real number in ``[minimum, maximum]``
    (a real number or a 0-d numeric array, not a bool)."""
    value = _real(name, value)
    number = _as_float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; received {shown(value)}")
    if not minimum <= number <= maximum:
        raise ValueError(f"{name} must be between {minimum:g} and {maximum:g}; received {shown(value)}")
    return number


def positive_real(name: str, value, *, allow_zero: bool = False,
                  maximum: float = math.inf) -> float:
    """Return ``value`` as a float if it is a finite real number in ``(0, maximum]``
    (``[0, maximum]`` with ``allow_zero``)."""
    value = _real(name, value)
    as_float = _as_float(value)
    if not (math.isfinite(as_float) and (0 < as_float or allow_zero and as_float == 0)
            and as_float <= maximum):
        low = "[0" if allow_zero else "(0"
        bound = (">= 0" if allow_zero else "> 0") if maximum == math.inf else f"in {low}, {maximum:g}]"
        raise ValueError(f"{name} must be a finite number {bound}; received {shown(value)}")
    return as_float


def flag(name: str, value) -> bool:
    """Return ``value`` if it is a bool (or a NumPy bool): ``"yes"``, ``None`` or ``1`` are
    refused rather than read by their truth."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; received {shown(value)}")


def choice(name: str, value, options) -> str:
    """Return ``value`` if it is one of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}; received {shown(value)}")
    return value


def float_dtype(name: str, value) -> np.dtype:
    """A floating dtype JAX computes in: float32, bfloat16, float16, or float64 in x64 mode."""
    try:
        if value is None:
            raise TypeError
        dtype = jnp.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be a floating dtype such as jnp.float32; "
                        f"received {shown(value)}") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype (float32, bfloat16, float16); "
                        f"received {shown(value)}")
    if dtype.itemsize < 2:
        raise TypeError(f"{name} must be float16, bfloat16 or float32 (float64 in JAX's x64 "
                        f"mode): a float8 type cannot hold a kernel's draw (JAX's samplers give "
                        f"NaN or are not implemented for it); received {shown(value)}")
    if dtype.itemsize == 8 and not jax.config.jax_enable_x64:
        raise ValueError(f"{name}=float64 needs JAX's 64-bit mode (jax.config.update("
                         "'jax_enable_x64', True)); without it JAX draws float32. "
                         f"Received {shown(value)}")
    return dtype


def vector(name: str, value, *, max_size: int | None = None, why: str = "") -> np.ndarray:
    """A non-empty, finite 1-D array of ints or floats (bfloat16 included), as numpy; with
    ``max_size``, of at most that many values (``why`` says what the bound keeps)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a 1-D numeric array; received {shown(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise TypeError(f"{name} must be a 1-D numeric array; received {shown(value)}") from exc
    if arr.dtype.kind not in "iu" and not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(
            f"{name} must hold numbers (int or float), got dtype {arr.dtype}; received {shown(value)}"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; received {shown(value)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; received {shown(value)}")
    if max_size is not None and arr.size > max_size:
        raise ValueError(f"{name} must hold at most {max_size:,} values{why}; received "
                         f"{arr.size:,} values")
    if not np.all(np.isfinite(arr.astype(np.float64))):
        raise ValueError(f"{name} must hold only finite values (no NaN or inf); received {shown(value)}")
    return arr

