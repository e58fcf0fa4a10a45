"""The edge of chaos: where mean-field theory's ``chi1`` is 1 (Poole et al. 2016).

:func:`edge_of_chaos` and :func:`critical_line` give the critical ``sigma_w2`` at a bias
variance, :func:`critical_curve` the line for drawing it, :func:`phase_grid` the phase of
every point of a grid (the phase explorer's map). Built on :mod:`initcourse.meanfield.maps`.
"""

from __future__ import annotations

import math

import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.meanfield import maps as mf
from initcourse.meanfield.quadrature import Q_TINY, grid, illinois

__all__ = ["critical_curve", "critical_line", "edge_of_chaos", "phase_grid"]


#: The most values of ``sigma_b2`` :func:`critical_line` takes: 2,000 take about 2 s on the
#: course's 2-core machine (1,000: 0.96 s).
MAX_LINE_POINTS = 2_000
#: The most points :func:`phase_grid` takes: 100,000 take about 6 s (2,500: 0.15 s).
MAX_GRID_POINTS = 100_000

def _critical_at(act, q: float) -> tuple[float, float]:
    """The ``(sigma_w2, sigma_b2)`` whose fixed point is ``q`` with ``chi1 = 1``."""
    root = math.sqrt(max(q, Q_TINY))
    z, w = grid(1.0 / root)
    slope2 = float(w @ act.slope(root * z) ** 2)
    if slope2 <= 0:
        return math.inf, -math.inf
    sigma_w2 = 1.0 / slope2
    return sigma_w2, q * (1.0 - mf._mean_square(act, q) / slope2)


_CRITICAL_Q = np.geomspace(1e-12, 1e8, 101)


def _edge(act, sigma_b2: float) -> float | None:
    """The critical sigma_w2 at ``sigma_b2`` reached from ``q0 = 1``, or None."""

    def bias_gap(t):
        return _critical_at(act, math.exp(t))[1] - sigma_b2

    t_grid = np.log(_CRITICAL_Q)
    gaps = [bias_gap(t) for t in t_grid]
    candidates = [Q_TINY] if abs(_critical_at(act, Q_TINY)[1] - sigma_b2) <= 1e-12 else []
    for i in range(len(t_grid) - 1):
        g0, g1 = gaps[i], gaps[i + 1]
        if abs(g0) <= 1e-12 * max(1.0, sigma_b2):
            candidates.append(float(_CRITICAL_Q[i]))
        elif g0 * g1 < 0:
            t = illinois(bias_gap, t_grid[i], t_grid[i + 1], g0, g1, tol=1e-13)
            candidates.append(math.exp(t))
    for q in candidates:
        sigma_w2 = _critical_at(act, q)[0]
        if not 0 < sigma_w2 <= mf.MAX_VARIANCE:
            continue
        q_star = mf._settled_length(act, sigma_w2, sigma_b2, 1.0)
        if math.isfinite(q_star) and abs(mf._layer_chi1(act, sigma_w2, q_star) - 1.0) <= 1e-6:
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
    act = FUNCTIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    sigma_b2 = _validate.real("sigma_b2", sigma_b2, minimum=0.0, maximum=mf.MAX_VARIANCE)
    with np.errstate(over="ignore"):
        found = _edge(act, sigma_b2)
    if found is None:
        raise ValueError(
            f"activation {act.name!r} has no critical point at sigma_b2={sigma_b2!r}: no "
            f"sigma_w2 up to {mf.MAX_VARIANCE:g} gives chi1 = 1 with a finite fixed point q*"
            + (" (ReLU and linear have one only at sigma_b2=0)"
               if act.name in ("relu", "linear") else "")
        )
    return found


def critical_line(activation: str, sigma_b2) -> np.ndarray:
    """:func:`edge_of_chaos` at each of ``sigma_b2`` (a 1-D array): NaN where none."""
    act = FUNCTIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    values = _validate.vector("sigma_b2", sigma_b2, max_size=MAX_LINE_POINTS,
                              why=" (a root search each: 2,000 take about 2 s)").astype(np.float64)
    if np.any(values < 0) or np.any(values > mf.MAX_VARIANCE):
        raise ValueError(f"sigma_b2 must lie in [0, {mf.MAX_VARIANCE:g}]; received values from "
                         f"{values.min():g} to {values.max():g}")
    with np.errstate(over="ignore"):
        found = [_edge(act, float(v)) for v in values]
    return np.array([np.nan if f is None else f for f in found])


def critical_curve(activation: str, *, sigma_b2_max=0.5, points=200):
    """The critical line as a curve ``(sigma_w2, sigma_b2)``, for drawing it.

    Walks the line's parametrisation by ``q*`` (see :func:`edge_of_chaos`) over ``q -> 0``
    and ``points`` values of ``q`` from 1e-8 to 1e3, and keeps the points with ``0 <=
    sigma_b2 <= sigma_b2_max`` whose length map settles at that ``q*`` with ``chi1``
    within 1e-6 of 1. Returns two arrays of equal length, ordered by ``sigma_b2`` (a single
    point for ReLU: ``(2, 0)``).
    """
    act = FUNCTIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    sigma_b2_max = _validate.real("sigma_b2_max", sigma_b2_max, minimum=0.0, maximum=mf.MAX_VARIANCE)
    points = _validate.integral("points", points, minimum=2, maximum=10_000)
    found = []
    with np.errstate(over="ignore"):
        for q in np.concatenate([[Q_TINY], np.geomspace(1e-8, 1e3, points)]):
            sigma_w2, sigma_b2 = _critical_at(act, float(q))
            sigma_b2 = max(sigma_b2, 0.0) if sigma_b2 > -1e-9 else sigma_b2
            if not (0 <= sigma_b2 <= sigma_b2_max and 0 < sigma_w2 <= mf.MAX_VARIANCE):
                continue
            q_star = mf._settled_length(act, sigma_w2, sigma_b2, 1.0)
            if math.isfinite(q_star) and abs(mf._layer_chi1(act, sigma_w2, q_star) - 1.0) <= 1e-6:
                found.append((sigma_b2, sigma_w2))
    if not found:
        return np.empty(0), np.empty(0)
    b2, w2 = np.array(sorted(set(found))).T
    return w2, b2


def phase_grid(activation: str, sigma_w2, sigma_b2) -> np.ndarray:
    """:func:`phase` at every grid point: shape ``(len(sigma_b2), len(sigma_w2))``, entries
    indices into ``initcourse.meanfield.maps.PHASES``."""
    act = FUNCTIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    w_values = _validate.vector("sigma_w2", sigma_w2).astype(np.float64)
    b_values = _validate.vector("sigma_b2", sigma_b2).astype(np.float64)
    if w_values.size * b_values.size > MAX_GRID_POINTS:
        raise ValueError(f"len(sigma_w2) * len(sigma_b2) must be at most {MAX_GRID_POINTS:,} "
                         f"points (2,500 take 0.15 s here); received {w_values.size} x "
                         f"{b_values.size} = {w_values.size * b_values.size:,}")
    for name, values in (("sigma_w2", w_values), ("sigma_b2", b_values)):
        if np.any(values < 0) or np.any(values > mf.MAX_VARIANCE) or (
                name == "sigma_w2" and np.any(values == 0)):
            raise ValueError(f"{name} must lie in (0, {mf.MAX_VARIANCE:g}] (sigma_b2 may be 0); "
                             f"received values from {values.min():g} to {values.max():g}")
    out = np.empty((b_values.size, w_values.size), dtype=np.int8)
    with np.errstate(over="ignore"):
        for i, b in enumerate(b_values):
            for j, w in enumerate(w_values):
                out[i, j] = mf.PHASES.index(mf.phase(act.name, float(w), float(b)))
    return out
