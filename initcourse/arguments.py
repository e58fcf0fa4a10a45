"""Argument checks of the exercises' answer keys and checks: clear errors that name the
argument and show what was received, and the limits that keep a call within memory.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate

#: The largest ``features`` the answer keys accept.
MAX_FEATURES = 65_536
#: The largest kernel the answer keys draw: 2**24 weights, 64 MiB in float32.
MAX_KERNEL_WEIGHTS = 2**24
#: Seconds a check may give each call of the learner's function.
MAX_TIMEOUT_S = 600.0

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def solve_arguments(seed, x, features) -> tuple[int, jax.Array, int]:
    """``(seed, x, features)`` checked: ``seed`` and ``features`` as ints, ``x`` as a 1-D
    JAX array (float inputs keep their dtype: float32, bfloat16, float16; integers become
    float32 exactly as NumPy rounds them, never wrapped; float64 becomes float32 and must
    fit in it)."""
    seed = _validate.seed(seed)
    features = _validate.integral("features", features, minimum=1, maximum=MAX_FEATURES)
    x = vector("x", x)
    if x.shape[0] * features > MAX_KERNEL_WEIGHTS:
        raise ValueError(
            f"len(x) * features must be <= {MAX_KERNEL_WEIGHTS} (the kernel's weights, "
            f"{MAX_KERNEL_WEIGHTS * 4 // 2**20} MiB in float32); received len(x)={x.shape[0]}, "
            f"features={features}")
    return seed, x, features


def vector(name: str, value) -> jax.Array:
    """A non-empty, finite, numeric 1-D array as a JAX array (see :func:`solve_arguments`)."""
    arr = _validate.vector(name, value)
    if np.max(np.abs(arr.astype(np.float64))) > _FLOAT32_MAX:
        raise ValueError(f"{name} must fit in float32 (|{name}| <= {_FLOAT32_MAX:.4g}), the "
                         f"layer's precision; received {_validate.shown(value)}")
    if arr.dtype.kind in "iu" or arr.dtype == np.float64:
        return jnp.asarray(arr.astype(np.float32))
    return jnp.asarray(value) if isinstance(value, jax.Array) else jnp.asarray(arr)


def initializer_arguments(key, shape, dtype) -> tuple[jax.Array, tuple[int, ...], np.dtype]:
    """``(key, shape, dtype)`` of an initializer, checked: a JAX key (typed, or a raw
    ``uint32[2]``), a shape of at least 2 positive ints with at most :data:`MAX_KERNEL_WEIGHTS`
    elements, and a float dtype."""
    is_typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if not is_typed:
        raw = np.asarray(key) if isinstance(key, (jax.Array, np.ndarray)) else None
        if raw is None or raw.shape != (2,) or raw.dtype != np.uint32:
            raise TypeError("key must be a JAX key, jax.random.key(n) or "
                            f"jax.random.PRNGKey(n); received {_validate.shown(key)}")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"shape must be a tuple of ints; received {_validate.shown(shape)}")
    shape = tuple(_validate.integral("shape's entries", n, minimum=1, maximum=MAX_KERNEL_WEIGHTS)
                  for n in shape)
    if len(shape) < 2:
        raise ValueError("shape must have at least 2 axes (fan_in is every axis but the last); "
                         f"received {shape!r}")
    if math.prod(shape) > MAX_KERNEL_WEIGHTS:
        raise ValueError(f"shape must have at most {MAX_KERNEL_WEIGHTS} elements; received {shape!r}")
    try:
        dtype = jnp.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a float dtype; received {_validate.shown(dtype)}") from exc
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a float dtype (float32, bfloat16, ...); "
                        f"received {_validate.shown(dtype)}")
    if dtype.itemsize < 2:
        raise TypeError(f"dtype must be float16, bfloat16 or float32: a float8 type cannot "
                        f"hold lecun_normal's draw; received {_validate.shown(dtype)}")
    return key, shape, dtype


MAX_D_MODEL, MAX_LAYERS = 1024, 1000


def block_arguments(seed, d_model, n_head, n_layer) -> tuple[int, int, int, int]:
    """``(seed, d_model, n_head, n_layer)`` of exercise 3 checked, as ints: ``seed`` as in
    exercise 1 (often a float, ``42.0``), ``d_model`` a multiple of ``n_head``."""
    seed = _validate.seed(seed)
    d_model = _validate.integral("d_model", d_model, minimum=1, maximum=MAX_D_MODEL)
    n_head = _validate.integral("n_head", n_head, minimum=1, maximum=d_model)
    if d_model % n_head:
        raise ValueError(f"d_model must be a multiple of n_head (each head gets d_model // "
                         f"n_head dimensions); received d_model={d_model}, n_head={n_head}")
    n_layer = _validate.integral("n_layer", n_layer, minimum=1, maximum=MAX_LAYERS)
    return seed, d_model, n_head, n_layer


def timeout(value) -> float:
    """Seconds per call of a check: a finite real number (or 0-d array) in
    (0, :data:`MAX_TIMEOUT_S`]."""
    return _validate.positive_real("timeout", value, maximum=MAX_TIMEOUT_S)


def check_seed(value) -> int | None:
    """The seed of a check's hidden inputs: None (the fixed cases) or a run seed
    (:data:`initcourse._validate.RUN_SEED_RANGE`, as ``initcourse grade --seed`` takes)."""
    if value is None:
        return None
    return _validate.integral("seed", value, minimum=_validate.RUN_SEED_RANGE[0],
                              maximum=_validate.RUN_SEED_RANGE[1])
