"""The mean-field prediction of :func:`initcourse.layer_stats`: the std of the signal and
of its gradient per layer of a wide MLP, from the variance recursion alone."""

from __future__ import annotations

import math

import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.initializers import Resolved, resolve, spec
from initcourse.meanfield import quadrature as qd
from initcourse.propagation.engine import MAX_DEPTH, MAX_WIDTH

__all__ = ["predicted_stats"]


def _moments(activation: str, q: float) -> tuple[float, float, float]:
    """E[phi(z)], E[phi(z)^2], E[phi'(z)^2] for z ~ N(0, q), by the mean-field quadrature
    (:mod:`~initcourse.meanfield.quadrature`; closed forms for linear and ReLU)."""
    if activation == "linear":
        return 0.0, q, 1.0
    if activation == "relu":
        return math.sqrt(q / (2.0 * math.pi)), q / 2.0, 0.5
    if not q <= qd.Q_HUGE:  # overflowed (or nan): the moments of the limit, or nan
        if activation in ("gelu", "softplus") or q != q:  # both are relu far from 0
            return _moments("relu", q)
        q = qd.Q_HUGE  # tanh and sigmoid saturate: their moments have settled long before
    z, w = qd.grid(1.0 / math.sqrt(max(q, qd.Q_TINY)))
    u = math.sqrt(q) * z
    phi, slope = FUNCTIONS[activation].numpy(u), FUNCTIONS[activation].slope(u)
    return float(w @ phi), float(w @ phi**2), float(w @ slope**2)


def predicted_stats(initializer, activation: str, depth, width, *, stddev=None):
    """Mean-field prediction of :func:`layer_stats` for wide layers: ``(forward_std,
    backward_std)`` of shape ``(depth,)``, or ``None`` for ``zeros`` and ``ones``.

    Each pre-activation is ``N(0, q_l)``, ``q_l = width * sigma_w^2 * E[h_{l-1}^2]``; the
    gradient's variance is multiplied by ``width * sigma_w^2 * E[phi'(z_l)^2]`` per layer
    going down. Arguments as :func:`layer_stats` (a registry name only, or what
    :func:`~initcourse.initializers.resolve` made of one).
    """
    resolved = resolve(initializer, stddev=stddev) if isinstance(initializer, (str, Resolved)) else None
    if resolved is None or resolved.spec is None:
        spec(initializer if resolved is None else resolved.init)  # raises: a registry name only
    entry, stddev = resolved.spec, resolved.stddev
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=MAX_WIDTH)
    if entry.family == "constant":
        return None
    gain = width * entry.std(width, width, stddev=stddev) ** 2
    second, forward, slopes = 1.0, np.empty(depth), np.empty(depth)  # E[x^2] = 1 at the input
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            mean, second, slopes[layer] = _moments(activation, gain * second)
            variance = second - mean**2 if math.isfinite(second) else math.inf
            forward[layer] = math.sqrt(max(variance, 0.0))
        backward, var = np.empty(depth), 1.0
        for layer in reversed(range(depth)):
            backward[layer], var = math.sqrt(var), var * gain * slopes[layer]
    return forward, backward
