"""How a signal and its gradient propagate through a deep MLP at initialization.

- :mod:`~initcourse.propagation.engine`: the one engine (:class:`KernelStack`) and what it
  measures, :func:`layer_stats` (its mean-field theory, ``predicted_stats``, is in
  :mod:`initcourse.meanfield`);
- :mod:`~initcourse.propagation.gradients`: the weight gradients per layer
  (:func:`gradient_stats`), which layers learn;
- :mod:`~initcourse.propagation.regimes`: the words for a per-layer std series
  (:func:`classify_regime`: vanishing, stable or exploding).
"""

from initcourse.propagation.engine import ACTIVATIONS, LayerStats, layer_stats
from initcourse.propagation.gradients import GradientStats, gradient_stats
from initcourse.propagation.regimes import (
    REGIME_THRESHOLD,
    classify_regime,
    combined_regime,
    travel_ratio,
)

__all__ = [
    "ACTIVATIONS",
    "GradientStats",
    "LayerStats",
    "REGIME_THRESHOLD",
    "classify_regime",
    "combined_regime",
    "gradient_stats",
    "layer_stats",
    "travel_ratio",
]
