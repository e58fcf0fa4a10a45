"""The audit's statistics, taken in NumPy on the host from the tensors the pass returned
(:attr:`~initcourse.audit.record.Recorder.arrays`, indexed by each call's ``slots``).

Moments are in float64 over every element (samples and positions). Taken here rather
than in the jitted program, they cost no compile time: a dozen reductions per layer
made XLA's compile, not the pass, the audit's cost.
"""

from __future__ import annotations

import numpy as np


def _float64(value) -> np.ndarray:
    return np.asarray(value).astype(np.float64)


def std(value) -> float:
    """The std over every element of ``value``; ``inf`` if an element is not finite (an
    overflow: NumPy's std of it would be NaN)."""
    value = _float64(value)
    return float(np.std(value)) if np.all(np.isfinite(value)) else float("inf")


def layer(seen, arrays) -> dict[str, float | bool]:
    """One layer call's statistics from its kept tensors (keys absent where the call has no
    such tensor): ``input_second_moment``, ``dead_fraction``, ``saturated_fraction``,
    ``input_min`` (not for a model input), ``output_std``, ``output_finite``,
    ``kernel_std``, ``kernel_second_moment``, ``linear_second_moment`` (E[(y - bias)^2])."""
    slots, stats = seen.slots, {}
    if "x" in slots:
        x = _float64(arrays[slots["x"]])
        stats["input_second_moment"] = float(np.mean(np.square(x)))
        if not seen.from_input and x.ndim >= 2:
            # A feature that is zero on every sample and position is a dead ReLU unit of
            # the layer before; inputs within [-1, 1] that sit at +-0.99 are a saturated
            # tanh's.
            flat = np.abs(x.reshape(-1, x.shape[-1]))
            stats["dead_fraction"] = float(np.mean(np.all(flat == 0, axis=0)))
            bounded = flat.max() <= 1.0
            stats["saturated_fraction"] = float(np.mean(flat > 0.99)) if bounded else 0.0
            stats["input_min"] = float(x.min())
    if "y" in slots:
        y = arrays[slots["y"]]
        stats["output_finite"] = bool(np.all(np.isfinite(y)))
        y = _float64(y)
        stats["output_std"] = std(y)
        if "kernel" in slots and seen.category == "linear":
            bias = arrays[slots["bias"]] if "bias" in slots else None
            stats["linear_second_moment"] = linear_part(y, bias)
    if "kernel" in slots:
        kernel = _float64(arrays[slots["kernel"]])
        stats["kernel_std"] = std(kernel)
        stats["kernel_second_moment"] = float(np.mean(np.square(kernel)))
    return stats


def linear_part(y, bias) -> float:
    """E[(y - bias)^2], the second moment of the kernel's part of the output ``y``. A bias
    that does not broadcast on the output's trailing axes (LinearGeneral's batch axes) is
    taken out on average, E[y^2] - E[b^2], exact for the usual zero bias."""
    y = _float64(y)
    if bias is None:
        return float(np.mean(np.square(y)))
    bias = _float64(bias)
    trailing = y.shape[y.ndim - bias.ndim:] if bias.ndim <= y.ndim else None
    if trailing is not None and all(b in (1, t) for b, t in zip(bias.shape, trailing,
                                                                 strict=True)):
        return float(np.mean(np.square(y - bias)))
    return float(np.mean(np.square(y)) - np.mean(np.square(bias)))


def block(seen, arrays) -> tuple[float, float, float, float]:
    """``(input_rms, output_rms, skip, branch_ratio)`` of a block call y = f(x): skip =
    E[y x] / E[x^2] is about 1 for y = x + g(x) with g(x) uncorrelated with x, about 0
    for a plain layer; branch_ratio = E[(y - x)^2] / E[x^2]."""
    x, y = _float64(arrays[seen.slots["x"]]), _float64(arrays[seen.slots["y"]])
    x2 = np.mean(np.square(x))
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero stream: nan or inf
        skip, branch = np.mean(x * y) / x2, np.mean(np.square(y - x)) / x2
    return (float(np.sqrt(x2)), float(np.sqrt(np.mean(np.square(y)))), float(skip),
            float(branch))
