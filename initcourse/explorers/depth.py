"""The depth explorer: the std of activations and gradients through a deep MLP, and its regime.

It runs :meth:`initcourse.propagation.engine.KernelStack.propagate`, the engine behind
:func:`initcourse.layer_stats`, on a stack of ``MAX_DEPTH`` layers it owns: moving the
depth, the activation or the initializer inside a family compiles and draws nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from ipywidgets import HBox
from matplotlib.figure import Figure

from initcourse import _validate
from initcourse.explorers.base import MAX_DEPTH, Explorer, kept, layer_span
from initcourse.explorers.controls import STYLE, WIDE, Dropdown, IntSlider, LadderSlider, seed_box
from initcourse.figures import PALETTE, log_limits, style
from initcourse.initializers import INITIALIZERS, resolve
from initcourse.meanfield.predicted import predicted_stats
from initcourse.propagation.engine import (
    ACTIVATIONS,
    KernelStack,
    LayerStats,
)
from initcourse.propagation.regimes import classify_regime, combined_regime, travel_ratio

#: The widths the explorer offers (each compiles once, the first time it is shown).
WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
#: Rows of the seeded input batch: small enough for an update in a few milliseconds.
DEPTH_BATCH = 32
_COLORS = {"vanishing": PALETTE["blue"], "stable": PALETTE["green"],
           "exploding": PALETTE["vermillion"]}


@dataclass(frozen=True)
class DepthState:
    """What the depth explorer shows: the measured stats, the theory and the regimes."""

    stats: LayerStats
    theory: tuple[np.ndarray, np.ndarray] | None
    forward_regime: str
    backward_regime: str
    regime: str


def _ratio_text(series: np.ndarray) -> str:
    if not np.all(np.isfinite(series)):
        return "overflow"
    if series[0] == 0:
        return "0/0 (no signal)"
    return f"{travel_ratio(series):.3g}"


class DepthExplorer(Explorer):
    """The std of activations and gradients through a deep MLP, and its regime.

    Controls: ``.activation`` (of ``initcourse.ACTIVATIONS``), ``.initializer`` (a registry
    name, for every ``(width, width)`` kernel; biases are zero), ``.depth`` (1 to 100),
    ``.width`` (one of ``WIDTHS``), ``.seed`` (0 to 2**32 - 1); ``canvas`` as in
    :mod:`initcourse.explorers.base`. ``.regime`` is ``"vanishing"``, ``"stable"`` or
    ``"exploding"`` (the forward regime, or the backward one if the forward pass is
    stable), named in ``.readout`` with the ratios behind it; ``.stats`` holds the
    :class:`~initcourse.LayerStats` (batch ``DEPTH_BATCH``); ``.stack`` the kernels,
    ``MAX_DEPTH * width**2`` floats (400 MiB at width 1024).
    """

    css = "initcourse-depth-explorer"
    controls = ("activation", "initializer", "depth", "width", "seed")

    def __init__(self, activation="relu", initializer="he_normal", depth=50, width=256,
                 seed=0, *, canvas="auto"):
        names = tuple(INITIALIZERS)
        _validate.choice("activation", activation, ACTIVATIONS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
        seed = _validate.seed(seed)
        self.activation = Dropdown(options=ACTIVATIONS, value=activation,
                                   description="activation", style=STYLE)
        self.initializer = Dropdown(options=names, value=initializer, description="initializer",
                                    style=STYLE)
        self.depth = IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth",
                               style=STYLE, layout=WIDE)
        self.width = LadderSlider("width", width, WIDTHS, minimum=WIDTHS[0], maximum=WIDTHS[-1],
                                  off_ladder=False, style=STYLE, layout=WIDE)
        self.seed = seed_box(seed)
        self.stack: KernelStack | None = None
        self._theory: OrderedDict = OrderedDict()
        self._build_figure()
        rows = [HBox([self.activation, self.initializer, self.seed]), HBox([self.depth, self.width])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    @property
    def stats(self) -> LayerStats:
        """The measured per-layer stds behind the readout."""
        return self.state.stats

    @property
    def regime(self) -> str:
        """``"vanishing"``, ``"stable"`` or ``"exploding"``."""
        return self.state.regime

    def _build_figure(self) -> None:
        black = PALETTE["black"]
        with style():
            fig = Figure(figsize=(8.4, 4.0))  # 840 px: fits JupyterLab's notebook column
            ax = fig.subplots()
            (self._forward,) = ax.plot([], [], color=PALETTE["blue"], marker="o", ms=4,
                                       label="forward: std of h_l")
            (self._backward,) = ax.plot([], [], color=PALETTE["orange"], marker="s", ls="-.", ms=4,
                                        label="backward: std of dL/dh_l")
            (self._forward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                              label="mean-field theory")
            (self._backward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                               label="_nolegend_")
            ax.set_yscale("log")
            ax.set(title="std of activations and gradients, by layer", xlabel="layer",
                   ylabel="std (log scale)")
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
            self._label = fig.text(0.615, 0.84, "", ha="left", va="center", fontsize=18,
                                   fontweight="bold")
            self._note = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center")
            fig.subplots_adjust(left=0.11, right=0.6, bottom=0.14, top=0.9)
        self.figure, self._ax = fig, ax
        self._animated = [self._forward, self._backward, self._forward_theory,
                          self._backward_theory, self._label, self._note]

    def compute(self, activation, initializer, depth, width, seed) -> DepthState:
        if self.stack is None or self.stack.width != width:
            self.stack = None  # free the old width's kernels before drawing the new ones
            self.stack = KernelStack(MAX_DEPTH, width)
        resolved = resolve(initializer)
        forward, backward = self.stack.propagate(resolved, activation, depth,
                                                 batch=DEPTH_BATCH, seed=seed)
        stats = LayerStats(forward, backward, initializer=initializer, activation=activation,
                           depth=depth, width=width, batch=DEPTH_BATCH, seed=seed)
        theory = kept(self._theory, (initializer, activation, depth, width),
                      lambda: predicted_stats(resolved, activation, depth, width), keep=64)
        forward_regime, backward_regime = classify_regime(forward), classify_regime(backward[::-1])
        return DepthState(stats, theory, forward_regime, backward_regime,
                          combined_regime(forward_regime, backward_regime))

    def draw(self, state: DepthState):
        stats, theory = state.stats, state.theory
        forward, backward = stats.forward_std, stats.backward_std
        layers = np.arange(1, stats.depth + 1)
        self._forward.set_data(layers, forward)
        self._backward.set_data(layers, backward)
        shown = [forward, backward]
        for line, values in zip((self._forward_theory, self._backward_theory),
                                theory if theory is not None else (None, None), strict=True):
            line.set_visible(values is not None)
            if values is not None:
                line.set_data(layers, values)
                shown.append(values)
        ylim = log_limits(np.concatenate(shown))
        held = self._ax.get_ylim()
        if held[0] <= ylim[0] and ylim[1] <= held[1] and held[1] / held[0] <= 1e4 * ylim[1] / ylim[0]:
            ylim = held  # still fits, not too loose: keep the axis (and its cached picture)
        xlim = (0.5, layer_span(stats.depth) + 0.5)
        self._ax.set(ylim=ylim, xlim=xlim)
        self._label.set_text(f"regime: {state.regime}")
        self._label.set_color(_COLORS[state.regime])
        note = ""
        if not np.any(forward > 0):
            note = "every activation std is 0: no signal gets through"
        elif not np.all(np.isfinite(forward)):
            note = "the activations overflowed float32 (inf): exploding"
        self._note.set_text(note)
        return xlim, ylim

    def describe(self, state: DepthState) -> str:
        stats, d = state.stats, state.stats.depth
        return (
            f"{state.regime} · forward std layer {d} / layer 1 = "
            f"{_ratio_text(stats.forward_std)} ({state.forward_regime}) · backward std "
            f"layer 1 / layer {d} = {_ratio_text(stats.backward_std[::-1])} "
            f"({state.backward_regime})"
        )


def depth_explorer(**kwargs) -> DepthExplorer:
    """A :class:`DepthExplorer`; end a notebook cell with it to show it."""
    return DepthExplorer(**kwargs)
