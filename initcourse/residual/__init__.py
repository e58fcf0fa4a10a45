"""Residual networks, normalization and transformers at initialization.

- :mod:`initcourse.residual.stack`: :func:`residual_stats`, a residual stack's stream and
  gradient per block (no norm, pre-LN, post-LN; scaled or zero-started branches), and
  :func:`predicted_residual`, the same in expectation.
"""

from initcourse.residual.stack import (
    NORMS,
    ResidualStats,
    fixup_scale,
    predicted_residual,
    residual_stats,
)

__all__ = ["NORMS", "ResidualStats", "fixup_scale", "predicted_residual", "residual_stats"]
