"""initcourse: an interactive course on neural-network weight initialization.

The helper package of the course's notebooks, one room per concept; this face gathers
what the notebooks use, so that they import ``initcourse`` and a few namespaces only:

- :mod:`initcourse.initializers`: the registry of initializers and their theory
  (:func:`expected_std`, :func:`measured_std`, :data:`TRUNCATED_NORMAL_STD`);
- :mod:`initcourse.propagation`: signal and gradient statistics of deep MLPs
  (:func:`layer_stats`, :func:`gradient_stats`, :func:`predicted_stats`);
- :mod:`initcourse.meanfield`: mean-field theory in NumPy (the fixed point ``q*``,
  :func:`chi1`, :func:`edge_of_chaos`, :func:`depth_scales`) and the same numbers measured
  on Flax stacks;
- :mod:`initcourse.training`: :func:`train` a deep MLP on handwritten digits, :func:`lsuv`,
  and the training figures;
- :mod:`initcourse.explorers`: the widgets (:func:`fan_in_explorer`, :func:`depth_explorer`,
  :func:`phase_explorer`, :func:`training_explorer`, :func:`residual_explorer`) and the
  classroom :class:`Demo`;
- :mod:`initcourse.residual`: residual stacks, normalization and a small GPT at init
  (:func:`residual_stats`, :func:`predicted_residual`, :func:`gpt_at_init`);
- :mod:`initcourse.width`: SP, NTK and muP, :func:`coord_check` (how far each layer moves
  in the first steps, against the width) and :func:`lr_sweep` (does the best learning
  rate transfer across widths?);
- :mod:`initcourse.exercises`: the checks (:func:`check`, :func:`check_initializer`,
  :func:`check_block`),
  :func:`hint` and :func:`show_solution`; :mod:`initcourse.solver` holds the answer keys;
- :mod:`initcourse.audit`: :func:`audit`, the initialization of any Flax model (Linen or
  NNX) checked layer by layer;
- :mod:`initcourse.grading`: a class's notebooks graded in a sandbox (``initcourse grade``);
- :mod:`initcourse.keys`: the keys Flax derives for each parameter; :mod:`initcourse.claims`:
  :func:`claim`, the check behind each lesson a notebook states; :mod:`initcourse.figures`.

Widgets, figures, checks and training load matplotlib, ipywidgets or JAX programs, so
they are imported when first used. Importing the package has no side effects: it changes
no matplotlib or JAX setting.
"""

from __future__ import annotations

from initcourse import _lazy
from initcourse.claims import ClaimError, claim
from initcourse.initializers import (
    INITIALIZERS,
    TRUNCATED_NORMAL_STD,
    expected_std,
    get_initializer,
    measured_std,
    sample_kernel,
    truncation_bound,
)
from initcourse.meanfield import (
    chi1,
    correlation_by_layer,
    correlation_map,
    critical_line,
    depth_scales,
    edge_of_chaos,
    fixed_point,
    predicted_stats,
)
from initcourse.propagation import (
    ACTIVATIONS,
    GradientStats,
    LayerStats,
    gradient_stats,
    layer_stats,
)

__version__ = "0.1.0"

# name -> module that defines it, loaded on first access (PEP 562).
_LAZY = {
    "check": "initcourse.exercises.dense.grader",
    "hint": "initcourse.exercises.hints",
    "show_solution": "initcourse.exercises.hints",
    "CheckReport": "initcourse.exercises.dense.grader",
    "check_initializer": "initcourse.exercises.initializer.grader",
    "InitializerReport": "initcourse.exercises.initializer.grader",
    "check_block": "initcourse.exercises.block.grader",
    "BlockReport": "initcourse.exercises.block.grader",
    "init_block": "initcourse.solver",
    "LecunDense": "initcourse.solver",
    "solve": "initcourse.solver",
    "solve_nnx": "initcourse.solver",
    "lecun_normal_init": "initcourse.solver",
    "FanInExplorer": "initcourse.explorers.fan_in",
    "DepthExplorer": "initcourse.explorers.depth",
    "fan_in_explorer": "initcourse.explorers.fan_in",
    "depth_explorer": "initcourse.explorers.depth",
    "train": "initcourse.training.runs",
    "train_runs": "initcourse.training.runs",
    "TrainHistory": "initcourse.training.runs",
    "lsuv": "initcourse.training.lsuv",
    "TrainingExplorer": "initcourse.explorers.training",
    "training_explorer": "initcourse.explorers.training",
    "LSUVResult": "initcourse.training.lsuv",
    "PairStack": "initcourse.meanfield.correlation",
    "jacobian_singular_values": "initcourse.meanfield.isometry",
    "product_singular_values": "initcourse.meanfield.isometry",
    "PhaseExplorer": "initcourse.explorers.phase",
    "Demo": "initcourse.explorers.demo",
    "ULP_LIMIT": "initcourse.exercises.initializer.feedback",
    "linen_param_key": "initcourse.keys",
    "nnx_param_key": "initcourse.keys",
    "param_paths": "initcourse.keys",
    "same_params": "initcourse.keys",
    "phase_explorer": "initcourse.explorers.phase",
    "ResidualExplorer": "initcourse.explorers.residual",
    "residual_explorer": "initcourse.explorers.residual",
    "residual_stats": "initcourse.residual.stack",
    "predicted_residual": "initcourse.residual.stack",
    "ResidualStats": "initcourse.residual.stack",
    "gpt_at_init": "initcourse.residual.transformer",
    "coord_check": "initcourse.width.coord",
    "CoordCheck": "initcourse.width.coord",
    "lr_sweep": "initcourse.width.sweep",
    "Sweep": "initcourse.width.sweep",
    "parametrization_table": "initcourse.width.parametrizations",
    "audit": "initcourse.audit",
    "AuditReport": "initcourse.audit",
    "AuditFinding": "initcourse.audit",
    "LayerRecord": "initcourse.audit",
}

__all__ = [
    "ACTIVATIONS",
    "ClaimError",
    "GradientStats",
    "INITIALIZERS",
    "LayerStats",
    "TRUNCATED_NORMAL_STD",
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
    "truncation_bound",
    *_LAZY,
]


__getattr__, __dir__ = _lazy.attach(__name__, _LAZY)
