"""Argument checks of the exercises' answer keys and checks: clear errors that name the
argument and show what was received, and the limits that keep a call within memory.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate

#: The largest ``features`` the answer keys accept.
MAX_FEATURES = 65_536
#: The largest kernel the answer keys draw: 2**24 weights, 64 MiB in float32.
MAX_WEIGHTS = 2**24
#: Seconds a check may give each call of the learner's function.
MAX_TIMEOUT_S = 600.0

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _shown(value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def solve_arguments(seed, x, features) -> tuple[int, jax.Array, int]:
    """``(seed, x, features)`` checked: ``seed`` and ``features`` as ints, ``x`` as a 1-D
    JAX array (float inputs keep their dtype: float32, bfloat16, float16; integers become
    float32 exactly as NumPy rounds them, never wrapped; float64 becomes float32 and must
    fit in it)."""
    seed = whole("seed", seed, *_validate.SEED_RANGE)
    features = whole("features", features, 1, MAX_FEATURES)
    x = vector("x", x)
    if x.shape[0] * features > MAX_WEIGHTS:
        raise ValueError(
            f"len(x) * features must be <= {MAX_WEIGHTS} (the kernel's weights, "
            f"{MAX_WEIGHTS * 4 // 2**20} MiB in float32); received len(x)={x.shape[0]}, "
            f"features={features}")
    return seed, x, features


def whole(name: str, value, minimum: int, maximum: int) -> int:
    """``value`` as an int in [minimum, maximum]; a clear error naming ``name`` otherwise
    (also for numbers too large for a float, such as ``10**400``)."""
    try:
        return _validate.integral(name, value, minimum=minimum, maximum=maximum)
    except OverflowError:  # float(10**400)
        raise ValueError(f"{name} must be >= {minimum} and <= {maximum}; "
                         f"received {_shown(value)}") from None


def vector(name: str, value) -> jax.Array:
    """A non-empty, finite, numeric 1-D array as a JAX array (see :func:`solve_arguments`)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a 1-D numeric array; received {_shown(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise TypeError(f"{name} must be a 1-D numeric array; received {_shown(value)}") from exc
    floating = jnp.issubdtype(arr.dtype, jnp.floating)
    if arr.dtype.kind == "b" or not (floating or arr.dtype.kind in "iu"):
        raise TypeError(f"{name} must hold numbers (int or float), got dtype {arr.dtype}; "
                        f"received {_shown(value)}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; received {_shown(value)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; received {_shown(value)}")
    wide = arr.astype(np.float64)
    if not np.all(np.isfinite(wide)):
        raise ValueError(f"{name} must hold only finite values (no NaN or inf); "
                         f"received {_shown(value)}")
    if np.max(np.abs(wide)) > _FLOAT32_MAX:
        raise ValueError(f"{name} must fit in float32 (|{name}| <= {_FLOAT32_MAX:.4g}), the "
                         f"layer's precision; received {_shown(value)}")
    if not floating:
        return jnp.asarray(arr.astype(np.float32))
    if arr.dtype == np.float64:
        return jnp.asarray(arr.astype(np.float32))
    return jnp.asarray(value) if isinstance(value, jax.Array) else jnp.asarray(arr)


def initializer_arguments(key, shape, dtype) -> tuple[jax.Array, tuple[int, ...], np.dtype]:
    """``(key, shape, dtype)`` of an initializer, checked: a JAX key (typed, or a raw
    ``uint32[2]``), a shape of at least 2 positive ints with at most :data:`MAX_WEIGHTS`
    elements, and a float dtype."""
    is_typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if not is_typed:
        raw = np.asarray(key) if isinstance(key, (jax.Array, np.ndarray)) else None
        if raw is None or raw.shape != (2,) or raw.dtype != np.uint32:
            raise TypeError("key must be a JAX key, jax.random.key(n) or "
                            f"jax.random.PRNGKey(n); received {_shown(key)}")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"shape must be a tuple of ints; received {_shown(shape)}")
    shape = tuple(whole("shape's entries", n, 1, MAX_WEIGHTS) for n in shape)
    if len(shape) < 2:
        raise ValueError("shape must have at least 2 axes (fan_in is every axis but the last); "
                         f"received {shape!r}")
    if math.prod(shape) > MAX_WEIGHTS:
        raise ValueError(f"shape must have at most {MAX_WEIGHTS} elements; received {shape!r}")
    try:
        dtype = jnp.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a float dtype; received {_shown(dtype)}") from exc
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a float dtype (float32, bfloat16, ...); "
                        f"received {_shown(dtype)}")
    return key, shape, dtype


def timeout(value) -> float:
    """Seconds per call of a check: a finite real number (or 0-d array) in
    (0, :data:`MAX_TIMEOUT_S`]."""
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        value = np.asarray(value).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds; received {_shown(value)}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not (0 < seconds <= MAX_TIMEOUT_S):
        raise ValueError(f"timeout must be > 0 and <= {MAX_TIMEOUT_S:g} seconds; "
                         f"received {_shown(value)}")
    return seconds


def check_seed(value) -> int | None:
    """The seed of a check's hidden inputs: None (the fixed cases) or an int >= 0."""
    if value is None:
        return None
    return whole("seed", value, 0, 2**63 - 1)
