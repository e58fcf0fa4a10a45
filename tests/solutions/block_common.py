"""A pre-LN block with every initializer a parameter: the corpora of exercise 3 write their
attempts with it, each changing one thing (as a learner's attempt does)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn

normal, zeros, ones = nn.initializers.normal, nn.initializers.zeros, nn.initializers.ones


def gpt2(n_layer, **changes):
    """GPT-2's initializers for a model of ``n_layer`` blocks, with ``changes``."""
    inits = {"kernel": normal(0.02), "attn_proj": normal(0.02 / math.sqrt(2 * n_layer)),
             "mlp_proj": normal(0.02 / math.sqrt(2 * n_layer)), "bias": zeros,
             "ln_scale": ones, "ln_bias": zeros, "dtype": jnp.float32,
             "qkv": "c_attn", "fc": 4}
    inits.update(changes)
    return inits


def _dense(i, features, init, name):
    return nn.Dense(features, kernel_init=init, bias_init=i["bias"], param_dtype=i["dtype"],
                    name=name)


class Attn(nn.Module):
    n_head: int
    inits: dict

    @nn.compact
    def __call__(self, x):
        i, (batch, steps, d) = self.inits, x.shape
        qkv = _dense(i, 3 * d, i["kernel"], i["qkv"])(x)
        q, k, v = (a.reshape(batch, steps, self.n_head, d // self.n_head).transpose(0, 2, 1, 3)
                   for a in jnp.split(qkv, 3, axis=-1))
        att = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // self.n_head), -1)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(batch, steps, d)
        return _dense(i, d, i["attn_proj"], "c_proj")(y)


class Mlp(nn.Module):
    inits: dict

    @nn.compact
    def __call__(self, x):
        i, d = self.inits, x.shape[-1]
        h = nn.gelu(_dense(i, i["fc"] * d, i["kernel"], "c_fc")(x))
        return _dense(i, d, i["mlp_proj"], "c_proj")(h)


class Block(nn.Module):
    n_head: int
    inits: dict

    @nn.compact
    def __call__(self, x):
        i = self.inits
        ln = dict(epsilon=1e-5, scale_init=i["ln_scale"], bias_init=i["ln_bias"],
                  param_dtype=i["dtype"])
        x = x + Attn(self.n_head, i, name="attn")(nn.LayerNorm(name="ln_1", **ln)(x))
        return x + Mlp(i, name="mlp")(nn.LayerNorm(name="ln_2", **ln)(x))


def init(seed, d_model, n_head, inits, key=None):
    """``Block.init`` from ``PRNGKey(int(seed))`` (or ``key``) on a ``(1, 8, d_model)`` input."""
    key = jax.random.PRNGKey(int(seed)) if key is None else key
    return Block(int(n_head), inits).init(key, jnp.zeros((1, 8, int(d_model))))
