"""Mean-field theory of deep networks at initialization, and the same numbers measured.

- :mod:`~initcourse.meanfield.maps`: the length and correlation maps in NumPy: the fixed
  point ``q*`` (:func:`fixed_point`), :func:`chi1`, :func:`depth_scales`, :func:`phase`;
- :mod:`~initcourse.meanfield.edge`: where ``chi1 = 1``: :func:`edge_of_chaos`,
  :func:`critical_line`, :func:`phase_grid`;
- :mod:`~initcourse.meanfield.predicted`: :func:`predicted_stats`, the theory of
  :func:`initcourse.layer_stats` for wide layers;
- :mod:`~initcourse.meanfield.quadrature`: the Gaussian expectations under them all;
- :mod:`~initcourse.meanfield.correlation` and :mod:`~initcourse.meanfield.isometry`:
  measured on real Flax stacks (:class:`PairStack`, :func:`jacobian_singular_values`,
  :func:`product_singular_values`); loaded on first use, as they load JAX's programs;
- :mod:`~initcourse.meanfield.linear`: :func:`linear_learning`, how long deep linear networks
  take to learn from orthogonal or Gaussian weights (Saxe et al. 2013).

Notebooks reach it as one namespace: ``from initcourse import meanfield as mf``.
"""

from __future__ import annotations

from initcourse import _lazy
from initcourse.meanfield.edge import critical_curve, critical_line, edge_of_chaos, phase_grid
from initcourse.meanfield.maps import (
    PHASES,
    DepthScales,
    LayerCorrelations,
    chi1,
    correlation_by_layer,
    correlation_map,
    depth_scales,
    fixed_point,
    length_map,
    phase,
)
from initcourse.meanfield.predicted import predicted_stats

_LAZY = {
    "PairStack": "initcourse.meanfield.correlation",
    "jacobian_singular_values": "initcourse.meanfield.isometry",
    "product_singular_values": "initcourse.meanfield.isometry",
    "linear_learning": "initcourse.meanfield.linear",
    "LinearLearning": "initcourse.meanfield.linear",
}

__all__ = [
    "PHASES",
    "DepthScales",
    "LayerCorrelations",
    "chi1",
    "correlation_by_layer",
    "correlation_map",
    "critical_curve",
    "critical_line",
    "depth_scales",
    "edge_of_chaos",
    "fixed_point",
    "length_map",
    "phase",
    "phase_grid",
    "predicted_stats",
    *_LAZY,
]


__getattr__, __dir__ = _lazy.attach(__name__, _LAZY)
