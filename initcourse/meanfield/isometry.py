"""Dynamical isometry: singular values of deep products and of a deep network's Jacobian.

Saxe et al. (2013): a product of orthogonal matrices is orthogonal, so all its singular
values are 1 at any depth, while a product of Gaussian matrices spreads them over many
orders of magnitude. Pennington et al. (2017): the input-output Jacobian of a deep tanh
network at the critical point keeps its singular values near 1 with orthogonal weights
and a small fixed point ``q*``, and not with Gaussian weights; for ReLU no choice helps.

Everything is measured on real Flax objects: the initializers are Flax's
(``nn.initializers.normal``, ``nn.initializers.orthogonal``), every layer is applied by
``nn.Dense.apply`` and the Jacobian comes from ``jax.jacfwd``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from threadpoolctl import threadpool_limits

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.meanfield import maps as _mf

__all__ = [
    "WEIGHTS",
    "draw_layers",
    "jacobian_singular_values",
    "product_singular_values",
    "stack_apply",
]

#: The two kinds of random weights compared.
WEIGHTS = ("gaussian", "orthogonal")
#: The most work :func:`product_singular_values` does in one call, ``count * n**3``.
PRODUCT_BUDGET = 2**35

# QR and SVD of these small matrices run in OpenBLAS (NumPy's, and JAX's LAPACK kernels on
# the CPU). Its threads spin while waiting for each other: on a busy 2-core machine one
# 100 x 100 QR measured 0.7 s with them and 1 ms on one thread. One thread, within these
# calls only (the limit is lifted on the way out).
_ONE_THREAD = {"limits": 1, "user_api": "blas"}


@functools.partial(jax.jit, static_argnames=("weights", "width"))
def _draw_kernel(key, scale, *, weights: str, width: int):
    # One (width, width) kernel from Flax's initializer at unit scale, times ``scale``:
    # ``normal(s)`` draws ``s * normal(1)`` and ``orthogonal(s)`` ``s * orthogonal(1)``.
    init = nn.initializers.normal(1.0) if weights == "gaussian" else nn.initializers.orthogonal()
    return init(key, (width, width), jnp.float32) * scale


def product_singular_values(weights: str, *, n=100, count=30, seed=0) -> np.ndarray:
    """Singular values of the product of ``count`` random ``n x n`` matrices, descending.

    Arguments:
        weights: ``"gaussian"`` (entries ``N(0, 1/n)``: Flax's ``normal(1/sqrt(n))``) or
            ``"orthogonal"`` (Flax's ``orthogonal()``).
        n: 2 to 1000; count: 1 to 1000, with ``count * n**3`` at most :data:`PRODUCT_BUDGET`
            (2**35: 30 products of 1000 x 1000 take 1.7 s, orthogonal 2.6 s, on the course's
            2-core machine); seed: one key per matrix from ``PRNGKey(seed)``.

    The matrices are drawn in float32 (as a network would hold them); the product and
    its singular values are computed in float64, so tiny singular values are resolved.
    Returns shape ``(n,)``.
    """
    weights = _validate.choice("weights", weights, WEIGHTS)
    n = _validate.integral("n", n, minimum=2, maximum=1000)
    count = _validate.integral("count", count, minimum=1, maximum=1000)
    if count * n**3 > PRODUCT_BUDGET:
        raise ValueError(f"count * n**3 must be at most 2**35 ({PRODUCT_BUDGET:.3g}, a few seconds "
                         f"here); received n={n}, count={count} ({count * n**3:.3g})")
    keys = jax.random.split(jax.random.PRNGKey(_validate.seed(seed)), count)
    scale = jnp.float32(1.0 / math.sqrt(n) if weights == "gaussian" else 1.0)
    product = np.eye(n)
    with threadpool_limits(**_ONE_THREAD):
        for key in keys:
            kernel = _draw_kernel(key, scale, weights=weights, width=n)
            product = np.asarray(kernel, np.float64) @ product
        return np.linalg.svd(product, compute_uv=False)


def draw_layers(weights: str, sigma_w2, sigma_b2, depth, width, *, seed=0) -> dict:
    """The kernels and biases of ``depth`` layers, as Flax's initializers draw them.

    Kernels: ``normal(sqrt(sigma_w2 / width))`` or ``orthogonal(sqrt(sigma_w2))``, one key
    per layer; biases: ``normal(sqrt(sigma_b2))``. Returns ``{"kernel": (depth, width,
    width), "bias": (depth, width)}``. Layer ``l`` does not depend on ``depth``: a deeper
    stack with the same seed starts with the same layers.
    """
    weights = _validate.choice("weights", weights, WEIGHTS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=200)
    width = _validate.integral("width", width, minimum=2, maximum=1024)
    sigma_w2 = _validate.positive_real("sigma_w2", sigma_w2, maximum=_mf.MAX_VARIANCE)
    sigma_b2 = _validate.positive_real("sigma_b2", sigma_b2, allow_zero=True, maximum=_mf.MAX_VARIANCE)
    k_kernels, k_biases = jax.random.split(jax.random.PRNGKey(_validate.seed(seed)))
    scale = math.sqrt(sigma_w2 / width) if weights == "gaussian" else math.sqrt(sigma_w2)
    # One compiled draw per shape, called per layer: Flax's orthogonal() under vmap or
    # inside a scan runs XLA's slow generic QR (seconds per matrix here), not LAPACK's.
    with threadpool_limits(**_ONE_THREAD):
        kernels = [_draw_kernel(jax.random.fold_in(k_kernels, layer), jnp.float32(scale),
                                weights=weights, width=width) for layer in range(depth)]
        kernels = jax.block_until_ready(jnp.stack(kernels))
    bias_init = nn.initializers.normal(math.sqrt(sigma_b2))
    biases = jax.vmap(lambda k: bias_init(k, (width,), jnp.float32))(
        jax.random.split(k_biases, 200)[:depth])
    return {"kernel": kernels, "bias": biases}




@jax.jit
def stack_apply(layers: dict, x, act):
    """``x`` through the layers: ``nn.Dense(width).apply`` with each kernel and bias, then
    the activation ``ACTIVATIONS[act]`` (an index: one compilation for every activation)."""
    dense = nn.Dense(x.shape[-1])
    branches = [FUNCTIONS[name].jax for name in ACTIVATIONS]

    def layer(h, params):
        return jax.lax.switch(act, branches, dense.apply({"params": params}, h)), None

    out, _ = jax.lax.scan(layer, x, layers)
    return out


@jax.jit
def _jacobian(layers, x, act):
    return jax.jacfwd(lambda v: stack_apply(layers, v, act))(x)


def jacobian_singular_values(activation: str, sigma_w2, sigma_b2, depth, width=200, *,
                             weights="gaussian", seed=0) -> np.ndarray:
    """Singular values of ``d output / d input`` of a deep ``nn.Dense`` stack at initialization.

    Arguments:
        activation: a name of ``initcourse.ACTIVATIONS``.
        sigma_w2, sigma_b2: kernel variance times ``width``; bias variance.
        depth: layers, 1 to 200; width: units, 2 to 1024.
        weights: ``"gaussian"`` (``normal(sqrt(sigma_w2 / width))``) or ``"orthogonal"``
            (``orthogonal(sqrt(sigma_w2))``, the same variance per entry); see
            :func:`draw_layers`.
        seed: draws the layers (:func:`draw_layers`) and the input (from
            ``fold_in(PRNGKey(seed), 2**31)``).

    The input has the mean square that puts every layer at the fixed point ``q*`` of
    :func:`initcourse.meanfield.maps.fixed_point` (``q0 = (q* - sigma_b2) / sigma_w2``), where
    the mean-field theory of the spectrum applies. The Jacobian, ``(width, width)``, is
    ``jax.jacfwd`` of :func:`stack_apply`. Returns its singular values, shape ``(width,)``,
    descending (float64). One compilation per ``(depth, width)``.
    """
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    q_star = _mf.fixed_point(activation, sigma_w2, sigma_b2)
    layers = draw_layers(weights, sigma_w2, sigma_b2, depth, width, seed=seed)
    q0 = max(q_star - float(sigma_b2), 0.0) / float(sigma_w2)
    # The input's key is folded from the seed's (adding 1 to the seed would wrap 2**32 - 1
    # onto 0 and share its keys with another seed's layers).
    x_key = jax.random.fold_in(jax.random.PRNGKey(_validate.seed(seed)), 2**31)
    x = jax.random.normal(x_key, (width,), jnp.float32)
    x = x / jnp.sqrt(jnp.mean(x * x)) * jnp.float32(math.sqrt(q0))
    jac = _jacobian(layers, x, jnp.int32(ACTIVATIONS.index(activation)))
    with threadpool_limits(**_ONE_THREAD):
        return np.linalg.svd(np.asarray(jac, np.float64), compute_uv=False)
