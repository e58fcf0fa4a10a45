"""Figures of training runs (:class:`initcourse.training.runs.TrainHistory`), in the course's
style (:mod:`initcourse.figures`). Each function returns a matplotlib ``Figure``; show it
in a notebook with :func:`initcourse.figures.show`. Nothing changes matplotlib's global
settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from initcourse import _validate, figures

LN10 = math.log(10.0)

#: Markers that tell one curve from the next without colour (with the palette's colours).
MARKERS = ("o", "s", "^", "D", "v", "P")


def _by_label(histories) -> dict[str, list]:
    if isinstance(histories, Mapping) or not isinstance(histories, Sequence) or not histories:
        raise TypeError(f"histories must be a non-empty list of TrainHistory; received {histories!r}")
    groups: dict[str, list] = {}
    for h in histories:
        if not hasattr(h, "loss") or not hasattr(h, "label"):
            raise TypeError(f"histories must hold TrainHistory objects; received {h!r}")
        groups.setdefault(h.label, []).append(h)
    return groups


def _legend_label(label: str, runs) -> str:
    diverged = [h.diverged_at for h in runs if h.diverged_at is not None]
    if len(diverged) == len(runs):
        return f"{label}: diverged (step {min(diverged)}–{max(diverged)})" if len(runs) > 1 \
            else f"{label}: diverged at step {diverged[0]}"
    return label


def _smoothed(loss: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` steps at each step (fewer at the start); NaN stays NaN."""
    if window == 1:
        return loss
    finite = np.where(np.isfinite(loss), loss, 0.0)
    sums = np.cumsum(np.concatenate([[0.0], finite]))
    counts = np.minimum(np.arange(1, loss.size + 1), window)
    out = (sums[1:] - sums[np.maximum(0, np.arange(1, loss.size + 1) - window)]) / counts
    return np.where(np.isfinite(loss), out, np.nan)


def loss_curves(histories, *, title=None, top=3.0, smooth=10, ax=None):
    """Training loss against step, one colour per label (several seeds: one line each).

    Arguments:
        histories: a list of ``TrainHistory``; runs that share a label (seeds) share a colour.
        title: optional axes title.
        top: upper limit of the loss axis; a run that starts above it is drawn where it
            comes down, and a diverged run is named in the legend.
        smooth: draw the mean of the last ``smooth`` steps' losses (1: every batch's loss).
        ax: draw into this axes instead of a new figure.

    Returns:
        the ``Figure``. A dashed line marks ln 10, the loss of a uniform guess over 10 classes.
    """
    groups = _by_label(histories)
    smooth = _validate.integral("smooth", smooth, minimum=1, maximum=1000)
    with figures.style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.4, 3.4))
        else:
            fig = ax.figure
        kinds = [k for k in figures.LINE_KINDS if k[1] == "None"]  # long curves: no markers
        for g, (color, (label, runs)) in enumerate(zip(figures.CYCLE, groups.items(), strict=False)):
            for i, h in enumerate(runs):
                steps = np.arange(h.loss.size)
                ax.plot(steps, _smoothed(h.loss, smooth), color=color, linewidth=1.4, alpha=0.9,
                        linestyle=kinds[g % len(kinds)][0],
                        label=_legend_label(label, runs) if i == 0 else "_nolegend_")
                if h.diverged_at is not None:
                    ax.plot([h.diverged_at], [top * 0.97], marker="x", ms=10, mew=2.5, color=color,
                            linestyle="none")
        ax.axhline(LN10, color=figures.PALETTE["black"], linestyle="--", linewidth=1.2,
                   label="ln 10 (uniform guess)")
        ax.set_ylim(0.0, top)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss" if smooth == 1 else f"training loss\n(mean of {smooth} steps)")
        if title:
            ax.set_title(title)
        ax.legend(loc="lower left", fontsize=10)
        fig.tight_layout()
    return fig


def update_ratios(history, *, layers=None, title=None):
    """Karpathy's update:data ratio (std of the update / std of the kernel) over steps.

    Arguments:
        history: one ``TrainHistory``.
        layers: which hidden layers (1-based) to draw; about four spread over the depth by
            default.
        title: optional axes title.

    Returns:
        a ``Figure`` with a log axis and a dashed line at 1e-3, the rule of thumb.
    """
    depth = history.update_ratio.shape[1]
    if layers is None:
        layers = sorted({1, max(1, depth // 3), max(1, 2 * depth // 3), depth})
    with figures.style():
        fig, ax = plt.subplots(figsize=(5.6, 3.2))
        for i, (color, layer) in enumerate(zip(figures.CYCLE, layers, strict=False)):
            ratio = history.update_ratio[:, layer - 1]
            ax.plot(history.record_steps[1:], ratio[1:], color=color, marker=MARKERS[i % len(MARKERS)],
                    ms=3, label=f"layer {layer}")
        ax.axhline(1e-3, color=figures.PALETTE["black"], linestyle="--", linewidth=1.2, label="1e-3")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("update std / kernel std")
        ax.set_title(title or f"update:data ratio, {history.label}")
        ax.legend(loc="best", fontsize=10, ncol=2)
        fig.tight_layout()
    return fig


def share_by_layer(curves, *, ylabel, title=None):
    """A share (saturated tanh units, dead ReLUs) against the layer, one line per label.

    Arguments:
        curves: mapping label -> ``(depth,)`` array of shares in [0, 1].
        ylabel: what the share is.
        title: optional axes title.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"curves must be a non-empty mapping label -> array; received {curves!r}")
    with figures.style():
        fig, ax = plt.subplots(figsize=(5.6, 3.2))
        for i, (color, (label, values)) in enumerate(zip(figures.CYCLE, curves.items(), strict=False)):
            values = np.asarray(values, dtype=np.float64)
            ax.plot(np.arange(1, values.size + 1), values, color=color, marker=MARKERS[i % len(MARKERS)],
                    ms=3, label=label)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("layer l (1 = nearest the input)")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.legend(loc="best", fontsize=10)
        fig.tight_layout()
    return fig
