"""Interactive explorers: :class:`~initcourse.fan_in.FanInExplorer` (one kernel's weights
against the theory, and the std against fan_in) and :class:`~initcourse.depth.DepthExplorer`
(the std of activations and gradients through ``depth`` layers, and the regime).

Each control is an attribute named in the course's vocabulary; setting its ``value`` (or
several with ``.set``) updates ``readout`` at once, and bad values raise::

    ex = fan_in_explorer()
    ex.fan_in.value = 256
    ex.set(initializer="he_normal", seed=3)
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
