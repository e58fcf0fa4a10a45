"""Mean-field theory of a deep network at initialization: lengths, correlations, chaos.

For a wide MLP ``h_l = phi(h_{l-1}) @ W_l + b_l`` with weights ``N(0, sigma_w2 / width)``
and biases ``N(0, sigma_b2)``, each pre-activation is Gaussian over the draws of the
weights (Poole et al. 2016, Schoenholz et al. 2017). Two numbers per layer describe two
inputs: their length ``q_l`` (the mean square of a pre-activation) and the correlation
``c_l`` of their pre-activations. They follow two maps::

    q_{l+1} = sigma_w2 * E[phi(sqrt(q_l) z)^2] + sigma_b2                 (length map)
    c_{l+1} = (sigma_w2 * E[phi(u_1) phi(u_2)] + sigma_b2) / q_{l+1}       (correlation map)

with ``z ~ N(0, 1)`` and ``(u_1, u_2)`` Gaussian, variances ``q_l``, correlation ``c_l``.
The length settles at ``q*`` (:func:`fixed_point`); ``chi1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``
(:func:`chi1`) decides whether nearby inputs converge (ordered, < 1) or fly apart
(chaotic, > 1); :func:`edge_of_chaos` is the line ``chi1 = 1`` and :func:`depth_scales`
the numbers of layers over which lengths and correlations forget the input.

Pure functions of numbers, NumPy float64 only; every Gaussian expectation goes through the
one quadrature of :mod:`initcourse.meanfield.quadrature`. The edge of chaos itself (the line
``chi1 = 1``) is :mod:`initcourse.meanfield.edge`.

``_mean_square``, ``_settled_length`` and ``_layer_chi1`` take an activation's table
entry and checked numbers: the building blocks :mod:`initcourse.meanfield.edge` shares
(private to the room, not the learner-facing API).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.meanfield import quadrature as qd

__all__ = [
    "CRITICAL_TOLERANCE",
    "DepthScales",
    "MAX_VARIANCE",
    "PHASES",
    "LayerCorrelations",
    "chi1",
    "correlation_by_layer",
    "correlation_map",
    "depth_scales",
    "fixed_point",
    "length_map",
    "phase",
]

#: Largest sigma_w2 and sigma_b2 the functions accept.
MAX_VARIANCE = 1000.0
#: The most values one call maps (``correlation_map``'s ``c``): 10,000 take about 2 s on the
#: course's 2-core machine (a pair quadrature each, 0.2 ms).
MAX_POINTS = 10_000
_POINTS_WHY = " (each is a Gaussian pair integral: 10,000 take about 2 s)"
#: ``|chi1 - 1| <= CRITICAL_TOLERANCE`` reads "critical": correlations then survive more
#: than 99 layers (``xi_c >= -1 / ln 0.99``), deeper than any stack in the course.
CRITICAL_TOLERANCE = 0.01
#: What :func:`phase` answers.
PHASES = ("ordered", "critical", "chaotic", "exploding")


_NOISE = 1e-12  # |q_map(q) / q - 1| below this is quadrature noise, not a direction
_SNAP = 1e-9  # |chi - 1| below this is the critical line itself: depth scale infinite


def _args(activation, sigma_w2, sigma_b2):
    activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
    sigma_w2 = _validate.real("sigma_w2", sigma_w2, maximum=MAX_VARIANCE)
    if sigma_w2 <= 0:
        raise ValueError(
            f"sigma_w2 (the weights' variance times width) must be > 0; received {sigma_w2!r}"
        )
    sigma_b2 = _validate.real("sigma_b2", sigma_b2, minimum=0.0, maximum=MAX_VARIANCE)
    return FUNCTIONS[activation], sigma_w2, sigma_b2


# -- the length map and its fixed point --------------------------------------------------------


def _mean_square(act, q: float) -> float:
    """``E[phi(sqrt(q) z)^2] / q`` (its limit at q = 0)."""
    psi = qd.scaled(act.numpy, q)
    z, w = qd.grid(1.0 / math.sqrt(max(q, qd.Q_TINY)))
    return float(w @ psi(z) ** 2)


def length_map(activation: str, sigma_w2, sigma_b2, q) -> float:
    """``q_{l+1} = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``: the next layer's length."""
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = qd.check_q(q)
    return sigma_w2 * q * _mean_square(act, q) + sigma_b2




def _settled_length(act, sigma_w2: float, sigma_b2: float, q0: float) -> float:
    """The limit of the length map's iterates from ``q0``; ``inf`` if they grow forever."""

    def excess(t):  # q_map(q) / q - 1 at q = e**t: > 0 where the length grows
        q = math.exp(t)
        return sigma_w2 * _mean_square(act, q) + sigma_b2 / q - 1.0

    inside = math.log(max(q0, qd.Q_TINY))
    h_in = excess(inside)
    if abs(h_in) <= _NOISE:
        return q0
    step = math.log(1e3) if h_in > 0 else -math.log(1e3)
    while True:
        outside = inside + step
        if outside > math.log(qd.Q_HUGE):
            return math.inf
        if outside < math.log(qd.Q_TINY):
            return 0.0
        h_out = excess(outside)
        if (step > 0 and h_out < -_NOISE) or (step < 0 and h_out > _NOISE):
            break
        inside, h_in = outside, h_out
    return math.exp(qd.illinois(excess, inside, outside, h_in, h_out, tol=1e-13))


def _q_star(act, sigma_w2, sigma_b2, q0=1.0) -> float:
    q = _settled_length(act, sigma_w2, sigma_b2, q0)
    if math.isinf(q):
        raise ValueError(
            f"no fixed point q*: with activation {act.name!r}, sigma_w2={sigma_w2:g} and "
            f"sigma_b2={sigma_b2:g} the length q grows without bound from layer to layer "
            f"(lower sigma_w2; phase 'exploding')"
        )
    return q


def fixed_point(activation: str, sigma_w2, sigma_b2, *, q0=1.0) -> float:
    """The length ``q*`` that deep layers settle at: the fixed point of the length map.

    Arguments:
        activation: a name of ``initcourse.ACTIVATIONS``.
        sigma_w2: the weights' variance times ``width`` (1 for LeCun), > 0.
        sigma_b2: the biases' variance, >= 0.
        q0: the length the iteration starts from (the first layer's); it matters only
            where every length is a fixed point (ReLU with ``sigma_w2 = 2``,
            ``sigma_b2 = 0`` keeps ``q0``).

    Raises ``ValueError`` where the length grows without bound (ReLU with
    ``sigma_w2 > 2``, say). A ``q*`` below about 1e-12 times ``q0`` is returned as 0
    (the iteration then creeps towards 0 as ``1 / depth``).
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q0 = _validate.real("q0", q0, minimum=0.0, maximum=qd.Q_HUGE)
    return _q_star(act, sigma_w2, sigma_b2, q0)


def _layer_chi1(act, sigma_w2, q) -> float:
    z, w = qd.grid(1.0 / math.sqrt(max(q, qd.Q_TINY)))
    return sigma_w2 * float(w @ act.slope(math.sqrt(q) * z) ** 2)


def chi1(activation: str, sigma_w2, sigma_b2) -> float:
    """``sigma_w2 E[phi'(sqrt(q*) z)^2]``: how much a layer stretches a small change.

    Below 1 nearby inputs converge layer after layer (the ordered phase), above 1 they
    fly apart (chaos); 1 is the edge of chaos. It is also the factor by which the mean
    square gradient grows per layer going down. Tanh with ``sigma_w2=1, sigma_b2=0.05``
    gives 0.759 (notebook 11 and ``tests/meanfield/test_meanfield.py`` check it).
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    return _layer_chi1(act, sigma_w2, _q_star(act, sigma_w2, sigma_b2))


def phase(activation: str, sigma_w2, sigma_b2) -> str:
    """``"ordered"``, ``"critical"``, ``"chaotic"`` or ``"exploding"`` (no fixed point q*).

    Critical means ``|chi1 - 1| <= CRITICAL_TOLERANCE``.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = _settled_length(act, sigma_w2, sigma_b2, 1.0)
    if math.isinf(q):
        return "exploding"
    chi = _layer_chi1(act, sigma_w2, q)
    if abs(chi - 1.0) <= CRITICAL_TOLERANCE:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


# -- the correlation map ----------------------------------------------------------------------


def _cross(act, q: float, c: float, slope: bool = False) -> float:
    """``E[psi(u_1) psi(u_2)]`` for ``psi = phi(.)/sqrt(q)`` (or ``phi'``), variances ``q``."""
    q = max(q, qd.Q_TINY)
    root = math.sqrt(q)
    fn = act.slope if slope else act.numpy
    scale = 1.0 if slope else root
    return qd.pair(lambda z: fn(root * z) / scale, lambda z: fn(root * z) / scale, root, c)


def _c_map(act, sigma_w2, sigma_b2, q: float, c: float) -> float:
    """``c_{l+1}`` from ``(q_l, c_l)``: bias and weights both add to the shared part."""
    q_eff = max(q, qd.Q_TINY)
    num = sigma_w2 * _cross(act, q, c) + sigma_b2 / q_eff
    # The same pair rule at c = 1 (not the finer single rule): f(1) = 1 to the last digit.
    den = sigma_w2 * _cross(act, q, 1.0) + sigma_b2 / q_eff
    return min(1.0, max(-1.0, num / den))


def correlation_map(activation: str, sigma_w2, sigma_b2, c, *, q=None):
    """The correlation of two inputs one layer up: ``c_{l+1} = f(c_l)``.

    Arguments:
        activation, sigma_w2, sigma_b2: as in :func:`fixed_point`.
        c: the correlation ``c_l`` of the two inputs' pre-activations, in [-1, 1]; a
            number or a 1-D array (the map is applied to each).
        q: their common length ``q_l``; the fixed point ``q*`` by default (the map of a
            deep layer, the one whose slope at ``c = 1`` is :func:`chi1`).

    Returns a float, or an array shaped like ``c``.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = _q_star(act, sigma_w2, sigma_b2) if q is None else qd.check_q(q)
    if np.ndim(c) == 0:
        return _c_map(act, sigma_w2, sigma_b2, q, _validate.real("c", c, minimum=-1.0, maximum=1.0))
    values = _validate.vector("c", c, max_size=MAX_POINTS, why=_POINTS_WHY).astype(np.float64)
    if np.any(np.abs(values) > 1):
        raise ValueError(f"c must lie in [-1, 1]; received values from {values.min():g} "
                         f"to {values.max():g}")
    return np.array([_c_map(act, sigma_w2, sigma_b2, q, float(v)) for v in values])


def _c_star(act, sigma_w2, sigma_b2, q: float, chi: float) -> float:
    """The correlation deep layers settle at: 1 unless chaos drives it below.

    In the chaotic phase ``f(c) < c`` just below 1 (the slope there is ``chi > 1``) and
    ``f(0) >= 0`` (``E[phi(u_1)] E[phi(u_2)] >= 0`` and ``sigma_b2 >= 0``): the stable
    fixed point lies in ``[0, 1)``.
    """
    if chi <= 1.0 + _SNAP:
        return 1.0

    def gap(c):
        return _c_map(act, sigma_w2, sigma_b2, q, c) - c

    top = 1.0 - 1e-4
    g_top = gap(top)
    if g_top >= 0:  # within 1e-4 of 1: as close to the edge as we can tell
        return 1.0
    g_zero = gap(0.0)
    if g_zero <= 0:
        return 0.0
    return qd.illinois(gap, 0.0, top, g_zero, g_top, tol=1e-12)


@dataclass(frozen=True)
class DepthScales:
    """How many layers a deep network remembers its input for (Schoenholz et al. 2017).

    Attributes:
        xi_q: the depth scale of lengths: ``|q_l - q*|`` shrinks like ``exp(-l / xi_q)``.
        xi_c: the depth scale of correlations: ``|c_l - c*|`` shrinks like
            ``exp(-l / xi_c)``; infinite on the critical line. Schoenholz et al. find that
            networks train only up to a depth of about ``6 * xi_c``.
        q_star, c_star: the fixed points of the length and correlation maps.
        chi_q: the slope of the length map at ``q*`` (``xi_q = -1 / ln chi_q``).
        chi1: :func:`chi1`; chi_c: the slope of the correlation map at ``c*``
            (``xi_c = -1 / ln chi_c``; it equals ``chi1`` where ``c* = 1``).
    """

    xi_q: float
    xi_c: float
    q_star: float
    c_star: float
    chi_q: float
    chi1: float
    chi_c: float


def _scale(chi: float) -> float:
    if chi >= 1.0 - _SNAP:
        return math.inf
    if chi <= 0.0:
        return 0.0
    return -1.0 / math.log(chi)


def depth_scales(activation: str, sigma_w2, sigma_b2) -> DepthScales:
    """The depth scales ``xi_q`` and ``xi_c`` (and the numbers behind them).

    ``xi_c = -1 / ln chi_c`` where ``chi_c = sigma_w2 E[phi'(u_1) phi'(u_2)]`` at the
    fixed point ``(q*, c*)``; ``xi_q = -1 / ln chi_q`` with ``chi_q`` the slope of the
    length map at ``q*``. A slope within 1e-9 of 1 gives ``math.inf``.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = _q_star(act, sigma_w2, sigma_b2)
    chi = _layer_chi1(act, sigma_w2, q)
    c = _c_star(act, sigma_w2, sigma_b2, q, chi)
    chi_c = chi if c == 1.0 else sigma_w2 * _cross(act, q, c, slope=True)
    root = math.sqrt(max(q, qd.Q_TINY))
    z, w = qd.grid(1.0 / root)
    # d/dq E[phi(sqrt(q) z)^2] = E[phi(sqrt(q) z) phi'(sqrt(q) z) z] / sqrt(q)
    chi_q = sigma_w2 * float(w @ (act.numpy(root * z) / root * act.slope(root * z) * z))
    return DepthScales(xi_q=_scale(chi_q), xi_c=_scale(chi_c), q_star=q, c_star=c,
                       chi_q=chi_q, chi1=chi, chi_c=chi_c)


@dataclass(frozen=True)
class LayerCorrelations:
    """Mean-field length and correlation of two inputs, layer by layer.

    Attributes:
        q: shape ``(depth,)``: the pre-activations' mean square at layers 1..depth.
        c: shape ``(depth,)``: the correlation of the two inputs' pre-activations.
    """

    q: np.ndarray
    c: np.ndarray


def correlation_by_layer(activation: str, sigma_w2, sigma_b2, depth, *, c0, q0=1.0):
    """Iterate the length and correlation maps from two inputs of the same length.

    Arguments:
        activation, sigma_w2, sigma_b2: as in :func:`fixed_point`.
        depth: number of layers, 1 to 1000.
        c0: the inputs' correlation ``x_a . x_b / (|x_a| |x_b|)``, in [-1, 1].
        q0: their mean square ``|x|^2 / width``.

    The first layer gets ``q_1 = sigma_w2 q0 + sigma_b2`` and
    ``c_1 = (sigma_w2 q0 c0 + sigma_b2) / q_1``; then the maps.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    depth = _validate.integral("depth", depth, minimum=1, maximum=1000)
    c0 = _validate.real("c0", c0, minimum=-1.0, maximum=1.0)
    q0 = _validate.real("q0", q0, minimum=0.0, maximum=qd.Q_HUGE)
    q = sigma_w2 * q0 + sigma_b2
    if q == 0:
        raise ValueError("q0 = 0 with sigma_b2 = 0: the inputs carry no signal")
    c = (sigma_w2 * q0 * c0 + sigma_b2) / q
    qs, cs = np.empty(depth), np.empty(depth)
    for layer in range(depth):
        qs[layer], cs[layer] = q, c
        if layer + 1 < depth:
            q, c = (sigma_w2 * q * _mean_square(act, q) + sigma_b2,
                    _c_map(act, sigma_w2, sigma_b2, q, c))
    return LayerCorrelations(q=qs, c=cs)
