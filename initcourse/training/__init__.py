"""Training a deep MLP on handwritten digits, and what the initializer does to it.

- :mod:`~initcourse.training.runs`: :func:`train` and :func:`train_runs`, recorded as
  :class:`TrainHistory`;
- :mod:`~initcourse.training.engine`: the compiled training loop they share (many runs in
  one program);
- :mod:`~initcourse.training.data`: the digits and the seeded parameters;
- :mod:`~initcourse.training.lsuv`: :func:`lsuv`, a data-driven initialization;
- :mod:`~initcourse.training.figures`: :func:`loss_curves`, :func:`update_ratios`,
  :func:`share_by_layer` (they load matplotlib, so on first use).

Everything here loads on first use: importing the package runs no JAX program.
"""

from __future__ import annotations

from initcourse import _lazy

_LAZY = {
    "digits": "initcourse.training.data",
    "train": "initcourse.training.runs",
    "train_runs": "initcourse.training.runs",
    "TrainHistory": "initcourse.training.runs",
    "lsuv": "initcourse.training.lsuv",
    "LSUVResult": "initcourse.training.lsuv",
    "loss_curves": "initcourse.training.figures",
    "update_ratios": "initcourse.training.figures",
    "share_by_layer": "initcourse.training.figures",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = _lazy.attach(__name__, _LAZY)
