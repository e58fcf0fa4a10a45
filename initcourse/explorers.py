"""Interactive explorers: move fan-in, depth, initializer and activation, watch the std.

Two widgets for the notebooks, thin wiring over :mod:`initcourse.explorer_math`:

- :class:`FanInExplorer`: the weights of one ``(fan_in, fan_out)`` kernel against the
  theory, and the std against fan-in.
- :class:`DepthExplorer`: the std of the activations (forward) and of the gradients
  (backward) through ``depth`` layers, and the regime: vanishing, stable or exploding.

Every control is an attribute named by the course's vocabulary; setting its ``value``
from Python updates :attr:`readout` at once, and bad values raise instead of being
clamped::

    ex = FanInExplorer()
    ex.fan_in.value = 256
    ex.readout  # 'std measured 0.0629 · theory 0.0625 = 1/√256 · ...'
    ex.set(initializer="he_normal", seed=3)

Figures are updated in place. In a Jupyter kernel with ipympl installed the figure is
an interactive ipympl canvas; elsewhere (tests, benchmarks, a kernel without ipympl) it
is rendered with Agg into an ``ipywidgets.Image`` (a JPEG: fast to encode).
"""

from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from initcourse import _validate, plots
from initcourse import explorer_math as em
from initcourse import initializers as _inits
from initcourse import propagation as _prop
from initcourse.canvas import Explorer, log_limits, nice_up
from initcourse.controls import STYLE, WIDE, Dropdown, IntSlider, IntText, LadderSlider

__all__ = [
    "DepthExplorer",
    "FanInExplorer",
    "classify_regime",
    "depth_explorer",
    "fan_in_explorer",
]

classify_regime = em.classify_regime

#: The seed control's range (a number box).
MAX_SEED = 2**31 - 1

# -- fan-in --------------------------------------------------------------------------------


_DENSITY_LABELS = {
    "truncated_normal": "theory: truncated normal",
    "uniform": "theory: uniform",
    "normal": "theory: normal",
    "orthogonal": "theory: ≈ normal (orthogonal)",
}
_BINS = 60
_FAN_GRID = np.unique(np.round(np.geomspace(1, em.MAX_FAN_IN, 160)).astype(int))


@functools.lru_cache(maxsize=64)
def _std_curve(name: str, fan_out: int) -> np.ndarray:
    """``expected_std`` at every fan_in of ``_FAN_GRID``, shape ``(len(_FAN_GRID),)``."""
    return np.array([_inits.expected_std(name, int(f), fan_out) for f in _FAN_GRID])


def _fmt(value: float) -> str:
    """Four significant digits, trailing zeros kept: 1.000, 0.006400, 64.00, 4096."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:#.4g}".rstrip(".")


class FanInExplorer(Explorer):
    """The weights of one ``(fan_in, fan_out)`` kernel, and its std against fan-in.

    Arguments:
        fan_in: kernel rows, 1 to 4096 (the slider steps through ``LADDER``).
        fan_out: kernel columns, 1 to 1024.
        initializer: a name of ``initcourse.INITIALIZERS``.
        seed: the seed of the ``PRNGKey`` that draws the kernel, >= 0.
        canvas: ``"auto"``, ``"ipympl"`` or ``"image"`` (see the module docstring).

    Controls (ipywidgets): ``.fan_in``, ``.fan_out``, ``.initializer``, ``.seed``.
    ``.readout`` reads like ``std measured 0.1260 · theory 0.1250 = 1/√64 · Var(y) ...``;
    ``.stats`` holds the :class:`~initcourse.explorer_math.KernelStats` behind it, and
    ``.kernel()`` the kernel itself, equal to the Flax initializer's draw.
    """

    css = "initcourse-fan-in-explorer"
    controls = ("fan_in", "fan_out", "initializer", "seed")

    def __init__(self, fan_in=64, fan_out=64, initializer="lecun_normal", seed=0, *,
                 canvas="auto"):
        names = tuple(_inits.INITIALIZERS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        seed = _validate.integral("seed", seed, minimum=0, maximum=MAX_SEED)
        self.fan_in = LadderSlider(
            "fan_in", fan_in, em.LADDER, minimum=1, maximum=em.MAX_FAN_IN,
            style=STYLE, layout=WIDE,
        )
        self.fan_out = LadderSlider(
            "fan_out", fan_out, [v for v in em.LADDER if v <= em.MAX_FAN_OUT],
            minimum=1, maximum=em.MAX_FAN_OUT, style=STYLE, layout=WIDE,
        )
        self.initializer = Dropdown(options=names, value=initializer, description="initializer",
                                   style=STYLE)
        self.seed = IntText(value=seed, min=0, max=MAX_SEED, description="seed",
                                   style=STYLE, layout=widgets.Layout(width="200px"))
        self.stats: em.KernelStats | None = None
        self._build_figure()
        rows = [widgets.HBox([self.fan_in, self.fan_out]),
                widgets.HBox([self.initializer, self.seed])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    def kernel(self) -> np.ndarray:
        """The current kernel, shape ``(fan_in, fan_out)``: what Flax draws for these controls."""
        v = self.values()
        return em.kernel(v["initializer"], v["fan_in"], v["fan_out"], seed=v["seed"])

    def _build_figure(self) -> None:
        red, black = plots.PALETTE["vermillion"], plots.PALETTE["black"]
        with plots.style():
            fig = Figure(figsize=(8.4, 3.8))  # 840 px: fits JupyterLab's notebook column
            hist_ax, std_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
            self._stairs = hist_ax.stairs(
                np.zeros(_BINS), np.linspace(-1, 1, _BINS + 1), fill=True, alpha=0.45,
                color=plots.PALETTE["blue"], label="sampled kernel weights",
            )
            (self._density,) = hist_ax.plot([], [], color=red, label="theory")
            hist_ax.set_title("the kernel's weights")
            hist_ax.set_xlabel("weight value")
            hist_ax.set_ylabel("density")
            (self._theory_curve,) = std_ax.plot([], [], color=black, label="theory")
            (self._theory_point,) = std_ax.plot([], [], "o", ms=13, mfc="none", mew=2.2,
                                                color=black, label="theory, this fan_in")
            (self._measured_point,) = std_ax.plot([], [], "o", ms=8, color=red,
                                                  label="measured, this kernel")
            std_ax.set_xscale("log", base=2)
            std_ax.xaxis.set_major_locator(FixedLocator([1, 4, 16, 64, 256, 1024, 4096]))
            std_ax.xaxis.set_major_formatter(ScalarFormatter())
            std_ax.xaxis.set_minor_locator(NullLocator())
            std_ax.set_yscale("log")
            std_ax.set_xlim(0.8, em.MAX_FAN_IN * 1.25)
            std_ax.set_ylim(0.005, 2.5)
            std_ax.set_title("std against fan_in")
            std_ax.set_xlabel("fan_in")
            std_ax.set_ylabel("std of the kernel")
            std_ax.legend(loc="lower left")
            self._note = std_ax.text(0.5, 0.6, "", transform=std_ax.transAxes, ha="center",
                                     va="center")
            fig.subplots_adjust(left=0.085, right=0.98, bottom=0.15, top=0.9, wspace=0.26)
        self.figure = fig
        self._hist_ax, self._std_ax = hist_ax, std_ax
        self._legend_label = None
        self._animated = [self._stairs, self._density, self._theory_curve,
                          self._theory_point, self._measured_point, self._note]

    @staticmethod
    def compute(fan_in, fan_out, initializer, seed) -> em.KernelStats:
        return em.kernel_stats(initializer, fan_in, fan_out, seed=seed)

    def draw(self, s: em.KernelStats):
        self.stats = s
        ax = self._hist_ax
        if s.constant is None:
            half = nice_up(4.0 * s.theory_std)
            edges = np.linspace(-half, half, _BINS + 1)
            x = np.linspace(-half, half, 301)
            density = em.theory_density(s.family, s.theory_std, x)
            label = _DENSITY_LABELS[s.family]
        else:
            edges = np.linspace(s.constant - 1.0, s.constant + 1.0, _BINS + 1)
            top = _BINS / 2.0  # all the mass in one bin of width 2 / _BINS
            x, density = [s.constant, s.constant], [0.0, top]
            label = f"theory: every weight = {s.constant:g}"
        counts, _ = np.histogram(s.sample, bins=edges, density=True)
        self._stairs.set_data(counts, edges)
        self._density.set_data(x, density)
        xlim = (float(edges[0]), float(edges[-1]))
        ylim = (0.0, nice_up(1.1 * max(float(np.max(counts)), float(np.max(density)))))
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if label != self._legend_label:
            self._density.set_label(label)
            ax.legend(loc="upper right")
            self._legend_label = label

        scalable = s.constant is None
        for artist in (self._theory_curve, self._theory_point, self._measured_point):
            artist.set_visible(scalable)
        if scalable:
            self._theory_curve.set_data(_FAN_GRID, _std_curve(s.name, s.fan_out))
            self._theory_point.set_data([s.fan_in], [s.theory_std])
            self._measured_point.set_data([s.fan_in], [max(s.measured_std, 1e-12)])
            self._note.set_text("")
        else:
            self._note.set_text(
                f"{s.name}: every weight is {s.constant:g},\nso the std is 0 at every fan_in\n"
                "(0 is off this log scale)"
            )
        return xlim, ylim, label

    @staticmethod
    def describe(s: em.KernelStats) -> str:
        return (
            f"std measured {s.measured_std:.4f} · theory {s.theory_std:.4f} = {s.formula}"
            f" · Var(y) {_fmt(s.var_y)} (theory {_fmt(s.var_y_theory)}) for a unit-variance input"
        )


# -- depth ---------------------------------------------------------------------------------


_REGIME_COLORS = {
    "vanishing": plots.PALETTE["blue"],
    "stable": plots.PALETTE["green"],
    "exploding": plots.PALETTE["vermillion"],
}


def _layer_span(depth: int) -> int:
    """The layer axis's extent: the depth rounded up to 10, 25, 50 or 100.

    Four extents only, so that a few cached pictures of the axes serve every depth.
    """
    return next(span for span in (10, 25, 50, 100) if depth <= span)


def _ratio_text(series: np.ndarray) -> str:
    if not np.all(np.isfinite(series)):
        return "overflow"
    if series[0] == 0:
        return "0/0 (no signal)"
    return f"{em.travel_ratio(series):.3g}"


class DepthExplorer(Explorer):
    """The std of activations and gradients through a deep MLP, and its regime.

    Arguments:
        activation: one of ``initcourse.ACTIVATIONS``.
        initializer: a name of ``initcourse.INITIALIZERS``, for every ``(width, width)``
            kernel (biases are zero).
        depth: layers, 1 to 100.
        width: units per layer, 16 to 1024 (the slider steps through ``WIDTHS``).
        seed: draws the kernels, the input batch and the backward cotangent.
        canvas: ``"auto"``, ``"ipympl"`` or ``"image"`` (see the module docstring).

    Controls: ``.activation``, ``.initializer``, ``.depth``, ``.width``, ``.seed``.
    ``.regime`` is ``"vanishing"``, ``"stable"`` or ``"exploding"`` (see
    :func:`classify_regime`: the forward regime, or the backward one if the forward
    pass is stable); ``.readout`` names it with the ratios behind it; ``.stats`` holds
    the :class:`~initcourse.LayerStats` (batch ``DEPTH_BATCH``).
    """

    css = "initcourse-depth-explorer"
    controls = ("activation", "initializer", "depth", "width", "seed")

    def __init__(self, activation="relu", initializer="he_normal", depth=50, width=256,
                 seed=0, *, canvas="auto"):
        names = tuple(_inits.INITIALIZERS)
        _validate.choice("activation", activation, _prop.ACTIVATIONS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        depth = _validate.integral("depth", depth, minimum=1, maximum=em.MAX_DEPTH)
        seed = _validate.integral("seed", seed, minimum=0, maximum=MAX_SEED)
        self.activation = Dropdown(options=_prop.ACTIVATIONS, value=activation,
                                  description="activation", style=STYLE)
        self.initializer = Dropdown(options=names, value=initializer, description="initializer",
                                   style=STYLE)
        self.depth = IntSlider(value=depth, min=1, max=em.MAX_DEPTH, description="depth",
                                      style=STYLE, layout=WIDE)
        self.width = LadderSlider("width", width, em.WIDTHS, minimum=em.MIN_WIDTH,
                                   maximum=em.MAX_WIDTH, style=STYLE, layout=WIDE)
        self.seed = IntText(value=seed, min=0, max=MAX_SEED, description="seed",
                                   style=STYLE, layout=widgets.Layout(width="200px"))
        self.stats: _prop.LayerStats | None = None
        self.regime = ""
        self._build_figure()
        rows = [widgets.HBox([self.activation, self.initializer, self.seed]),
                widgets.HBox([self.depth, self.width])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    def _build_figure(self) -> None:
        blue, orange = plots.PALETTE["blue"], plots.PALETTE["orange"]
        with plots.style():
            fig = Figure(figsize=(8.4, 4.0))  # 840 px: fits JupyterLab's notebook column
            ax = fig.subplots()
            (self._forward,) = ax.plot([], [], color=blue, marker="o", ms=4,
                                       label="forward: std of h_l")
            (self._backward,) = ax.plot([], [], color=orange, marker="o", ms=4,
                                        label="backward: std of dL/dh_l")
            black = plots.PALETTE["black"]
            (self._forward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                              label="mean-field theory")
            (self._backward_theory,) = ax.plot([], [], color=black, ls="--", lw=1.5,
                                               label="_nolegend_")
            ax.set_yscale("log")
            ax.set_title("std of activations and gradients, by layer")
            ax.set_xlabel("layer")
            ax.set_ylabel("std (log scale)")
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
            self._label = fig.text(0.615, 0.84, "", ha="left", va="center", fontsize=18,
                                   fontweight="bold")
            self._note = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center",
                                 va="center")
            fig.subplots_adjust(left=0.11, right=0.6, bottom=0.14, top=0.9)
        self.figure, self._ax = fig, ax
        self._animated = [self._forward, self._backward, self._forward_theory,
                          self._backward_theory, self._label, self._note]

    @staticmethod
    def compute(activation, initializer, depth, width, seed):
        stats = em.depth_stats(initializer, activation, depth, width, seed=seed)
        theory = em.predicted(initializer, activation, depth, width)
        return stats, theory

    def draw(self, state):
        stats, theory = state
        self.stats = stats
        forward, backward = stats.forward_std, stats.backward_std
        self._forward_regime = em.classify_regime(forward)
        self._backward_regime = em.classify_regime(backward[::-1])
        self.regime = em.combined_regime(self._forward_regime, self._backward_regime)

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
        xlim = (0.5, _layer_span(stats.depth) + 0.5)
        ax = self._ax
        ax.set_ylim(*ylim)
        ax.set_xlim(*xlim)
        self._label.set_text(f"regime: {self.regime}")
        self._label.set_color(_REGIME_COLORS[self.regime])
        note = ""
        if not np.any(forward > 0):
            note = "every activation std is 0: no signal gets through"
        elif not np.all(np.isfinite(forward)):
            note = "the activations overflowed float32 (inf): exploding"
        self._note.set_text(note)
        return xlim, ylim

    def describe(self, state) -> str:
        stats, _ = state
        d = stats.depth
        return (
            f"{self.regime} · forward std layer {d} / layer 1 = "
            f"{_ratio_text(stats.forward_std)} ({self._forward_regime}) · backward std "
            f"layer 1 / layer {d} = {_ratio_text(stats.backward_std[::-1])} "
            f"({self._backward_regime})"
        )


def fan_in_explorer(**kwargs) -> FanInExplorer:
    """A :class:`FanInExplorer`; end a notebook cell with it to show it."""
    return FanInExplorer(**kwargs)


def depth_explorer(**kwargs) -> DepthExplorer:
    """A :class:`DepthExplorer`; end a notebook cell with it to show it."""
    return DepthExplorer(**kwargs)
