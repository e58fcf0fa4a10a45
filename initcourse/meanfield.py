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

Pure functions of numbers, NumPy float64 only. Every Gaussian expectation goes through
one quadrature: composite Gauss-Legendre on panels that resolve both the Gaussian
(unit panels over |z| <= 10) and the activation (panels at scales ``2**k / sqrt(q)``
around its kink or its steep middle). Relative error below 1e-9 for the course's
activations at every ``q`` from 1e-200 to 1e6 (tests compare it with ``scipy.integrate``
and closed forms); plain Gauss-Hermite reaches a 3% error for tanh at ``q = 30``.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS

__all__ = [
    "CRITICAL_TOLERANCE",
    "DepthScales",
    "MAX_VARIANCE",
    "PHASES",
    "LayerCorrelations",
    "chi1",
    "correlation_by_layer",
    "correlation_map",
    "critical_curve",
    "critical_line",
    "depth_scales",
    "edge_of_chaos",
    "fixed_point",
    "gaussian_expectation",
    "length_map",
    "phase",
    "phase_grid",
]

#: Largest sigma_w2 and sigma_b2 the functions accept.
MAX_VARIANCE = 1000.0
#: ``|chi1 - 1| <= CRITICAL_TOLERANCE`` reads "critical": correlations then survive more
#: than 99 layers (``xi_c >= -1 / ln 0.99``), deeper than any stack in the course.
CRITICAL_TOLERANCE = 0.01
#: What :func:`phase` answers.
PHASES = ("ordered", "critical", "chaotic", "exploding")

_Z = 9.0  # |z| > 9 holds 2e-19 of a standard normal's mass
# Gauss-Legendre nodes per panel: 10 for single expectations (error ~1e-15), 6 for pairs
# (~1e-8: a pair costs the square of the nodes).
_GL = {order: np.polynomial.legendre.leggauss(order) for order in (6, 10)}
_BASE = np.linspace(-_Z, _Z, 13)  # panels of 1.5 for the Gaussian
_STEPS = 2.0 ** np.arange(-1, 80)  # panel edges at these multiples of an activation's scale
_Q_TINY = 1e-200  # q = 0 is evaluated here: phi(sqrt(q) z) / sqrt(q) is then its limit
_Q_HUGE = 1e30  # beyond this the length has no fixed point (it grows without bound)
_NOISE = 1e-12  # |q_map(q) / q - 1| below this is quadrature noise, not a direction
_SNAP = 1e-9  # |chi - 1| below this is the critical line itself: depth scale infinite


# -- the one Gaussian-expectation code --------------------------------------------------------


def _features(scale: float) -> np.ndarray:
    if not scale <= 2 * _Z / _STEPS[0]:
        return _STEPS[:0]
    steps = scale * _STEPS
    return steps[steps < 2 * _Z]


def _panels(edges: np.ndarray, order: int = 10):
    """Gauss-Legendre nodes and N(0, 1)-weights on the panels between sorted ``edges``."""
    x, weights = _GL[order]
    left, right = edges[..., :-1], edges[..., 1:]
    half = (right - left) / 2
    z = (left + half)[..., None] + half[..., None] * x
    w = (half[..., None] * weights * np.exp(-0.5 * z * z)).reshape(edges.shape[:-1] + (-1,))
    # Normalised so that E[1] = 1 exactly: the Gaussian's own quadrature error cancels.
    return z.reshape(w.shape), w / w.sum(axis=-1, keepdims=True)


def _grid(*scales: float, order: int = 10):
    """Nodes and weights of E over z ~ N(0, 1) for integrands with features at ``scales``.

    Each scale is rounded down to a power of 2 (panels a little finer than needed), so a
    few hundred cached grids serve every ``q``.
    """
    return _cached_grid(tuple(_octave(scale) for scale in scales), order)


def _octave(scale: float) -> float:
    if scale > 2 * _Z / _STEPS[0]:
        return math.inf  # no feature inside |z| <= _Z
    return 2.0 ** math.floor(math.log2(scale)) if scale > 0 else 0.0


@functools.lru_cache(maxsize=512)  # at most 512 grids of a few hundred nodes: < 4 MB
def _cached_grid(scales: tuple, order: int):
    parts = [_BASE, [0.0]]
    for scale in scales:
        f = _features(scale)
        parts += [f, -f]
    z, w = _panels(np.unique(np.clip(np.concatenate(parts), -_Z, _Z)), order)
    z.flags.writeable = False
    w.flags.writeable = False
    return z, w


def _scaled(fn, q: float):
    """``z -> fn(sqrt(q) z) / sqrt(q)``, exact as ``q -> 0`` (phi(0) = 0 then)."""
    root = math.sqrt(max(q, _Q_TINY))
    return lambda z: fn(root * z) / root


def _check_q(q, name="q") -> float:
    q = _real(name, q, minimum=0.0, maximum=_Q_HUGE)
    return q


def gaussian_expectation(f, q, c=None, g=None):
    """``E[f(u)]`` for ``u ~ N(0, q)``; or ``E[f(u_1) g(u_2)]`` for a Gaussian pair.

    Arguments:
        f, g: elementwise NumPy functions (float64 arrays in, same shape out).
        q: the variance of ``u`` (of ``u_1`` and ``u_2``), >= 0.
        c: the correlation of ``u_1`` and ``u_2``, in [-1, 1] (a scalar); with ``c``
            the pair expectation is returned (``g`` defaults to ``f``).

    Returns a float. Features of ``f`` and ``g`` are assumed at ``|u|`` of order 1 (the
    course's activations: a kink or a steep middle at 0).
    """
    q = _check_q(q)
    root = math.sqrt(q)
    if c is None:
        z, w = _grid(1.0 / max(root, 1e-300))
        return float(w @ f(root * z))
    c = _real("c", c, minimum=-1.0, maximum=1.0)
    g = f if g is None else g
    return float(_pair(lambda z: f(root * z), lambda z: g(root * z), root, c))


def _pair(f, g, root: float, c: float) -> float:
    """``E[f(z_1) g(c z_1 + s z_2)]``, ``s = sqrt(1 - c^2)``, z's standard normal.

    ``f`` and ``g`` have features at ``1 / root``. Nested: the inner integral over ``z_2``
    is refined around ``g``'s feature at ``z_2 = -c z_1 / s``, row by row.
    """
    s = math.sqrt(max(0.0, 1.0 - c * c))
    scale = 1.0 / max(root, 1e-300)
    if s < 1e-12:  # u_2 = +-u_1
        z, w = _grid(scale, order=6)
        return float(w @ (f(z) * g(math.copysign(1.0, c) * z)))
    z1, w1 = _grid(scale, s / max(abs(c), 1e-300), order=6)
    center = -c * z1 / s
    inner_scale = scale / s
    feats = _features(inner_scale)
    rows = np.concatenate(
        [
            np.broadcast_to(_BASE, (z1.size, _BASE.size)),
            center[:, None],
            center[:, None] + feats,
            center[:, None] - feats,
        ],
        axis=1,
    )
    z2, w2 = _panels(np.sort(np.clip(rows, -_Z, _Z), axis=1), 6)
    inner = np.einsum("ij,ij->i", w2, g(c * z1[:, None] + s * z2))
    return float(w1 @ (f(z1) * inner))


# -- argument checks ---------------------------------------------------------------------------


def _real(name: str, value, *, minimum: float, maximum: float) -> float:
    """A finite real in ``[minimum, maximum]``; 0-d arrays accepted; clear errors."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not a bool; received {value!r}")
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(
        value, numbers.Real
    ):
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number; received {value!r}")
        value = arr.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; received {value!r} (type {type(value).__name__})"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; received {value!r}")
    if not minimum <= number <= maximum:
        raise ValueError(f"{name} must be between {minimum:g} and {maximum:g}; received {value!r}")
    return number


def _args(activation, sigma_w2, sigma_b2):
    activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
    if isinstance(sigma_w2, numbers.Real) and not isinstance(sigma_w2, bool) and sigma_w2 <= 0:
        raise ValueError(
            f"sigma_w2 (the weights' variance times width) must be > 0; received {sigma_w2!r}"
        )
    sigma_w2 = _real("sigma_w2", sigma_w2, minimum=0.0, maximum=MAX_VARIANCE)
    if sigma_w2 == 0:
        raise ValueError(f"sigma_w2 must be > 0; received {sigma_w2!r}")
    sigma_b2 = _real("sigma_b2", sigma_b2, minimum=0.0, maximum=MAX_VARIANCE)
    return ACTIVATIONS[activation], sigma_w2, sigma_b2


# -- the length map and its fixed point --------------------------------------------------------


def _mean_square(act, q: float) -> float:
    """``E[phi(sqrt(q) z)^2] / q`` (its limit at q = 0)."""
    psi = _scaled(act.numpy, q)
    z, w = _grid(1.0 / math.sqrt(max(q, _Q_TINY)))
    return float(w @ psi(z) ** 2)


def length_map(activation: str, sigma_w2, sigma_b2, q) -> float:
    """``q_{l+1} = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``: the next layer's length."""
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = _check_q(q)
    return sigma_w2 * q * _mean_square(act, q) + sigma_b2


def _illinois(fn, a: float, b: float, fa: float, fb: float, *, tol: float) -> float:
    """A root of ``fn`` between ``a`` and ``b`` (``fa``, ``fb`` of opposite signs)."""
    side = 0
    x = a
    for _ in range(200):
        x = (a * fb - b * fa) / (fb - fa)
        fx = fn(x)
        if fx == 0.0:
            return x
        if (fx > 0) == (fb > 0):
            b, fb = x, fx
            if side == -1:
                fa /= 2.0
            side = -1
        else:
            a, fa = x, fx
            if side == 1:
                fb /= 2.0
            side = 1
        if abs(b - a) <= tol:
            break
    return x


def _fixed_point(act, sigma_w2: float, sigma_b2: float, q0: float) -> float:
    """The limit of the length map's iterates from ``q0``; ``inf`` if they grow forever."""

    def excess(t):  # q_map(q) / q - 1 at q = e**t: > 0 where the length grows
        q = math.exp(t)
        return sigma_w2 * _mean_square(act, q) + sigma_b2 / q - 1.0

    inside = math.log(max(q0, _Q_TINY))
    h_in = excess(inside)
    if abs(h_in) <= _NOISE:
        return q0
    step = math.log(1e3) if h_in > 0 else -math.log(1e3)
    while True:
        outside = inside + step
        if outside > math.log(_Q_HUGE):
            return math.inf
        if outside < math.log(_Q_TINY):
            return 0.0
        h_out = excess(outside)
        if (step > 0 and h_out < -_NOISE) or (step < 0 and h_out > _NOISE):
            break
        inside, h_in = outside, h_out
    return math.exp(_illinois(excess, inside, outside, h_in, h_out, tol=1e-13))


def _q_star(act, sigma_w2, sigma_b2, q0=1.0) -> float:
    q = _fixed_point(act, sigma_w2, sigma_b2, q0)
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
    q0 = _real("q0", q0, minimum=0.0, maximum=_Q_HUGE)
    return _q_star(act, sigma_w2, sigma_b2, q0)


def _chi1(act, sigma_w2, q) -> float:
    z, w = _grid(1.0 / math.sqrt(max(q, _Q_TINY)))
    return sigma_w2 * float(w @ act.slope(math.sqrt(q) * z) ** 2)


def chi1(activation: str, sigma_w2, sigma_b2) -> float:
    """``sigma_w2 E[phi'(sqrt(q*) z)^2]``: how much a layer stretches a small change.

    Below 1 nearby inputs converge layer after layer (the ordered phase), above 1 they
    fly apart (chaos); 1 is the edge of chaos. It is also the factor by which the mean
    square gradient grows per layer going down. TOOLING's check: tanh with
    ``sigma_w2=1, sigma_b2=0.05`` gives 0.759.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    return _chi1(act, sigma_w2, _q_star(act, sigma_w2, sigma_b2))


def phase(activation: str, sigma_w2, sigma_b2) -> str:
    """``"ordered"``, ``"critical"``, ``"chaotic"`` or ``"exploding"`` (no fixed point q*).

    Critical means ``|chi1 - 1| <= CRITICAL_TOLERANCE``.
    """
    act, sigma_w2, sigma_b2 = _args(activation, sigma_w2, sigma_b2)
    q = _fixed_point(act, sigma_w2, sigma_b2, 1.0)
    if math.isinf(q):
        return "exploding"
    chi = _chi1(act, sigma_w2, q)
    if abs(chi - 1.0) <= CRITICAL_TOLERANCE:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


# -- the correlation map ----------------------------------------------------------------------


def _cross(act, q: float, c: float, slope: bool = False) -> float:
    """``E[psi(u_1) psi(u_2)]`` for ``psi = phi(.)/sqrt(q)`` (or ``phi'``), variances ``q``."""
    q = max(q, _Q_TINY)
    root = math.sqrt(q)
    fn = act.slope if slope else act.numpy
    scale = 1.0 if slope else root
    return _pair(lambda z: fn(root * z) / scale, lambda z: fn(root * z) / scale, root, c)


def _c_map(act, sigma_w2, sigma_b2, q: float, c: float) -> float:
    """``c_{l+1}`` from ``(q_l, c_l)``: bias and weights both add to the shared part."""
    q_eff = max(q, _Q_TINY)
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
    q = _q_star(act, sigma_w2, sigma_b2) if q is None else _check_q(q)
    if np.ndim(c) == 0:
        return _c_map(act, sigma_w2, sigma_b2, q, _real("c", c, minimum=-1.0, maximum=1.0))
    values = _validate.vector("c", c).astype(np.float64)
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
    return _illinois(gap, 0.0, top, g_zero, g_top, tol=1e-12)


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
    chi = _chi1(act, sigma_w2, q)
    c = _c_star(act, sigma_w2, sigma_b2, q, chi)
    chi_c = chi if c == 1.0 else sigma_w2 * _cross(act, q, c, slope=True)
    root = math.sqrt(max(q, _Q_TINY))
    z, w = _grid(1.0 / root)
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
    c0 = _real("c0", c0, minimum=-1.0, maximum=1.0)
    q0 = _real("q0", q0, minimum=0.0, maximum=_Q_HUGE)
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


# -- the edge of chaos ------------------------------------------------------------------------


def _critical_at(act, q: float) -> tuple[float, float]:
    """The ``(sigma_w2, sigma_b2)`` whose fixed point is ``q`` with ``chi1 = 1``."""
    root = math.sqrt(max(q, _Q_TINY))
    z, w = _grid(1.0 / root)
    slope2 = float(w @ act.slope(root * z) ** 2)
    if slope2 <= 0:
        return math.inf, -math.inf
    sigma_w2 = 1.0 / slope2
    return sigma_w2, q * (1.0 - _mean_square(act, q) / slope2)


_CRITICAL_Q = np.geomspace(1e-12, 1e8, 101)


def _edge(act, sigma_b2: float) -> float | None:
    """The critical sigma_w2 at ``sigma_b2`` reached from ``q0 = 1``, or None."""

    def bias_gap(t):
        return _critical_at(act, math.exp(t))[1] - sigma_b2

    t_grid = np.log(_CRITICAL_Q)
    gaps = [bias_gap(t) for t in t_grid]
    candidates = [_Q_TINY] if abs(_critical_at(act, _Q_TINY)[1] - sigma_b2) <= 1e-12 else []
    for i in range(len(t_grid) - 1):
        g0, g1 = gaps[i], gaps[i + 1]
        if abs(g0) <= 1e-12 * max(1.0, sigma_b2):
            candidates.append(float(_CRITICAL_Q[i]))
        elif g0 * g1 < 0:
            t = _illinois(bias_gap, t_grid[i], t_grid[i + 1], g0, g1, tol=1e-13)
            candidates.append(math.exp(t))
    for q in candidates:
        sigma_w2 = _critical_at(act, q)[0]
        if not 0 < sigma_w2 <= MAX_VARIANCE:
            continue
        q_star = _fixed_point(act, sigma_w2, sigma_b2, 1.0)
        if math.isfinite(q_star) and abs(_chi1(act, sigma_w2, q_star) - 1.0) <= 1e-6:
            return sigma_w2
    return None


def edge_of_chaos(activation: str, sigma_b2) -> float:
    """The ``sigma_w2`` on the critical line ``chi1 = 1`` at bias variance ``sigma_b2``.

    Found along the line's parametrisation by ``q*`` (Poole et al. 2016): the critical
    point with fixed point ``q`` has ``sigma_w2 = 1 / E[phi'(sqrt(q) z)^2]`` and
    ``sigma_b2 = q - sigma_w2 E[phi(sqrt(q) z)^2]``; the ``q`` that gives ``sigma_b2``
    is solved for, and the answer is checked: the length map started at ``q0 = 1``
    must settle at that ``q`` with ``chi1 = 1``. For tanh the line starts at
    ``sigma_w2 = 1`` for ``sigma_b2 = 0``; ReLU has only the point ``sigma_w2 = 2``,
    ``sigma_b2 = 0``.

    Raises ``ValueError`` naming ``sigma_b2`` where the activation has no critical point
    (ReLU or linear with a bias: the length then grows without bound at the would-be
    critical ``sigma_w2``).
    """
    act = ACTIVATIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    sigma_b2 = _real("sigma_b2", sigma_b2, minimum=0.0, maximum=MAX_VARIANCE)
    with np.errstate(over="ignore"):
        found = _edge(act, sigma_b2)
    if found is None:
        raise ValueError(
            f"activation {act.name!r} has no critical point at sigma_b2={sigma_b2!r}: no "
            f"sigma_w2 up to {MAX_VARIANCE:g} gives chi1 = 1 with a finite fixed point q*"
            + (" (ReLU and linear have one only at sigma_b2=0)"
               if act.name in ("relu", "linear") else "")
        )
    return found


def critical_line(activation: str, sigma_b2) -> np.ndarray:
    """:func:`edge_of_chaos` at each of ``sigma_b2`` (a 1-D array): NaN where none."""
    act = ACTIVATIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    values = _validate.vector("sigma_b2", sigma_b2).astype(np.float64)
    if np.any(values < 0) or np.any(values > MAX_VARIANCE):
        raise ValueError(f"sigma_b2 must lie in [0, {MAX_VARIANCE:g}]; received values from "
                         f"{values.min():g} to {values.max():g}")
    with np.errstate(over="ignore"):
        found = [_edge(act, float(v)) for v in values]
    return np.array([np.nan if f is None else f for f in found])


def critical_curve(activation: str, *, sigma_b2_max=0.5, points=200):
    """The critical line as a curve ``(sigma_w2, sigma_b2)``, for drawing it.

    Walks the line's parametrisation by ``q*`` (see :func:`edge_of_chaos`) over ``points``
    values of ``q`` from 1e-8 to 1e3 and keeps the points with ``0 <= sigma_b2 <=
    sigma_b2_max`` that :func:`phase` confirms as critical. Returns two arrays of equal
    length, ordered by ``sigma_b2`` (a single point for ReLU: ``(2, 0)``).
    """
    act = ACTIVATIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    sigma_b2_max = _real("sigma_b2_max", sigma_b2_max, minimum=0.0, maximum=MAX_VARIANCE)
    points = _validate.integral("points", points, minimum=2, maximum=10_000)
    found = []
    with np.errstate(over="ignore"):
        for q in np.concatenate([[_Q_TINY], np.geomspace(1e-8, 1e3, points)]):
            sigma_w2, sigma_b2 = _critical_at(act, float(q))
            sigma_b2 = max(sigma_b2, 0.0) if sigma_b2 > -1e-9 else sigma_b2
            if not (0 <= sigma_b2 <= sigma_b2_max and 0 < sigma_w2 <= MAX_VARIANCE):
                continue
            q_star = _fixed_point(act, sigma_w2, sigma_b2, 1.0)
            if math.isfinite(q_star) and abs(_chi1(act, sigma_w2, q_star) - 1.0) <= 1e-6:
                found.append((sigma_b2, sigma_w2))
    if not found:
        return np.empty(0), np.empty(0)
    b2, w2 = np.array(sorted(set(found))).T
    return w2, b2


def phase_grid(activation: str, sigma_w2, sigma_b2) -> np.ndarray:
    """:func:`phase` at every grid point: shape ``(len(sigma_b2), len(sigma_w2))``, entries
    indices into ``PHASES``."""
    act = ACTIVATIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    w_values = _validate.vector("sigma_w2", sigma_w2).astype(np.float64)
    b_values = _validate.vector("sigma_b2", sigma_b2).astype(np.float64)
    for name, values in (("sigma_w2", w_values), ("sigma_b2", b_values)):
        if np.any(values < 0) or np.any(values > MAX_VARIANCE) or (
                name == "sigma_w2" and np.any(values == 0)):
            raise ValueError(f"{name} must lie in (0, {MAX_VARIANCE:g}] (sigma_b2 may be 0); "
                             f"received values from {values.min():g} to {values.max():g}")
    out = np.empty((b_values.size, w_values.size), dtype=np.int8)
    with np.errstate(over="ignore"):
        for i, b in enumerate(b_values):
            for j, w in enumerate(w_values):
                out[i, j] = PHASES.index(phase(act.name, float(w), float(b)))
    return out
