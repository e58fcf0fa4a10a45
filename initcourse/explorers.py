"""Interactive explorers: move fan-in, depth, initializer and activation, watch the std.

- :class:`~initcourse.fan_in.FanInExplorer`: the weights of one ``(fan_in, fan_out)``
  kernel against the theory, and the std against fan-in.
- :class:`~initcourse.depth.DepthExplorer`: the std of the activations (forward) and of
  the gradients (backward) through ``depth`` layers, and the regime: vanishing, stable or
  exploding.

Every control is an attribute named by the course's vocabulary; setting its ``value``
from Python updates ``readout`` at once, and bad values raise instead of being clamped::

    ex = fan_in_explorer()
    ex.fan_in.value = 256
    ex.readout  # 'std measured 0.0629 · theory 0.0625 = 1/√256 · ...'
    ex.set(initializer="he_normal", seed=3)

Re-running the cell that built an explorer closes the old one (see :mod:`initcourse.controls`).
"""

from __future__ import annotations

from initcourse.depth import DepthExplorer
from initcourse.fan_in import FanInExplorer
from initcourse.propagation import classify_regime

__all__ = ["DepthExplorer", "FanInExplorer", "classify_regime", "depth_explorer",
           "fan_in_explorer"]


def fan_in_explorer(**kwargs) -> FanInExplorer:
    """A :class:`FanInExplorer`; end a notebook cell with it to show it."""
    return FanInExplorer(**kwargs)


def depth_explorer(**kwargs) -> DepthExplorer:
    """A :class:`DepthExplorer`; end a notebook cell with it to show it."""
    return DepthExplorer(**kwargs)
