"""Which layers learn slowest: the weight gradients of a deep MLP at initialization.

A layer's weight gradient is ``dL/dW_l = h_{l-1}^T delta_l``, the input it received times the
gradient ``delta_l = dL/dz_l`` that came back down to it. When the forward signal shrinks going
up and the backward gradient shrinks going down, the two factors trade off and the product is
about the same at every layer (Glorot & Bengio 2010, eq. 14). :func:`gradient_stats` measures
both, on the same network, inputs and loss as :func:`initcourse.layer_stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS
from initcourse.initializers import check_initializer, get_initializer

#: Bound on ``depth * width * max(width, batch)``, as for :func:`initcourse.layer_stats`.
MAX_ELEMENTS = 2**26


@dataclass(frozen=True)
class GradientStats:
    """Per-layer gradients of one deep MLP at initialization.

    Attributes:
        weight_std: shape ``(depth,)``: std of the kernel gradient ``dL/dW_l`` of each layer.
        activation_std: shape ``(depth,)``: std of ``dL/dh_l``, the gradient reaching each
            layer's output (``backward_std`` of :func:`initcourse.layer_stats`).
        forward_std: shape ``(depth,)``: std of each layer's output ``h_l``.
        input_std: shape ``(depth,)``: std of each layer's input ``h_{l-1}`` (``h_0 = x``).
        initializer, activation, depth, width, batch, seed: what was measured.
    """

    weight_std: np.ndarray
    activation_std: np.ndarray
    forward_std: np.ndarray
    input_std: np.ndarray
    initializer: str
    activation: str
    depth: int
    width: int
    batch: int
    seed: int


def _std(a, axes):
    """std over ``axes``, exact for tiny values: scale by the largest first, so the squares
    of values near float32's smallest normal numbers do not flush to zero."""
    top = jnp.max(jnp.abs(a), axis=axes, keepdims=True)
    scale = jnp.where(top > 0, top, 1.0)
    return jnp.std(a / scale, axis=axes) * jnp.squeeze(scale, axis=axes)


_NAMES = tuple(ACTIVATIONS)
_FUNCTIONS = tuple(a.jax for a in ACTIVATIONS.values())


@jax.jit
def _gradients(kernels, x, r, activation):
    """One compilation per shape: the activation is a runtime index into ``_FUNCTIONS``."""
    depth = kernels.shape[0]

    def act(z):
        return jax.lax.switch(activation, _FUNCTIONS, z)
    taps = jnp.zeros((depth, *x.shape), x.dtype)  # dL/dtaps_l = dL/dh_l

    def loss(kernels, taps):
        def layer(h, w_tap):
            w, tap = w_tap
            out = act(h @ w) + tap
            return out, (h, out)

        top, (inputs, outputs) = jax.lax.scan(layer, x, (kernels, taps))
        return jnp.sum(top * r), (inputs, outputs)

    (g_w, g_h), (inputs, outputs) = jax.grad(loss, argnums=(0, 1), has_aux=True)(kernels, taps)
    return _std(g_w, (1, 2)), _std(g_h, (1, 2)), _std(outputs, (1, 2)), _std(inputs, (1, 2))


def gradient_stats(initializer, activation: str, depth, width, *, batch=256, seed=0,
                   stddev=None) -> GradientStats:
    """Measure ``dL/dW_l`` and ``dL/dh_l`` per layer of a seeded deep MLP, by ``jax.grad``.

    The network, inputs and loss are those of :func:`initcourse.layer_stats`: ``depth`` square
    layers ``h_l = activation(h_{l-1} @ W_l)`` with zero biases, a unit-normal batch
    ``x`` of shape ``(batch, width)``, and ``L = sum(h_depth * r)`` with a unit-normal
    ``r``. The kernels are drawn by the real Flax initializer, one key per layer, as
    :func:`initcourse.figures.layer_samples` draws them.

    Arguments:
        initializer: a registry name (``"he_normal"``, ...) or a Flax initializer
            ``(key, shape, dtype) -> Array``.
        activation: one of ``initcourse.activations.ACTIVATIONS``.
        depth: number of layers, >= 1.
        width: units per layer (fan_in = fan_out = width), >= 1.
        batch: number of input rows, >= 2.
        seed: draws the kernels, the inputs and ``r``.
        stddev: for ``initializer="normal"`` only.

    Returns:
        a :class:`GradientStats` of float64 arrays of shape ``(depth,)``.
    """
    if isinstance(initializer, str):
        name, init = initializer, get_initializer(initializer, stddev=stddev)
    else:
        if stddev is not None:
            raise ValueError(f"stddev only applies to initializer='normal'; received {stddev!r}")
        init = check_initializer(initializer)
        name = getattr(init, "__qualname__", repr(init))
    activation = _validate.choice("activation", activation, _NAMES)
    depth = _validate.integral("depth", depth, minimum=1)
    width = _validate.integral("width", width, minimum=1)
    batch = _validate.integral("batch", batch, minimum=2)
    seed = _validate.seed(seed)
    if depth * width * max(width, batch) > MAX_ELEMENTS:
        raise ValueError(
            f"depth * width * max(width, batch) must be at most {MAX_ELEMENTS}; received "
            f"depth={depth}, width={width}, batch={batch}"
        )
    k_w, k_x, k_r = jax.random.split(jax.random.PRNGKey(seed), 3)
    keys = jax.random.split(k_w, depth)
    # vmap draws the same numbers as one call per key. It runs eagerly: a jit per
    # initializer would compile again for every new initializer object.
    kernels = jax.vmap(lambda k: init(k, (width, width), jnp.float32))(keys)
    x = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    results = _gradients(kernels, x, r, jnp.int32(_NAMES.index(activation)))
    weight, grad_h, forward, inputs = (np.asarray(a, dtype=np.float64) for a in results)
    return GradientStats(
        weight_std=weight, activation_std=grad_h, forward_std=forward, input_std=inputs,
        initializer=name, activation=activation, depth=depth, width=width, batch=batch,
        seed=seed,
    )
