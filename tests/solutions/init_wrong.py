"""Wrong `lecun_normal_init(key, shape, dtype=jnp.float32)` of exercise 2, each with the mistake
codes :func:`initcourse.check_initializer` must report, exactly and in this order."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
from flax import linen as nn

C = 0.87962566103423978  # the std of a standard normal cut at -2 and 2
SOLUTIONS = {}


def expect(*codes):
    def register(fn):
        fn.expected = codes
        SOLUTIONS[fn.__name__] = fn
        return fn

    return register


def _fan_in(shape):
    return math.prod(shape[:-1])


def _cut(key, shape, dtype):
    return jax.random.truncated_normal(key, -2, 2, shape, dtype)


def _scale(value, dtype):
    return jnp.array(value, dtype)


# -- the distribution ------------------------------------------------------------------------

@expect("not-truncated")
def untruncated_normal(key, shape, dtype=jnp.float32):
    """`normal * sqrt(1/fan_in)`: the right variance, not cut."""
    return jax.random.normal(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)), dtype)


@expect("not-truncated")
def clipped_normal(key, shape, dtype=jnp.float32):
    """Clips a normal at +-2 instead of cutting it: the cut mass piles up on the bounds."""
    z = jnp.clip(jax.random.normal(key, shape, dtype), -2, 2)
    return z * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)


@expect("not-truncated")
def cut_at_three(key, shape, dtype=jnp.float32):
    """Cuts at +-3 (rescaled by that cut's std, 0.9866)."""
    z = jax.random.truncated_normal(key, -3, 3, shape, dtype)
    return z * _scale(math.sqrt(1 / _fan_in(shape)) / 0.98658764, dtype)


@expect("not-truncated", "wrong-scale")
def untruncated_he(key, shape, dtype=jnp.float32):
    """He's normal: `normal * sqrt(2/fan_in)`."""
    return jax.random.normal(key, shape, dtype) * _scale(math.sqrt(2 / _fan_in(shape)), dtype)


@expect("wrong-distribution")
def lecun_uniform(key, shape, dtype=jnp.float32):
    """A uniform of the same variance."""
    limit = math.sqrt(3 / _fan_in(shape))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


@expect("wrong-distribution", "wrong-scale")
def he_uniform(key, shape, dtype=jnp.float32):
    """He's uniform: `uniform(-sqrt(6/fan_in), sqrt(6/fan_in))`."""
    limit = math.sqrt(6 / _fan_in(shape))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


@expect("missing-rescale")
def not_rescaled(key, shape, dtype=jnp.float32):
    """Cut at +-2 without dividing by 0.8796."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)), dtype)


@expect("wrong-scale")
def multiplied_by_the_cut_std(key, shape, dtype=jnp.float32):
    """Multiplies by 0.8796 where it should divide: 0.77 of lecun_normal's std."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) * C, dtype)


@expect("wrong-scale")
def he_truncated(key, shape, dtype=jnp.float32):
    """He's factor 2 in the variance."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(2 / _fan_in(shape)) / C, dtype)


@expect("missing-rescale", "wrong-scale")
def he_truncated_not_rescaled(key, shape, dtype=jnp.float32):
    """He's factor 2, and no 0.8796 rescale."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(2 / _fan_in(shape)), dtype)


@expect("wrong-scale")
def std_instead_of_variance(key, shape, dtype=jnp.float32):
    """`1 / fan_in` used as the std: far too small."""
    return _cut(key, shape, dtype) * _scale(1 / _fan_in(shape) / C, dtype)


# -- the fan ---------------------------------------------------------------------------------

@expect("wrong-fan")
def fan_out(key, shape, dtype=jnp.float32):
    """`sqrt(1/fan_out)`."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / shape[-1]) / C, dtype)


@expect("wrong-fan")
def fan_average(key, shape, dtype=jnp.float32):
    """Glorot's fan: the average of fan_in and fan_out."""
    fan = (_fan_in(shape) + shape[-1]) / 2
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / fan) / C, dtype)


@expect("wrong-fan")
def total_size(key, shape, dtype=jnp.float32):
    """`sqrt(1/size)`: every axis counted."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / math.prod(shape)) / C, dtype)


@expect("receptive-field-ignored")
def channels_only(key, shape, dtype=jnp.float32):
    """`fan_in = shape[-2]`: right for Dense, the receptive field left out for conv."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / shape[-2]) / C, dtype)


@expect("receptive-field-ignored")
def first_axis(key, shape, dtype=jnp.float32):
    """`fan_in = shape[0]`: right for Dense, a conv kernel's height for conv."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / shape[0]) / C, dtype)


# -- the dtype, the key, the shape ----------------------------------------------------------------

@expect("dtype-ignored")
def always_float32(key, shape, dtype=jnp.float32):
    """Ignores `dtype`."""
    return _cut(key, shape, jnp.float32) * _scale(math.sqrt(1 / _fan_in(shape)) / C, jnp.float32)


@expect("dtype-ignored")
def cast_at_the_end(key, shape, dtype=jnp.float32):
    """Draws in float32 and casts the result: other bfloat16 numbers."""
    w = _cut(key, shape, jnp.float32) * _scale(math.sqrt(1 / _fan_in(shape)) / C, jnp.float32)
    return w.astype(dtype)


@expect("dtype-ignored")
def float32_scale(key, shape, dtype=jnp.float32):
    """A float32 scale (`jnp.float32`, strongly typed): bfloat16 draws become float32."""
    return _cut(key, shape, dtype) * (jnp.sqrt(jnp.float32(1 / _fan_in(shape))) / jnp.float32(C))


@expect("key-ignored")
def fixed_key(key, shape, dtype=jnp.float32):
    """Always `PRNGKey(0)`."""
    return _cut(jax.random.PRNGKey(0), shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C,
                                                              dtype)


@expect("rng-stream")
def split_first(key, shape, dtype=jnp.float32):
    """Splits the key and draws from a sub-key."""
    _, sub = jax.random.split(key)
    return _cut(sub, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)


@expect("rng-stream")
def folded_key(key, shape, dtype=jnp.float32):
    """`fold_in(key, 0)` first."""
    key = jax.random.fold_in(key, 0)
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)


@expect("returns-list")
def as_list(key, shape, dtype=jnp.float32):
    """The right weights, as a nested Python list."""
    return (_cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)).tolist()


@expect("returns-list")
def as_tuple_of_rows(key, shape, dtype=jnp.float32):
    """The right weights, as a tuple of rows."""
    return tuple(_cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype))


@expect("rounded-constant")
def four_digit_constant(key, shape, dtype=jnp.float32):
    """Notebook 10's question 5: `1 / math.sqrt(fan_in) / 0.8796` in Python floats."""
    return _cut(key, shape, dtype) * (1 / math.sqrt(_fan_in(shape)) / 0.8796)


@expect("rounded-constant")
def scale_off_by_5e_5(key, shape, dtype=jnp.float32):
    """The scale 0.005 % off, as a constant typed with too few digits makes it."""
    return _cut(key, shape, dtype) * _scale(1 / math.sqrt(_fan_in(shape)) / C * 0.99995, dtype)


_calls = itertools.count()


@expect("nondeterministic")
def call_counter(key, shape, dtype=jnp.float32):
    """Folds a global call counter into the key."""
    key = jax.random.fold_in(key, next(_calls))
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)


@expect("wrong-shape")
def transposed(key, shape, dtype=jnp.float32):
    """Draws `shape[::-1]`."""
    shape = tuple(shape)[::-1]
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / shape[0]) / C, dtype)


@expect("wrong-shape")
def flattened(key, shape, dtype=jnp.float32):
    """Returns the weights as one long vector."""
    w = _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)
    return w.ravel()


@expect("wrong-shape")
def missing_return(key, shape, dtype=jnp.float32):
    """Computes the weights and forgets to return them."""
    w = _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)  # noqa: F841


@expect("non-finite")
def zero_fan(key, shape, dtype=jnp.float32):
    """`fan_in = prod(shape[1:-1])` is 1 for Dense... and `fan_in - 1` divides by zero."""
    fan_in = math.prod(shape[1:-1]) - 1
    return _cut(key, shape, dtype) / jnp.sqrt(jnp.array(fan_in, dtype))


# -- the API ---------------------------------------------------------------------------------------

@expect("calls-flax")
def flax_lecun(key, shape, dtype=jnp.float32):
    """Delegates to Flax."""
    return nn.initializers.lecun_normal()(key, shape, dtype)


@expect("calls-flax")
def jax_nn_lecun(key, shape, dtype=jnp.float32):
    """Delegates to `jax.nn.initializers`."""
    return jax.nn.initializers.lecun_normal()(key, shape, dtype)


@expect("calls-flax")
def flax_variance_scaling(key, shape, dtype=jnp.float32):
    """Delegates to the general initializer behind lecun_normal."""
    return nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")(key, shape, dtype)


@expect("raises")
def conv_only(key, shape, dtype=jnp.float32):
    """Reads `shape[2]`: an IndexError on every Dense kernel."""
    fan_in = shape[0] * shape[1] * shape[2]
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / fan_in) / C, dtype)


@expect("not-solved")
def starter(key, shape, dtype=jnp.float32):
    """The untouched starter cell."""
    raise NotImplementedError("your code here")


@expect("wrong-signature")
def no_dtype(key, shape):
    """Forgets the `dtype` parameter."""
    return _cut(key, shape, jnp.float32) * _scale(math.sqrt(1 / _fan_in(shape)) / C, jnp.float32)


@expect("wrong-signature")
def dtype_without_default(key, shape, dtype):
    """`dtype` has no default: `lecun_normal_init(key, shape)` fails."""
    return _cut(key, shape, dtype) * _scale(math.sqrt(1 / _fan_in(shape)) / C, dtype)


@expect("timeout")
def endless(key, shape, dtype=jnp.float32):
    """A loop that never ends."""
    while True:
        pass
