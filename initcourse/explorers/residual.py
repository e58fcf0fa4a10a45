"""The residual explorer: the std of a residual stream and of its gradient, block by block.

It runs :func:`initcourse.residual.residual_stats` with a capacity of ``MAX_DEPTH`` blocks,
so every depth shares one compiled program, and registry kernels are drawn once per
initializer family and seed: moving the depth, the norm, the branch scale or the branch's
end compiles and draws nothing. The theory (:func:`initcourse.predicted_residual`) is drawn
dashed.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from ipywidgets import HBox
from matplotlib.figure import Figure

from initcourse import _validate
from initcourse.explorers.base import MAX_DEPTH, Explorer, kept, layer_span
from initcourse.explorers.controls import STYLE, WIDE, Dropdown, IntSlider, seed_box
from initcourse.figures import PALETTE, log_limits, style
from initcourse.initializers import INITIALIZERS
from initcourse.propagation.engine import ACTIVATIONS
from initcourse.propagation.regimes import classify_regime, combined_regime, travel_ratio
from initcourse.residual.stack import ResidualStats, fixup_scale, predicted_residual, residual_stats

#: The stream's width and the input batch: an update in a few tens of milliseconds.
WIDTH, BATCH = 128, 64
NORM_OPTIONS = ("none", "pre-LN", "post-LN")
SCALE_OPTIONS = ("1", "1/√L", "Fixup")
END_OPTIONS = ("drawn", "zero")
_NORMS = {"none": None, "pre-LN": "pre", "post-LN": "post"}
_COLORS = {"vanishing": PALETTE["blue"], "stable": PALETTE["green"],
           "exploding": PALETTE["vermillion"]}


@dataclass(frozen=True)
class ResidualState:
    stats: ResidualStats
    theory: dict | None
    scale: float
    zero_end: bool
    forward_regime: str
    backward_regime: str
    regime: str


def branch_settings(scale: str, branch_end: str, depth: int) -> tuple[float, bool]:
    """``(branch_scale, zero_init_last)`` for the explorer's choices: Fixup is its two rules
    for two-layer branches, the inner kernel times ``L^(-1/2)`` and the last one at zero."""
    if scale == "Fixup":
        return fixup_scale(depth), True
    return (1.0 if scale == "1" else 1 / math.sqrt(depth)), branch_end == "zero"


class ResidualExplorer(Explorer):
    """A residual stack's stream and gradient per block, and its regime.

    Controls: ``.initializer`` (a registry name, both kernels of every branch),
    ``.activation``, ``.depth`` (1 to 100 residual blocks), ``.norm`` (``"none"``, ``"pre-LN"``,
    ``"post-LN"``), ``.scale`` (``"1"``, ``"1/√L"``, ``"Fixup"``: ``1/√L`` on the branch and its
    last kernel at zero), ``.branch_end`` (``"drawn"`` or ``"zero"``: the branch's last
    kernel), ``.seed``. Width ``WIDTH``, batch ``BATCH``. ``.stats`` holds the
    :class:`~initcourse.ResidualStats`; ``.regime`` is ``"vanishing"``, ``"stable"`` or
    ``"exploding"`` (of the stream, or of the gradient if the stream is stable).
    """

    css = "initcourse-residual-explorer"
    controls = ("initializer", "activation", "depth", "norm", "scale", "branch_end", "seed")

    def __init__(self, initializer="he_normal", activation="relu", depth=32, norm="none",
                 scale="1", branch_end="drawn", seed=0, *, canvas="auto"):
        names = tuple(INITIALIZERS)
        _validate.choice("initializer", initializer, names)
        _validate.choice("activation", activation, ACTIVATIONS)
        _validate.choice("norm", norm, NORM_OPTIONS)
        _validate.choice("scale", scale, SCALE_OPTIONS)
        _validate.choice("branch_end", branch_end, END_OPTIONS)
        depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
        seed = _validate.seed(seed)
        self.initializer = Dropdown(options=names, value=initializer, description="initializer",
                                    style=STYLE)
        self.activation = Dropdown(options=ACTIVATIONS, value=activation,
                                   description="activation", style=STYLE)
        self.depth = IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth",
                               style=STYLE, layout=WIDE)
        self.norm = Dropdown(options=NORM_OPTIONS, value=norm, description="norm", style=STYLE)
        self.scale = Dropdown(options=SCALE_OPTIONS, value=scale, description="branch scale",
                              style=STYLE)
        self.branch_end = Dropdown(options=END_OPTIONS, value=branch_end,
                                   description="branch's last kernel", style=STYLE)
        self.seed = seed_box(seed)
        self._theory: OrderedDict = OrderedDict()
        self._build_figure()
        rows = [HBox([self.initializer, self.activation, self.seed]),
                HBox([self.norm, self.scale, self.branch_end]), HBox([self.depth])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    @property
    def stats(self) -> ResidualStats:
        return self.state.stats

    @property
    def regime(self) -> str:
        return self.state.regime

    def _build_figure(self) -> None:
        black = PALETTE["black"]
        with style():
            fig = Figure(figsize=(8.4, 4.0))
            ax = fig.subplots()
            (self._forward,) = ax.plot([], [], color=PALETTE["blue"], marker="o", ms=3,
                                       label="forward: std of the stream x_l")
            (self._backward,) = ax.plot([], [], color=PALETTE["orange"], marker="s", ls="-.", ms=3,
                                        label="backward: std of dL/dx_l")
            (self._forward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                              label="theory (wide layers)")
            (self._backward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                               label="_nolegend_")
            ax.set_yscale("log")
            ax.set(title="a residual stack at init, block by block", xlabel="block l",
                   ylabel="std (log scale)")
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
            self._label = fig.text(0.615, 0.84, "", ha="left", va="center", fontsize=18,
                                   fontweight="bold")
            fig.subplots_adjust(left=0.11, right=0.6, bottom=0.14, top=0.9)
        self.figure, self._ax = fig, ax
        self._animated = [self._forward, self._backward, self._forward_theory,
                          self._backward_theory, self._label]

    def compute(self, initializer, activation, depth, norm, scale, branch_end, seed):
        branch_scale, zero = branch_settings(scale, branch_end, depth)
        kwargs = dict(depth=depth, width=WIDTH, activation=activation, norm=_NORMS[norm],
                      branch_scale=branch_scale, zero_init_last=zero)
        stats = residual_stats(initializer, seed=seed, batch=BATCH, capacity=MAX_DEPTH, **kwargs)
        theory = kept(self._theory, (initializer, *kwargs.values()),
                      lambda: predicted_residual(initializer, **kwargs), keep=64)
        forward = classify_regime(stats.stream_std)
        backward = classify_regime(stats.grad_std[::-1])  # it travels from the output back
        return ResidualState(stats, theory, branch_scale, zero, forward, backward,
                             combined_regime(forward, backward))

    def draw(self, state: ResidualState):
        stats, theory = state.stats, state.theory
        blocks = np.arange(stats.depth + 1)
        with np.errstate(invalid="ignore", divide="ignore"):  # an overflowed stack: inf / inf
            grad = stats.grad_std / stats.grad_std[-1] if stats.grad_std[-1] > 0 else stats.grad_std
        self._forward.set_data(blocks, stats.stream_std)
        self._backward.set_data(blocks, grad)
        self._forward_theory.set_data(blocks, theory["stream_std"])
        self._backward_theory.set_data(blocks, theory["grad_std"])
        shown = np.concatenate([stats.stream_std, grad, theory["stream_std"], theory["grad_std"]])
        ylim = log_limits(shown[np.isfinite(shown)])
        held = self._ax.get_ylim()
        if held[0] <= ylim[0] and ylim[1] <= held[1] and held[1] / held[0] <= 1e4 * ylim[1] / ylim[0]:
            ylim = held
        xlim = (-0.5, layer_span(max(stats.depth, 1)) + 0.5)
        self._ax.set(ylim=ylim, xlim=xlim)
        self._label.set_text(f"regime: {state.regime}")
        self._label.set_color(_COLORS[state.regime])
        return xlim, ylim

    def describe(self, state: ResidualState) -> str:
        s = state.stats
        end = "last kernels at zero" if state.zero_end else "last kernels drawn"
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = s.grad_std[0] / s.grad_std[-1] if s.grad_std[-1] > 0 else float("nan")
        return (f"{state.regime} · stream std ×{travel_ratio(s.stream_std):.3g} over {s.depth} "
                f"blocks · gradient at the input ÷ at the output {grad:.3g} · branch scale "
                f"{state.scale:.3g}, {end}")


def residual_explorer(**kwargs) -> ResidualExplorer:
    """A :class:`ResidualExplorer`; end a notebook cell with it to show it."""
    return ResidualExplorer(**kwargs)
