"""Residual networks, normalization and transformers at initialization.

- :mod:`~initcourse.residual.stack`: :func:`residual_stats`, a residual stack's stream and
  gradient per block (no norm, pre-LN, post-LN; scaled or zero-started branches), and
  :func:`predicted_residual`, the same in expectation; :func:`fixup_scale`;
- :mod:`~initcourse.residual.norms`: :func:`norm_stats`, a normalized MLP at any kernel scale;
- :mod:`~initcourse.residual.digits_race`: :func:`race`, residual stacks trained on the digits;
- :mod:`~initcourse.residual.transformer`: a small GPT (nanoGPT's layout) under GPT-2's and
  other schemes, :func:`gpt_at_init`, :func:`attention_entropy`, :func:`deepnorm_constants`.

Everything here loads on first use: importing the package runs no JAX program.
"""

from __future__ import annotations

from initcourse import _lazy

_LAZY = {
    "NORMS": "initcourse.residual.norms",
    "norm_stats": "initcourse.residual.norms",
    "NormStats": "initcourse.residual.norms",
    "ResidualStats": "initcourse.residual.stack",
    "residual_stats": "initcourse.residual.stack",
    "predicted_residual": "initcourse.residual.stack",
    "fixup_scale": "initcourse.residual.stack",
    "SCHEMES": "initcourse.residual.digits_race",
    "race": "initcourse.residual.digits_race",
    "RaceResult": "initcourse.residual.digits_race",
    "GPT_SCHEMES": "initcourse.residual.transformer",
    "gpt_at_init": "initcourse.residual.transformer",
    "init_params": "initcourse.residual.transformer",
    "attention_entropy": "initcourse.residual.transformer",
    "deepnorm_constants": "initcourse.residual.transformer",
    "GPT": "initcourse.residual.transformer",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = _lazy.attach(__name__, _LAZY)
