"""initcourse: an interactive course on neural-network weight initialization.

The helper package of the course's notebooks:

- :mod:`initcourse.solver`: the exercises' answer keys, :class:`LecunDense`, :func:`solve`,
  :func:`solve_nnx` and :func:`lecun_normal_init` (loaded on first use, never on import).
- :mod:`initcourse.initializers`: the registry of initializers and their theory
  (:func:`expected_std`, :func:`measured_std`).
- :mod:`initcourse.propagation`: signal and gradient statistics of deep MLPs
  (:func:`layer_stats`, :func:`predicted_stats`).
- :mod:`initcourse.training`: :func:`train` a deep MLP on handwritten digits and record
  what the initializer does to it; :mod:`initcourse.lsuv_init`: :func:`lsuv`, a
  data-driven initialization (loaded on first use).
- :mod:`initcourse.meanfield`: mean-field theory in NumPy: the fixed point ``q*``,
  :func:`chi1`, :func:`edge_of_chaos`, :func:`depth_scales`, the correlation map;
  :mod:`initcourse.correlation` and :mod:`initcourse.isometry` measure the same things on
  real Flax stacks (loaded on first use).
- :mod:`initcourse.gradients`: which layers learn: the weight gradients per layer
  (:func:`gradient_stats`).
- :mod:`initcourse.claims`: :func:`claim`, the check behind each lesson a notebook states.
- :mod:`initcourse.explorers`, :mod:`initcourse.figures`, :mod:`initcourse.grader`: widgets,
  figures and the exercise check. They load matplotlib and ipywidgets, so they are
  imported only when first used.

Importing the package has no side effects: it changes no matplotlib or JAX setting.
"""

from __future__ import annotations

import importlib

from initcourse.claims import ClaimError, claim
from initcourse.edge import critical_line, edge_of_chaos
from initcourse.gradients import GradientStats, gradient_stats
from initcourse.initializers import (
    INITIALIZERS,
    expected_std,
    get_initializer,
    measured_std,
    sample_kernel,
)
from initcourse.meanfield import (
    chi1,
    correlation_by_layer,
    correlation_map,
    depth_scales,
    fixed_point,
)
from initcourse.propagation import ACTIVATIONS, LayerStats, layer_stats, predicted_stats

__version__ = "0.1.0"

# name -> module that defines it, loaded on first access (PEP 562).
_LAZY = {
    "check": "initcourse.grader",
    "hint": "initcourse.grader",
    "show_solution": "initcourse.grader",
    "CheckReport": "initcourse.grader",
    "check_initializer": "initcourse.initializer_check",
    "InitializerReport": "initcourse.initializer_check",
    "LecunDense": "initcourse.solver",
    "solve": "initcourse.solver",
    "solve_nnx": "initcourse.solver",
    "lecun_normal_init": "initcourse.solver",
    "FanInExplorer": "initcourse.explorers",
    "DepthExplorer": "initcourse.explorers",
    "fan_in_explorer": "initcourse.explorers",
    "depth_explorer": "initcourse.explorers",
    "train": "initcourse.training",
    "train_runs": "initcourse.training",
    "TrainHistory": "initcourse.training",
    "lsuv": "initcourse.lsuv_init",
    "TrainingExplorer": "initcourse.training_widget",
    "training_explorer": "initcourse.training_widget",
    "LSUVResult": "initcourse.lsuv_init",
    "PairStack": "initcourse.correlation",
    "measured_correlation": "initcourse.correlation",
    "jacobian_singular_values": "initcourse.isometry",
    "product_singular_values": "initcourse.isometry",
    "PhaseExplorer": "initcourse.phase_explorer",
    "phase_explorer": "initcourse.phase_explorer",
}

__all__ = [
    "ACTIVATIONS",
    "ClaimError",
    "GradientStats",
    "INITIALIZERS",
    "LayerStats",
    "chi1",
    "claim",
    "correlation_by_layer",
    "correlation_map",
    "critical_line",
    "depth_scales",
    "edge_of_chaos",
    "expected_std",
    "fixed_point",
    "get_initializer",
    "gradient_stats",
    "layer_stats",
    "measured_std",
    "predicted_stats",
    "sample_kernel",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'initcourse' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
