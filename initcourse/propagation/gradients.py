"""Which layers learn slowest: the weight gradients of a deep MLP at initialization.

A layer's weight gradient is ``dL/dW_l = h_{l-1}^T delta_l``, the input it received times the
gradient ``delta_l = dL/dz_l`` that came back down to it. When the forward signal shrinks going
up and the backward gradient shrinks going down, the two factors trade off and the product is
about the same at every layer (Glorot & Bengio 2010, eq. 14). :func:`gradient_stats` measures
both, on the same network, inputs and loss as :func:`initcourse.layer_stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initcourse.propagation.engine import KernelStack, Run, check_run


@dataclass(frozen=True)
class GradientStats(Run):
    """Per-layer gradients of one deep MLP at initialization (and the
    :class:`~initcourse.propagation.engine.Run`).

    Attributes:
        weight_std: shape ``(depth,)``: std of the kernel gradient ``dL/dW_l`` of each layer.
        activation_std: shape ``(depth,)``: std of ``dL/dh_l``, the gradient reaching each
            layer's output (``backward_std`` of :func:`initcourse.layer_stats`).
        forward_std: shape ``(depth,)``: std of each layer's output ``h_l``.
        input_std: shape ``(depth,)``: std of each layer's input ``h_{l-1}`` (``h_0 = x``).
    """

    weight_std: np.ndarray
    activation_std: np.ndarray
    forward_std: np.ndarray
    input_std: np.ndarray


def gradient_stats(initializer, activation: str, depth, width, *, batch=256, seed=0,
                   stddev=None) -> GradientStats:
    """Measure ``dL/dW_l`` and ``dL/dh_l`` per layer of a seeded deep MLP.

    The engine, network, inputs and loss of :func:`initcourse.layer_stats` (its arguments
    and limits): ``depth`` square layers ``h_l = activation(h_{l-1} @ W_l)`` with zero
    biases, a unit-normal batch ``x`` of shape ``(batch, width)``, and ``L = sum(h_depth * r)``
    with a unit-normal ``r``; ``dL/dW_l = h_{l-1}^T dL/dz_l``.

    Returns:
        a :class:`GradientStats` of float64 arrays of shape ``(depth,)``.
    """
    resolved, activation, depth, width, batch, seed = check_run(
        initializer, activation, depth, width, batch, seed, stddev, keep=True)
    forward, (grad_h, weight, inputs) = KernelStack(depth, width).propagate(
        resolved, activation, depth, batch=batch, seed=seed, weights=True)
    return GradientStats(weight, grad_h, forward, inputs, initializer=resolved.name,
                         activation=activation, depth=depth, width=width, batch=batch, seed=seed)
