"""How a signal and its gradient propagate through a deep MLP at initialization.

:func:`layer_stats` measures it (a seeded batch through real layers);
:func:`predicted_stats` gives the mean-field theory for wide layers. Both return
per-layer figures on the same tensors: the output ``h_l`` of each layer
(forward) and the gradient ``dL/dh_l`` that reaches it from above (backward).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate
from initcourse import initializers as _inits

#: The activations the course compares, by name.
ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "gelu")

_ACT_FNS = (lambda z: z, jax.nn.relu, jnp.tanh, jax.nn.sigmoid, nn.gelu)

MAX_DEPTH = 1000
MAX_WIDTH = 8192
MAX_BATCH = 65536
#: Bound on ``depth * width * max(width, batch)``: kernels and stored activations < 1 GiB.
MAX_ELEMENTS = 2**28


@dataclass(frozen=True)
class LayerStats:
    """Per-layer figures of one deep MLP at initialization.

    Attributes:
        forward_std: shape ``(depth,)``: std of each layer's output activations ``h_l``.
        backward_std: shape ``(depth,)``: std of the gradient ``dL/dh_l`` reaching each
            layer, for ``L = sum(h_depth * r)`` with ``r`` a unit-normal cotangent.
        initializer, activation, depth, width, batch, seed: what was measured.
    """

    forward_std: np.ndarray
    backward_std: np.ndarray
    initializer: str
    activation: str
    depth: int
    width: int
    batch: int
    seed: int | None


def _branches():
    def make(fn):
        def branch(z):
            return jax.jvp(fn, (z,), (jnp.ones_like(z),))
        return branch
    return [make(fn) for fn in _ACT_FNS]


def _std(a):
    """std of all of ``a``, exact down to float32's smallest numbers.

    ``jnp.std`` squares the values, so below about 1e-19 the squares underflow to 0 and a
    vanishing but nonzero signal would read as exactly 0. Scaling by the largest value first
    keeps the squares in range.
    """
    top = jnp.max(jnp.abs(a))
    scale = jnp.where(top > 0, top, 1.0)
    return jnp.std(a / scale) * scale


def _propagate(kernels, x, r, factor, act):
    """Forward and backward through ``depth`` layers ``h <- act(factor * h @ W_l)``."""
    branches = _branches()

    def forward(h, w):
        z = (h @ w) * factor
        a, da = jax.lax.switch(act, branches, z)
        return a, (_std(a), da)

    _, (fstd, dphi) = jax.lax.scan(forward, x, kernels)

    def backward(g, layer):
        w, da = layer
        return ((g * da) @ w.T) * factor, _std(g)

    _, bstd = jax.lax.scan(backward, r, (kernels, dphi), reverse=True)
    return fstd, bstd


@functools.partial(jax.jit, static_argnames=("batch",), donate_argnums=(0,))
def _run(unit_kernels, key, family, redraw, factor, act, *, batch):
    depth, width, _ = unit_kernels.shape
    k_w, k_x, k_r = jax.random.split(key, 3)

    def draw():
        keys = jax.random.split(k_w, depth)
        return jax.vmap(lambda k: _inits._unit_draw(family, k, (width, width)))(keys)

    kernels = jax.lax.cond(redraw, draw, lambda: unit_kernels)
    x = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    fstd, bstd = _propagate(kernels, x, r, factor, act)
    return fstd, bstd, kernels


@functools.partial(jax.jit, static_argnames=("init", "depth", "width"))
def _draw_with(init, key, *, depth, width):
    k_w = jax.random.split(key, 3)[0]
    keys = jax.random.split(k_w, depth)
    return jax.vmap(lambda k: init(k, (width, width), jnp.float32))(keys)


# One cached set of unit-variance kernels per (depth, width): changing the scale or the
# activation reuses the draws; changing the family or the seed redraws them in place.
_KERNEL_CACHE: dict[tuple[int, int], tuple[object, jax.Array]] = {}


def _resolve(initializer, stddev) -> tuple[str, Callable | None]:
    if isinstance(initializer, str):
        _inits.spec(initializer, argument="initializer")
        return initializer, None
    init = _inits.check_initializer(initializer)
    return getattr(init, "__qualname__", repr(init)), init


def layer_stats(
    initializer,
    activation: str,
    depth,
    width,
    *,
    batch=256,
    seed=0,
    stddev: float | None = None,
) -> LayerStats:
    """Push a seeded unit-variance batch through ``depth`` square layers and measure it.

    Arguments:
        initializer: a registry name (``"lecun_normal"``, ...) or any Flax initializer
            ``(key, shape, dtype) -> Array``, used for every ``(width, width)`` kernel.
        activation: one of ``ACTIVATIONS``.
        depth: number of layers, 1 to 1000.
        width: units per layer (fan-in = fan-out = width), 1 to 8192.
        batch: number of input rows (each ``N(0, 1)``), 2 to 65536.
        seed: draws the kernels, the inputs and the backward cotangent.
        stddev: for ``initializer="normal"`` only (Flax's default 0.01).

    Biases are zero. One compilation per ``(depth, width, batch)``: the initializer,
    activation and seed are runtime inputs. ``depth * width * max(width, batch)`` is at most
    ``MAX_ELEMENTS`` (2**28), so the kernels and the stored activations stay under 1 GiB.
    """
    name, init = _resolve(initializer, stddev)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=MAX_WIDTH)
    batch = _validate.integral("batch", batch, minimum=2, maximum=MAX_BATCH)
    if depth * width * max(width, batch) > MAX_ELEMENTS:
        raise ValueError(
            f"depth * width * max(width, batch) must be at most {MAX_ELEMENTS} (the kernels and "
            f"the stored activations in float32 stay under 1 GiB each); received depth={depth}, "
            f"width={width}, batch={batch}"
        )
    seed = _validate.seed(seed)
    key = jax.random.PRNGKey(seed)
    act = ACTIVATIONS.index(activation)

    if init is None:
        entry = _inits.spec(name)
        factor = _inits.unit_scale(name, width, width, stddev=_inits._stddev(name, stddev))
        family = _inits.family_index(entry.family)
        tag = (entry.family, seed)
        cached = _KERNEL_CACHE.pop((depth, width), None)
        if cached is not None and cached[0] == tag:
            buffer, redraw = cached[1], False
        else:
            buffer = cached[1] if cached else np.zeros((depth, width, width), np.float32)
            redraw = True
    else:
        if stddev is not None:
            raise ValueError("stddev only applies to initializer='normal'")
        buffer = _draw_with(init, key, depth=depth, width=width)
        factor, family, redraw, tag = 1.0, 0, False, None
        _KERNEL_CACHE.pop((depth, width), None)

    fstd, bstd, kernels = _run(
        buffer, key, jnp.int32(family), jnp.bool_(redraw), jnp.float32(factor), jnp.int32(act),
        batch=batch,
    )
    # Wait for the results before caching the kernels: a run that fails (out of memory, say)
    # must not leave a broken buffer behind for the next call at this shape.
    jax.block_until_ready((fstd, bstd, kernels))
    if tag is not None:
        _KERNEL_CACHE[(depth, width)] = (tag, kernels)
    return LayerStats(
        forward_std=np.asarray(fstd, dtype=np.float64),
        backward_std=np.asarray(bstd, dtype=np.float64),
        initializer=name, activation=activation, depth=depth, width=width,
        batch=batch, seed=seed,
    )


# -- mean-field theory --------------------------------------------------------------------

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(96)
_GH_W = _GH_W / math.sqrt(2.0 * math.pi)  # E over N(0, 1)


def _gelu(z):
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))


def _gelu_grad(z):
    c = math.sqrt(2.0 / math.pi)
    u = c * (z + 0.044715 * z**3)
    t = np.tanh(u)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * c * (1.0 + 3 * 0.044715 * z**2)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_NP_ACTS = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "gelu": (_gelu, _gelu_grad),
}


def _moments(activation: str, q: float) -> tuple[float, float, float]:
    """E[phi(z)], E[phi(z)^2], E[phi'(z)^2] for z ~ N(0, q)."""
    if activation == "linear":
        return 0.0, q, 1.0
    if activation == "relu":
        return math.sqrt(q / (2.0 * math.pi)), q / 2.0, 0.5
    phi, dphi = _NP_ACTS[activation]
    z = math.sqrt(q) * _GH_X
    return float(_GH_W @ phi(z)), float(_GH_W @ phi(z) ** 2), float(_GH_W @ dphi(z) ** 2)


def predicted_stats(initializer: str, activation: str, depth, width, *, stddev=None):
    """Mean-field prediction of :func:`layer_stats` for wide layers, or ``None``.

    Each pre-activation is treated as ``N(0, q_l)`` with
    ``q_l = width * sigma_w^2 * E[h_{l-1}^2]``; the gradient's variance follows
    ``width * sigma_w^2 * E[phi'(z_l)^2]`` per layer going down. There is no such theory
    for the constant initializers (``zeros``, ``ones``): ``None`` is returned.

    Returns:
        ``(forward_std, backward_std)``, two arrays of shape ``(depth,)``, or ``None``.
    """
    entry = _inits.spec(initializer, argument="initializer")
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=MAX_WIDTH)
    if entry.family == "constant":
        return None
    sigma2 = _inits.expected_std(initializer, width, width, stddev=stddev) ** 2
    gain = width * sigma2
    second = 1.0  # E[x^2] of the unit-normal input
    forward = np.empty(depth)
    slopes = np.empty(depth)
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            q = gain * second
            mean, second, slope = _moments(activation, q)
            forward[layer] = math.sqrt(max(second - mean**2, 0.0))
            slopes[layer] = slope
        backward = np.empty(depth)
        var = 1.0
        for layer in reversed(range(depth)):
            backward[layer] = math.sqrt(var)
            var = var * gain * slopes[layer]
    return forward, backward
