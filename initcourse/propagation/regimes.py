"""Which way a signal goes through a stack: vanishing, stable or exploding, from its
per-layer std (the words the depth explorer, the phase explorer and the notebooks use)."""

from __future__ import annotations

import numpy as np

from initcourse import _validate

#: A signal is *vanishing* when its std shrinks by more than this factor from the first
#: layer it reaches to the last, *exploding* when it grows by more: one decade, a clear
#: fall or rise on a log axis (ReLU with He at depth 50 drifts by about 1.5).
REGIME_THRESHOLD = 10.0


def travel_ratio(std) -> float:
    """``std[-1] / std[0]`` of a per-layer series ordered the way the signal travels
    (``forward_std``, or ``backward_std[::-1]``: the gradient starts at the last layer)."""
    std = np.asarray(std, dtype=np.float64)
    if std.ndim != 1 or std.size == 0:
        raise ValueError(f"std must be a non-empty 1-D array; received shape {std.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(std[-1] / std[0])


def classify_regime(std, *, threshold: float = REGIME_THRESHOLD) -> str:
    """``"vanishing"``, ``"stable"`` or ``"exploding"`` for a per-layer std series ordered
    the way the signal travels (:func:`travel_ratio`): vanishing if the ratio is below
    ``1 / threshold`` or a std is 0, exploding if above ``threshold`` (in (1, 1e300]) or
    a std overflowed, else stable (a single layer is).
    """
    threshold = _validate.positive_real("threshold", threshold, maximum=1e300)
    if threshold <= 1:
        raise ValueError(f"threshold must be > 1; received {threshold!r}")
    std, ratio = np.asarray(std, dtype=np.float64), travel_ratio(std)
    if not np.all(np.isfinite(std)):
        return "exploding"
    if std[0] == 0 or std[-1] == 0 or ratio < 1.0 / threshold:
        return "vanishing"
    return "exploding" if ratio > threshold else "stable"


def combined_regime(forward: str, backward: str) -> str:
    """One word for a network: the forward regime if it is not stable, else the backward
    (activations that hold over vanishing gradients cannot train their early layers)."""
    return forward if forward != "stable" else backward
