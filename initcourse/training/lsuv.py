"""LSUV, layer-sequential unit-variance initialization (Mishkin & Matas, 2015).

Start from orthogonal kernels; then, layer by layer from the input up, push a batch of
real data through the network and divide the layer's kernel by the std of its output
until that output's variance is 1 within ``tolerance`` (at most ``max_iterations``
rescalings per layer). The data decide the scale, not a formula about fan-in or the
activation.

>>> result = lsuv("relu", depth=3, width=32)  # doctest: +SKIP
>>> result.variances  # each within 0.1 of 1  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.training import data as _data

#: Mishkin & Matas's choices: variance within 0.1 of 1, at most 10 rescalings per layer.
TOLERANCE = 0.1
MAX_ITERATIONS = 10


@dataclass(frozen=True)
class LSUVResult:
    """The kernels LSUV chose and how it got there.

    Attributes:
        first: ``(64, width)`` kernel of the first hidden layer.
        hidden: ``(depth - 1, width, width)`` kernels of the other hidden layers.
        variances: ``(depth,)`` variance of each layer's output (before the activation,
            the paper's B_L) on the batch, after the last rescaling.
        iterations: ``(depth,)`` rescalings each layer took.
        converged: ``(depth,)`` True where ``|variance - 1| < tolerance``.
        tolerance, activation, depth, width, seed, batch: what was run.
    """

    first: np.ndarray
    hidden: np.ndarray
    variances: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    tolerance: float
    activation: str
    depth: int
    width: int
    seed: int
    batch: int


@jax.jit
def _variance(h, kernel):
    z = h @ kernel
    return jnp.var(z), z


def lsuv(activation="relu", *, depth, width, seed=0, batch=128, tolerance=TOLERANCE,
         max_iterations=MAX_ITERATIONS, x=None) -> LSUVResult:
    """LSUV kernels for the hidden layers of :func:`initcourse.train`'s MLP.

    Arguments:
        activation: one of ``initcourse.activations.ACTIVATIONS``.
        depth: hidden layers, 1 to 200. width: units per hidden layer, 1 to 1024; at most
            ``TRAIN_MAX_WEIGHTS`` (2**25) for ``depth * width**2``, as :func:`train`.
        seed: draws the orthogonal start (same keys as ``train``) and the batch.
        batch: rows of the training digits used (ignored when ``x`` is given).
        tolerance: stop rescaling a layer when ``|Var(output) - 1| < tolerance``; in (0, 1).
        max_iterations: at most this many rescalings per layer, >= 1.
        x: optional ``(n, 64)`` inputs to use instead of a batch of the training digits.

    Returns:
        an :class:`LSUVResult`. Biases are zero; the output layer is not touched (``train``
        draws it with ``lecun_normal()``). A layer whose output is exactly 0 on the batch
        cannot be rescaled: it stays as drawn and is reported as not converged.
    """
    activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
    depth = _validate.integral("depth", depth, minimum=1, maximum=_data.TRAIN_MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=_data.TRAIN_MAX_WIDTH)
    if depth * width**2 > _data.TRAIN_MAX_WEIGHTS:
        raise ValueError(f"depth * width**2 must be at most {_data.TRAIN_MAX_WEIGHTS:,} (about 3 s of "
                         f"orthogonal draws here, as train's networks); received depth={depth}, "
                         f"width={width} ({depth * width**2:,} weights)")
    seed = _validate.seed(seed)
    tolerance = _validate.positive_real("tolerance", tolerance)
    if tolerance >= 1:
        raise ValueError(f"tolerance must be in (0, 1); received {tolerance!r}")
    max_iterations = _validate.integral("max_iterations", max_iterations, minimum=1, maximum=1000)
    if x is None:
        batch = _validate.integral("batch", batch, minimum=2,
                                   maximum=_data.digits().x_train.shape[0])
        x = _data.digits().x_train[_data.batch_order(seed, 1, batch)[0]]
    else:
        try:
            x = np.asarray(x)
        except ValueError:  # a ragged list
            raise ValueError(f"x must be an (n, {_data.FEATURES}) array of numbers; received a "
                             f"ragged sequence {_validate.shown(x)}") from None
        if x.ndim != 2 or x.shape[1] != _data.FEATURES or x.shape[0] < 2:
            raise ValueError(f"x must have shape (n >= 2, {_data.FEATURES}); received shape {x.shape}")
        if x.dtype.kind not in "iuf" or not np.all(np.isfinite(x)):
            raise ValueError(f"x must hold finite numbers; received dtype {x.dtype}")
        batch = x.shape[0]
    act = FUNCTIONS[activation].jax
    first, hidden = _data.hidden_kernels(nn.initializers.orthogonal(), depth=depth, width=width,
                                         seed=seed)
    kernels = [first, *hidden]
    variances, iterations = np.zeros(depth), np.zeros(depth, int)
    h = jnp.asarray(x, jnp.float32)
    for layer in range(depth):
        kernel = kernels[layer]
        var, z = _variance(h, kernel)
        var = float(var)
        while abs(var - 1.0) >= tolerance and iterations[layer] < max_iterations and var > 0:
            if not np.isfinite(var):
                break
            kernel = kernel / jnp.sqrt(var)
            iterations[layer] += 1
            var, z = _variance(h, kernel)
            var = float(var)
        kernels[layer], variances[layer] = kernel, var
        h = act(z)
    converged = np.abs(variances - 1.0) < tolerance
    hidden = np.stack([np.asarray(k) for k in kernels[1:]]) if depth > 1 else np.zeros((0, width, width),
                                                                                       np.float32)
    return LSUVResult(np.asarray(kernels[0]), hidden, variances, iterations, converged, tolerance,
                      activation, depth, width, seed, batch)
