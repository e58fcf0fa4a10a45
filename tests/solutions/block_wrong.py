"""Wrong `init_block(seed, d_model, n_head, n_layer)` of exercise 3, each with the mistake
codes :func:`initcourse.check_block` must report, exactly and in this order."""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from solutions.block_common import Block, gpt2, init, normal, ones, zeros

SOLUTIONS = {}


def expect(*codes):
    def register(fn):
        fn.expected = codes
        SOLUTIONS[fn.__name__] = fn
        return fn

    return register


@expect("residual-unscaled")
def residual_unscaled(seed, d_model, n_head, n_layer):
    """Both c_proj at 0.02, like every other kernel."""
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=normal(0.02), mlp_proj=normal(0.02)))


@expect("residual-scale")
def sqrt_n_layer(seed, d_model, n_head, n_layer):
    """0.02 / sqrt(n_layer): forgot that each block adds twice."""
    s = normal(0.02 / math.sqrt(n_layer))
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=s, mlp_proj=s))


@expect("residual-scale")
def only_mlp_scaled(seed, d_model, n_head, n_layer):
    """Scales the MLP's c_proj only."""
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=normal(0.02)))


@expect("residual-scale")
def hard_coded_twelve(seed, d_model, n_head, n_layer):
    """GPT-2 small's 12 written in: right at n_layer=12 only."""
    s = normal(0.02 / math.sqrt(2 * 12))
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=s, mlp_proj=s))


@expect("fixed-std")
def flax_defaults(seed, d_model, n_head, n_layer):
    """nn.Dense's default kernel_init everywhere (lecun_normal)."""
    lecun = nn.initializers.lecun_normal()
    return init(seed, d_model, n_head, gpt2(n_layer, kernel=lecun, attn_proj=lecun, mlp_proj=lecun))


@expect("fixed-std")
def std_point_two(seed, d_model, n_head, n_layer):
    """0.2 for a 0.02."""
    return init(seed, d_model, n_head, gpt2(n_layer, kernel=normal(0.2)))


@expect("distribution")
def truncated(seed, d_model, n_head, n_layer):
    """truncated_normal(0.02) and truncated_normal(0.02 / sqrt(2 L)): cut, not rescaled."""
    t = nn.initializers.truncated_normal
    s = t(0.02 / math.sqrt(2 * n_layer))
    return init(seed, d_model, n_head, gpt2(n_layer, kernel=t(0.02), attn_proj=s, mlp_proj=s))


@expect("distribution")
def uniform_same_std(seed, d_model, n_head, n_layer):
    """A uniform of std 0.02 for c_attn and c_fc."""
    def uniform(key, shape, dtype=jnp.float32):
        a = 0.02 * math.sqrt(3)
        return jax.random.uniform(key, shape, dtype, -a, a)

    return init(seed, d_model, n_head, gpt2(n_layer, kernel=uniform))


@expect("distribution")
def off_centre(seed, d_model, n_head, n_layer):
    """A normal of std 0.02 shifted by 0.005."""
    def shifted(key, shape, dtype=jnp.float32):
        return 0.005 + 0.02 * jax.random.normal(key, shape, dtype)

    return init(seed, d_model, n_head, gpt2(n_layer, kernel=shifted))


@expect("bias-nonzero")
def random_biases(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(n_layer, bias=normal(0.02)))


@expect("layernorm-init")
def layernorm_zero_scale(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(n_layer, ln_scale=zeros))


@expect("layernorm-init")
def layernorm_bias_one(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(n_layer, ln_bias=ones))


@expect("zero-branch")
def zero_projections(seed, d_model, n_head, n_layer):
    """Both c_proj at zero (SkipInit's scheme, not GPT-2's)."""
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=zeros, mlp_proj=zeros))


@expect("seed-not-cast")
def seed_not_cast(seed, d_model, n_head, n_layer):
    return init(0, d_model, n_head, gpt2(n_layer), key=jax.random.PRNGKey(seed))


@expect("seed-ignored")
def fixed_key(seed, d_model, n_head, n_layer):
    return init(0, d_model, n_head, gpt2(n_layer))


@expect("nondeterministic")
def numpy_draws(seed, d_model, n_head, n_layer):
    """Kernels from np.random: a new draw at every call."""
    def draws(std):
        def init_(key, shape, dtype=jnp.float32):
            return jnp.asarray(np.random.normal(0, std, shape), dtype)
        return init_

    s = draws(0.02 / math.sqrt(2 * n_layer))
    return init(seed, d_model, n_head, gpt2(n_layer, kernel=draws(0.02), attn_proj=s, mlp_proj=s))


@expect("tree")
def renamed_qkv(seed, d_model, n_head, n_layer):
    """c_attn named qkv."""
    return init(seed, d_model, n_head, gpt2(n_layer, qkv="qkv"))


@expect("tree")
def mlp_twice_wide(seed, d_model, n_head, n_layer):
    """c_fc with 2 * d_model outputs."""
    return init(seed, d_model, n_head, gpt2(n_layer, fc=2))


@expect("dtype")
def bfloat16_params(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(n_layer, dtype=jnp.bfloat16))


@expect("wrong-type")
def returns_module(seed, d_model, n_head, n_layer):
    return Block(int(n_head), gpt2(n_layer))


@expect("raises")
def shape_error(seed, d_model, n_head, n_layer):
    return Block(int(n_head), gpt2(n_layer)).init(jax.random.PRNGKey(int(seed)),
                                                   jnp.zeros((1, 8, int(d_model) + 1)))


@expect("not-solved")
def starter(seed, d_model, n_head, n_layer):
    raise NotImplementedError("your code here: return GPT-2's initializer for c_attn and c_fc")


@expect("timeout")
def sleeps(seed, d_model, n_head, n_layer):
    time.sleep(30)


@expect("residual-unscaled", "bias-nonzero")
def two_mistakes(seed, d_model, n_head, n_layer):
    return init(seed, d_model, n_head, gpt2(n_layer, attn_proj=normal(0.02), mlp_proj=normal(0.02),
                                             bias=normal(0.01)))
