"""Normalization forgives the scale: a plain MLP ``h_l = phi(N(h_{l-1} W_l))`` with a
LayerNorm or BatchNorm ``N`` after each linear layer (at init: scale one, bias zero), its
kernels drawn at ``scale`` times He-normal's std.

``N(c z) = N(z)`` for any ``c > 0`` (up to the norm's epsilon), so the forward pass does not
see ``scale`` at all; the gradient with respect to each kernel does: it carries the norm's
``1 / c``, and the first SGD step's relative size ``|dW| / |W|`` goes as ``1 / c²``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS

NORMS = ("none", "layer", "batch")
EPSILON = 1e-5
#: Bounds on ``depth * width**2`` (the kernels) and ``depth * batch * width`` (the
#: activations the backward pass keeps): 256 MiB of float32 each at most.
MAX_WEIGHTS = MAX_ACTIVATIONS = 2**26


@dataclass(frozen=True)
class NormStats:
    """``forward_std`` ``(depth,)``: std of each layer's output; ``weight_grad_std``
    ``(depth,)``: std of ``dL/dW_l`` for ``L = sum(h_depth * r)``; ``step_ratio``
    ``(depth,)``: ``|dL/dW_l| / |W_l|``, the relative size of a unit-rate SGD step."""

    forward_std: np.ndarray
    weight_grad_std: np.ndarray
    step_ratio: np.ndarray


def _normalize(z, kind):
    axis = -1 if kind == 1 else 0  # LayerNorm: over features; BatchNorm: over the batch
    mean = jnp.mean(z, axis, keepdims=True)
    return (z - mean) * jax.lax.rsqrt(jnp.var(z, axis, keepdims=True) + EPSILON)


@functools.partial(jax.jit, static_argnames=("depth", "width", "batch", "act"))
def _run(key, scale, kind, *, depth, width, batch, act):
    k_w, k_x, k_r = jax.random.split(key, 3)
    w = jax.random.normal(k_w, (depth, width, width)) * jnp.sqrt(2.0 / width) * scale
    x = jax.random.normal(k_x, (batch, width))
    r = jax.random.normal(k_r, (batch, width))
    phi = FUNCTIONS[act].jax

    def forward(w):
        def layer(h, wl):
            z = h @ wl
            z = jax.lax.switch(kind, [lambda z: z, lambda z: _normalize(z, 1),
                                      lambda z: _normalize(z, 2)], z)
            h = phi(z)
            return h, jnp.std(h)

        h, stds = jax.lax.scan(layer, x, w)
        return jnp.sum(h * r), stds

    grads, stds = jax.grad(forward, has_aux=True)(w)
    norm = lambda a: jnp.sqrt(jnp.sum(a * a, axis=(1, 2)))  # noqa: E731
    return stds, jnp.std(grads, axis=(1, 2)), norm(grads) / norm(w)


def norm_stats(scale, *, norm="layer", depth=10, width=256, activation="relu", batch=256,
               seed=0) -> NormStats:
    """The MLP of the module's docstring at init, kernels at ``scale`` times He's std.

    Arguments:
        scale: the factor on He-normal's std, in (0, 1000].
        norm: ``"none"``, ``"layer"`` (LayerNorm) or ``"batch"`` (BatchNorm, batch statistics).
        depth: layers, 1 to 200; width: units, 2 to 2048; batch: rows, 2 to 4096;
            ``depth * width**2`` and ``depth * batch * width`` at most 2**26 each (refused
            before any work).

    A layer whose signal overflowed reads ``inf`` from there on (never NaN), and so do the
    gradients that overflowed.
    """
    scale = _validate.positive_real("scale", scale, maximum=1e3)
    kind = NORMS.index(_validate.choice("norm", norm, NORMS))
    depth = _validate.integral("depth", depth, minimum=1, maximum=200)
    width = _validate.integral("width", width, minimum=2, maximum=2048)
    batch = _validate.integral("batch", batch, minimum=2, maximum=4096)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    for name, size, bound in (("depth * width**2", depth * width**2, MAX_WEIGHTS),
                              ("depth * batch * width", depth * batch * width, MAX_ACTIVATIONS)):
        if size > bound:
            raise ValueError(f"{name} = {size:,} floats, above the bound of {bound:,} (256 MiB): "
                             f"use a smaller depth, width or batch")
    out = _run(jax.random.PRNGKey(_validate.seed(seed)), jnp.float32(scale), jnp.int32(kind),
               depth=depth, width=width, batch=batch, act=activation)
    forward, grad, ratio = (np.asarray(a, np.float64) for a in out)
    gone = np.maximum.accumulate(~np.isfinite(forward))  # inf - inf gives NaN past an overflow
    forward[gone] = np.inf
    grad[np.isnan(grad)], ratio[np.isnan(ratio)] = np.inf, np.inf
    return NormStats(forward, grad, ratio)
