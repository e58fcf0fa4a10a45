"""Dynamical isometry: singular values of deep products and of a deep network's Jacobian.

Saxe et al. (2013): a product of orthogonal matrices is orthogonal, so all its singular
values are 1 at any depth, while a product of Gaussian matrices spreads them over many
orders of magnitude. Pennington et al. (2017): the input-output Jacobian of a deep tanh
network at the critical point keeps its singular values near 1 with orthogonal weights
and a small fixed point ``q*``, and not with Gaussian weights; for ReLU no choice helps.

Everything is measured on real Flax objects: the initializers are Flax's
(``nn.initializers.normal``, ``nn.initializers.orthogonal``), the network is a stack of
``nn.Dense`` layers and the Jacobian comes from ``jax.jacfwd``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate
from initcourse import meanfield as _mf
from initcourse.activations import ACTIVATIONS

__all__ = [
    "WEIGHTS",
    "DenseStack",
    "jacobian_singular_values",
    "product_singular_values",
    "unit_stack",
]

#: The two kinds of random weights compared.
WEIGHTS = ("gaussian", "orthogonal")


def _kernel_init(weights: str, sigma_w2: float, width: int):
    """``normal(sqrt(sigma_w2 / width))`` or ``orthogonal(sqrt(sigma_w2))``: same variance."""
    if weights == "gaussian":
        return nn.initializers.normal(math.sqrt(sigma_w2 / width))
    return nn.initializers.orthogonal(math.sqrt(sigma_w2))


def product_singular_values(weights: str, *, n=100, count=30, seed=0) -> np.ndarray:
    """Singular values of the product of ``count`` random ``n x n`` matrices, descending.

    Arguments:
        weights: ``"gaussian"`` (entries ``N(0, 1/n)``, Flax's ``normal(1/sqrt(n))``) or
            ``"orthogonal"`` (Flax's ``orthogonal()``).
        n: 2 to 1000; count: 1 to 1000; seed: one key per matrix from ``PRNGKey(seed)``.

    The matrices are drawn in float32 (as a network would hold them); the product and
    its singular values are computed in float64, so tiny singular values are resolved.
    Returns shape ``(n,)``.
    """
    weights = _validate.choice("weights", weights, WEIGHTS)
    n = _validate.integral("n", n, minimum=2, maximum=1000)
    count = _validate.integral("count", count, minimum=1, maximum=1000)
    keys = jax.random.split(jax.random.PRNGKey(_validate.seed(seed)), count)
    init = _kernel_init(weights, 1.0, n)
    product = np.eye(n)
    for key in keys:
        product = np.asarray(init(key, (n, n), jnp.float32), np.float64) @ product
    return np.linalg.svd(product, compute_uv=False)


class _Layer(nn.Module):
    width: int
    activation: str
    kernel_init: object
    bias_init: object

    @nn.compact
    def __call__(self, x, _):
        dense = nn.Dense(self.width, kernel_init=self.kernel_init, bias_init=self.bias_init)
        return ACTIVATIONS[self.activation].jax(dense(x)), None


class DenseStack(nn.Module):
    """``depth`` layers of ``nn.Dense(width)``, each followed by the activation.

    The layers are one ``nn.scan`` over an ``nn.Dense`` (parameters stacked along a first
    axis of size ``depth``), so tracing and compiling do not grow with the depth.

    Attributes:
        depth, width: layers and units per layer.
        activation: a name of ``initcourse.ACTIVATIONS``.
        kernel_init, bias_init: Flax initializers for every layer.
    """

    depth: int
    width: int
    activation: str
    kernel_init: object
    bias_init: object

    @nn.compact
    def __call__(self, x):
        layers = nn.scan(_Layer, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=self.depth)
        x, _ = layers(self.width, self.activation, self.kernel_init, self.bias_init)(x, None)
        return x


# Unit-scale initializers: the scales are multiplied in at run time (one compilation per
# shape). ``normal(s)`` draws ``s * normal(1)`` and ``orthogonal(s)`` draws
# ``s * orthogonal(1)``: the same numbers.
_UNIT = {"gaussian": nn.initializers.normal(1.0), "orthogonal": nn.initializers.orthogonal()}
_UNIT_BIAS = nn.initializers.normal(1.0)
_STATIC = ("depth", "width", "activation", "weights")


def unit_stack(depth: int, width: int, activation: str, weights: str) -> DenseStack:
    """The :class:`DenseStack` with unit-scale ``weights`` kernels and ``normal(1)`` biases."""
    return DenseStack(depth, width, activation, _UNIT[weights], _UNIT_BIAS)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _spectrum(key, x, kernel_scale, bias_scale, *, depth, width, activation, weights):
    model = unit_stack(depth, width, activation, weights)
    params = jax.tree_util.tree_map_with_path(
        lambda path, v: v * (kernel_scale if path[-1].key == "kernel" else bias_scale),
        model.init(key, x),
    )
    jac = jax.jacfwd(lambda v: model.apply(params, v))(x)
    return jac


def jacobian_singular_values(activation: str, sigma_w2, sigma_b2, depth, width=200, *,
                             weights="gaussian", seed=0) -> np.ndarray:
    """Singular values of ``d output / d input`` of a :class:`DenseStack` at initialization.

    Arguments:
        activation: a name of ``initcourse.ACTIVATIONS``.
        sigma_w2, sigma_b2: kernel variance times ``width``; bias variance (biases are
            ``normal(sqrt(sigma_b2))``).
        depth: layers, 1 to 200; width: units, 2 to 1024.
        weights: ``"gaussian"`` (``normal(sqrt(sigma_w2 / width))``) or ``"orthogonal"``
            (``orthogonal(sqrt(sigma_w2))``, the same variance per entry).
        seed: draws the layers (``model.init``) and the input.

    The input has the mean square that puts every layer at the fixed point ``q*`` of
    :func:`initcourse.meanfield.fixed_point` (``q0 = (q* - sigma_b2) / sigma_w2``), where
    the mean-field theory of the spectrum applies. The Jacobian, ``(width, width)``, is
    ``jax.jacfwd`` of ``model.apply``. Returns its singular values, shape ``(width,)``,
    descending (float64). One compilation per depth, width, activation and weights.
    """
    weights = _validate.choice("weights", weights, WEIGHTS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=200)
    width = _validate.integral("width", width, minimum=2, maximum=1024)
    q_star = _mf.fixed_point(activation, sigma_w2, sigma_b2)
    sigma_w2, sigma_b2 = float(sigma_w2), float(sigma_b2)
    q0 = max(q_star - sigma_b2, 0.0) / sigma_w2
    k_params, k_x = jax.random.split(jax.random.PRNGKey(_validate.seed(seed)))
    x = jax.random.normal(k_x, (width,), jnp.float32)
    x = x / jnp.sqrt(jnp.mean(x * x)) * jnp.float32(math.sqrt(q0))
    kernel_scale = math.sqrt(sigma_w2 / width) if weights == "gaussian" else math.sqrt(sigma_w2)
    jac = _spectrum(k_params, x, jnp.float32(kernel_scale), jnp.float32(math.sqrt(sigma_b2)),
                    depth=depth, width=width, activation=activation, weights=weights)
    return np.linalg.svd(np.asarray(jac, np.float64), compute_uv=False)
