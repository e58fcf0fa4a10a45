"""The answer keys of the course's three exercises.

- Exercise 1, a Dense layer with explicit initializers: :class:`LecunDense` and :func:`solve`
  (Flax Linen), :func:`solve_nnx` (Flax NNX).
- Exercise 2, a custom initializer: :func:`lecun_normal_init`, ``lecun_normal()`` rebuilt
  from ``jax.random`` alone.
- Exercise 3, GPT-2's initialization of a pre-LN transformer block: :class:`Block` (with
  :class:`CausalSelfAttention` and :class:`MLP`) and :func:`init_block`.

Nothing else in the package imports this module when ``initcourse`` is imported: the checks
load it when they run, so that grading can replace it by a stub.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from initcourse.arguments import block_arguments, initializer_arguments, solve_arguments


class LecunDense(nn.Module):
    """A Dense layer with a ``lecun_normal()`` kernel and a zero bias.

    Attributes:
        features: number of outputs.
    """

    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(
            self.features,
            kernel_init=nn.initializers.lecun_normal(),
            bias_init=nn.initializers.zeros,
        )(x)


def solve(seed, x, features) -> jax.Array:
    """Initialise ``LecunDense(int(features))`` from ``PRNGKey(int(seed))`` and apply it to ``x``.

    Arguments:
        seed: a whole number, usually passed as a float (``42.0``).
        x: 1-D numeric array, shape ``(fan_in,)``.
        features: a whole number >= 1, possibly passed as a float.

    Returns:
        a 1-D float32 array of shape ``(features,)``.
    """
    seed, x, features = solve_arguments(seed, x, features)  # clear errors for bad arguments
    model = LecunDense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x)
    return model.apply(params, x)


def solve_nnx(seed, x, features) -> jax.Array:
    """The same layer written with Flax NNX: ``nnx.Linear`` drawn from ``nnx.Rngs(int(seed))``.

    Same arguments and result as :func:`solve`; the numbers differ from Linen's, because NNX
    draws its keys from a counter rather than from the module's path.
    """
    seed, x, features = solve_arguments(seed, x, features)  # clear errors for bad arguments
    layer = nnx.Linear(
        x.shape[0],
        features,
        kernel_init=nnx.initializers.lecun_normal(),
        bias_init=nnx.initializers.zeros,
        rngs=nnx.Rngs(seed),
    )
    return layer(x)


def lecun_normal_init(key, shape, dtype=jnp.float32) -> jax.Array:
    """``nn.initializers.lecun_normal()`` from ``jax.random`` alone, equal bit for bit.

    A standard normal cut at -2 and 2 has std 0.87962566103423978: dividing by it makes the
    variance ``1 / fan_in``, where ``fan_in`` is every axis but the last (a conv kernel's
    receptive field times its input channels).

    Arguments:
        key: a JAX key (``jax.random.key(n)`` or ``jax.random.PRNGKey(n)``).
        shape: the kernel's shape, at least 2-D, e.g. ``(fan_in, features)`` or
            ``(3, 3, in_channels, out_channels)``.
        dtype: a float dtype.

    Returns:
        an array of ``shape`` and ``dtype``.
    """
    key, shape, dtype = initializer_arguments(key, shape, dtype)  # clear errors
    fan_in = math.prod(shape[:-1])
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(0.87962566103423978, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std


# -- Exercise 3 --------------------------------------------------------------------------
#: GPT-2's std for every kernel and embedding (Radford et al. 2019; nanoGPT's _init_weights).
GPT2_STD = 0.02


def gpt2_proj_init(n_layer: int):
    """The ``c_proj`` kernels' initializer: normal(0.02 / sqrt(2 * n_layer)). Each block
    adds to the residual stream twice (attention, then the MLP), so ``2 * n_layer`` branch
    outputs sum up; each one's variance is divided by that count."""
    return nn.initializers.normal(GPT2_STD / math.sqrt(2 * n_layer))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, nanoGPT's ``c_attn`` (d -> 3d) and ``c_proj``."""

    n_head: int
    n_layer: int

    @nn.compact
    def __call__(self, x):
        batch, steps, d = x.shape
        qkv = nn.Dense(3 * d, kernel_init=nn.initializers.normal(GPT2_STD),
                       bias_init=nn.initializers.zeros, name="c_attn")(x)
        q, k, v = (a.reshape(batch, steps, self.n_head, d // self.n_head).transpose(0, 2, 1, 3)
                   for a in jnp.split(qkv, 3, axis=-1))
        logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // self.n_head)
        mask = jnp.tril(jnp.ones((steps, steps), bool))
        att = jax.nn.softmax(jnp.where(mask, logits, -jnp.inf), axis=-1)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(batch, steps, d)
        return nn.Dense(d, kernel_init=gpt2_proj_init(self.n_layer),
                        bias_init=nn.initializers.zeros, name="c_proj")(y)


class MLP(nn.Module):
    """nanoGPT's MLP: ``c_fc`` (d -> 4d), GELU, ``c_proj`` (4d -> d)."""

    n_layer: int

    @nn.compact
    def __call__(self, x):
        d = x.shape[-1]
        h = nn.Dense(4 * d, kernel_init=nn.initializers.normal(GPT2_STD),
                     bias_init=nn.initializers.zeros, name="c_fc")(x)
        return nn.Dense(d, kernel_init=gpt2_proj_init(self.n_layer),
                        bias_init=nn.initializers.zeros, name="c_proj")(nn.gelu(h))


class Block(nn.Module):
    """A pre-LN transformer block with GPT-2's initialization: ``x + attn(ln_1(x))``, then
    ``+ mlp(ln_2(x))``; LayerNorms start at scale one, bias zero (Flax's default)."""

    n_head: int
    n_layer: int

    @nn.compact
    def __call__(self, x):
        x = x + CausalSelfAttention(self.n_head, self.n_layer, name="attn")(
            nn.LayerNorm(epsilon=1e-5, name="ln_1")(x))
        return x + MLP(self.n_layer, name="mlp")(nn.LayerNorm(epsilon=1e-5, name="ln_2")(x))


def init_block(seed, d_model, n_head, n_layer):
    """What ``Block(n_head, n_layer).init`` returns from ``PRNGKey(int(seed))`` for an input
    of shape ``(1, 8, d_model)``: ``{"params": {"ln_1": ..., "attn": ..., "ln_2": ...,
    "mlp": ...}}``.

    Arguments:
        seed: a whole number, often passed as a float (``42.0``).
        d_model: the stream's width, a multiple of ``n_head``.
        n_head: the number of attention heads.
        n_layer: how many blocks the whole model has (it sets the ``c_proj`` scale).
    """
    seed, d_model, n_head, n_layer = block_arguments(seed, d_model, n_head, n_layer)
    block = Block(n_head=n_head, n_layer=n_layer)
    return block.init(jax.random.PRNGKey(seed), jnp.zeros((1, 8, d_model)))
