"""Right `init_block(seed, d_model, n_head, n_layer)` of exercise 3, in several styles:
:func:`initcourse.check_block` must pass each."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.core import freeze

from initcourse.solver import init_block as answer_key
from solutions.block_common import gpt2, init

SOLUTIONS = {"answer_key": answer_key}


def register(fn):
    SOLUTIONS[fn.__name__] = fn
    return fn


@register
def shared_builder(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(int(n_layer)))


@register
def typed_key(seed, d_model, n_head, n_layer):
    """`jax.random.key`, the newer typed key."""
    return init(seed, d_model, n_head, gpt2(int(n_layer)), key=jax.random.key(int(seed)))


@register
def frozen(seed, d_model, n_head, n_layer):
    """A FrozenDict, as older Flax returned."""
    return freeze(init(seed, d_model, n_head, gpt2(int(n_layer))))


@register
def params_only(seed, d_model, n_head, n_layer):
    """The params without the outer {'params': ...}."""
    return init(seed, d_model, n_head, gpt2(int(n_layer)))["params"]


@register
def variance_scaling_proj(seed, d_model, n_head, n_layer):
    """c_proj as a variance_scaling whose variance is 0.02**2 / (2 n_layer) for any fan."""
    n = int(n_layer)
    proj = nn.initializers.variance_scaling(0.02**2 / (2 * n) * int(d_model), "fan_in", "normal")
    mlp = nn.initializers.variance_scaling(0.02**2 / (2 * n) * 4 * int(d_model), "fan_in",
                                           "normal")
    return init(seed, d_model, n_head, gpt2(n, attn_proj=proj, mlp_proj=mlp))


@register
def by_hand(seed, d_model, n_head, n_layer):
    """Draws the kernels with jax.random.normal inside custom initializers."""
    std = 0.02 / math.sqrt(2 * int(n_layer))

    def proj(key, shape, dtype=jnp.float32):
        return std * jax.random.normal(key, shape, dtype)

    def kernel(key, shape, dtype=jnp.float32):
        return 0.02 * jax.random.normal(key, shape, dtype)

    return init(seed, d_model, n_head, gpt2(int(n_layer), kernel=kernel, attn_proj=proj,
                                             mlp_proj=proj))
