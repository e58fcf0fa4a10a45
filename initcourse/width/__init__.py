"""Width: what changes when a network gets wider, and the maximal update parametrization.

- :mod:`~initcourse.width.parametrizations`: SP, NTK and muP as three knobs per kind of
  layer (initial variance, multiplier, learning rate), Tensor Programs V's Table 3;
- :mod:`~initcourse.width.mlp`: the chapter's MLP on the digits and its training step;
- :mod:`~initcourse.width.coord`: :func:`coord_check`, how far each layer's
  pre-activations move in the first steps, against the width;
- :mod:`~initcourse.width.sweep`: :func:`lr_sweep`, the final loss on a grid of widths and
  learning rates (does the best rate transfer?).

Everything here loads on first use: importing the package runs no JAX program.
"""

from __future__ import annotations

from initcourse import _lazy

_LAZY = {
    "PARAMETRIZATIONS": "initcourse.width.parametrizations",
    "Knobs": "initcourse.width.parametrizations",
    "knobs": "initcourse.width.parametrizations",
    "scales": "initcourse.width.parametrizations",
    "parametrization_table": "initcourse.width.parametrizations",
    "BASE_WIDTH": "initcourse.width.mlp",
    "coord_check": "initcourse.width.coord",
    "CoordCheck": "initcourse.width.coord",
    "lr_sweep": "initcourse.width.sweep",
    "Sweep": "initcourse.width.sweep",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = _lazy.attach(__name__, _LAZY)
