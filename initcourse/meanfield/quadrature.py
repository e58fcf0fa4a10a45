"""The numerics under :mod:`initcourse.meanfield.maps`: Gaussian expectations and a root
finder.

Every Gaussian expectation of the mean-field code goes through one quadrature: composite
Gauss-Legendre on panels that resolve both the Gaussian (panels of 1.5 over |z| <= 9) and
the activation (panels at scales ``2**k / sqrt(q)`` around its kink or its steep middle).
Relative error below 1e-9 for the course's activations at every ``q`` from 1e-200 to 1e6
(``tests/meanfield/test_meanfield.py`` compares it with ``scipy.integrate`` and closed forms); plain
Gauss-Hermite reaches a 3% error for tanh at ``q = 30``. NumPy float64 only.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from initcourse import _validate

_Z = 9.0  # |z| > 9 holds 2e-19 of a standard normal's mass
# Gauss-Legendre nodes per panel: 10 for single expectations (error ~1e-15), 6 for pairs
# (~1e-8: a pair costs the square of the nodes).
_GL = {order: np.polynomial.legendre.leggauss(order) for order in (6, 10)}
_BASE = np.linspace(-_Z, _Z, 13)  # panels of 1.5 for the Gaussian
_STEPS = 2.0 ** np.arange(-1, 80)  # panel edges at these multiples of an activation's scale
Q_TINY = 1e-200  # q = 0 is evaluated here: phi(sqrt(q) z) / sqrt(q) is then its limit
Q_HUGE = 1e30  # beyond this the length has no fixed point (it grows without bound)


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


def grid(*scales: float, order: int = 10):
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


def scaled(fn, q: float):
    """``z -> fn(sqrt(q) z) / sqrt(q)``, exact as ``q -> 0`` (phi(0) = 0 then)."""
    root = math.sqrt(max(q, Q_TINY))
    return lambda z: fn(root * z) / root


def check_q(q) -> float:
    """``q``, a variance: a finite real in ``[0, Q_HUGE]``."""
    return _validate.real("q", q, minimum=0.0, maximum=Q_HUGE)


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
    q = check_q(q)
    root = math.sqrt(q)
    if c is None:
        z, w = grid(1.0 / max(root, 1e-300))
        return float(w @ f(root * z))
    c = _validate.real("c", c, minimum=-1.0, maximum=1.0)
    g = f if g is None else g
    return float(pair(lambda z: f(root * z), lambda z: g(root * z), root, c))


def pair(f, g, root: float, c: float) -> float:
    """``E[f(z_1) g(c z_1 + s z_2)]``, ``s = sqrt(1 - c^2)``, z's standard normal.

    ``f`` and ``g`` have features at ``1 / root``. Nested: the inner integral over ``z_2``
    is refined around ``g``'s feature at ``z_2 = -c z_1 / s``, row by row.
    """
    s = math.sqrt(max(0.0, 1.0 - c * c))
    scale = 1.0 / max(root, 1e-300)
    if s < 1e-12:  # u_2 = +-u_1
        z, w = grid(scale, order=6)
        return float(w @ (f(z) * g(math.copysign(1.0, c) * z)))
    z1, w1 = grid(scale, s / max(abs(c), 1e-300), order=6)
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



def illinois(fn, a: float, b: float, fa: float, fb: float, *, tol: float) -> float:
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

