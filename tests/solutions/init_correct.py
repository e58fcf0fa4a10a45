"""Correct `lecun_normal_init` of exercise 2, written the different ways learners write them.
:func:`initcourse.check_initializer` must pass each with no mistake."""

from __future__ import annotations

import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np

C = 0.87962566103423978
SOLUTIONS = {}


def _register(fn):
    SOLUTIONS[fn.__name__] = fn
    return fn


@_register
def textbook(key, shape, dtype=jnp.float32):
    """Flax's order of operations: equal to the last bit."""
    fan_in = math.prod(shape[:-1])
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std


@_register
def keyword_arguments(key, shape, dtype=jnp.float32):
    """Every argument of `truncated_normal` by keyword, `np.prod` for the fan."""
    fan_in = int(np.prod(shape[:-1]))
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key=key, lower=-2.0, upper=2.0, shape=shape,
                                       dtype=dtype) * std


@_register
def python_float_scale(key, shape, dtype=jnp.float32):
    """The scale as a Python float: rounded once, in another order (a few ulps)."""
    fan_in = math.prod(shape[:-1])
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * (1 / math.sqrt(fan_in) / C)


@_register
def two_divisions(key, shape, dtype=jnp.float32):
    """Divides by sqrt(fan_in), then by 0.8796, in `dtype`."""
    fan_in = math.prod(shape[:-1])
    z = jax.random.truncated_normal(key, -2, 2, shape, dtype)
    return z / jnp.sqrt(jnp.array(fan_in, dtype)) / jnp.array(C, dtype)


@_register
def loop_over_axes(key, shape, dtype=jnp.float32):
    """Counts fan_in with a loop over the axes."""
    fan_in = 1
    for size in shape[:-1]:
        fan_in *= size
    scale = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * scale


@_register
def receptive_field_times_channels(key, shape, dtype=jnp.float32):
    """fan_in as Flax names it: receptive field size times input channels."""
    receptive_field = functools.reduce(operator.mul, shape[:-2], 1)
    fan_in = receptive_field * shape[-2]
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std


@_register
def rsqrt(key, shape, dtype=jnp.float32):
    """`lax.rsqrt` for 1/sqrt."""
    fan_in = math.prod(shape[:-1])
    scale = jax.lax.rsqrt(jnp.array(fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * scale


@functools.partial(jax.jit, static_argnums=(1, 2))
def _jitted(key, shape, dtype):
    fan_in = math.prod(shape[:-1])
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(C, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std


@_register
def jitted(key, shape, dtype=jnp.float32):
    """Compiled with `jax.jit`, shape and dtype static."""
    return _jitted(key, tuple(shape), jnp.dtype(dtype))


@_register
def variance_then_sqrt(key, shape, dtype=jnp.float32):
    """`variance = 1 / fan_in` named first, as Flax's source does."""
    fan_in = math.prod(shape[:-1])
    variance = jnp.array(1.0 / fan_in, dtype=dtype)
    stddev = jnp.sqrt(variance) / jnp.array(C, dtype)
    return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
