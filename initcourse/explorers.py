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

import base64
import functools
import html
import io
import math
from collections import OrderedDict

import ipywidgets as widgets
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from initcourse import _validate, plots
from initcourse import explorer_math as em
from initcourse import initializers as _inits
from initcourse import propagation as _prop

__all__ = [
    "DepthExplorer",
    "FanInExplorer",
    "classify_regime",
    "depth_explorer",
    "fan_in_explorer",
]

classify_regime = em.classify_regime

CANVASES = ("auto", "ipympl", "image")

#: The seed control's range (a number box).
MAX_SEED = 2**31 - 1

# -- controls that raise instead of clamping -------------------------------------------------


class _AnyButNone(traitlets.Any):
    """``Any`` that refuses None. (``Any(allow_none=False)`` does not: traitlets keeps the
    class's ``allow_none = True`` and then skips validation for None.)"""

    allow_none = False


class _StrictInt(traitlets.HasTraits):
    """Mixin for integer widgets: ``value`` must be a whole number within ``[min, max]``.

    ipywidgets clamps out-of-range values and truncates floats silently; this raises,
    naming the control (its ``description``) and showing the value received.
    """

    value = _AnyButNone(0, help="Int value").tag(sync=True)

    def check(self, value) -> int:
        return _validate.integral(self.description, value, minimum=self.min, maximum=self.max)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self.check(proposal.value)


class _StrictIntSlider(_StrictInt, widgets.IntSlider):
    """An ``IntSlider`` that raises on out-of-range or non-integral values."""


class _StrictIntText(_StrictInt, widgets.BoundedIntText):
    """A ``BoundedIntText`` that raises on out-of-range or non-integral values."""


class _LadderSlider(widgets.SelectionSlider):
    """A slider over log-spaced whole numbers, for ranges like 1 to 4096.

    Dragging and the arrow keys step through ``ladder``, so small and large values are
    equally reachable. Setting ``value`` from Python accepts any whole number in
    ``[minimum, maximum]``: a value off the ladder is added to it.
    """

    value = _AnyButNone(help="Selected value")

    def __init__(self, name: str, value, ladder, *, minimum: int, maximum: int, **kwargs):
        self._bounds = (minimum, maximum)
        self._ladder = tuple(ladder)
        value = _validate.integral(name, value, minimum=minimum, maximum=maximum)
        super().__init__(
            options=self._rungs(value), value=value, description=name, **kwargs
        )

    @property
    def min(self) -> int:
        return self._bounds[0]

    @property
    def max(self) -> int:
        return self._bounds[1]

    def _rungs(self, value: int) -> tuple[int, ...]:
        return tuple(sorted(set(self._ladder) | {value}))

    def check(self, value) -> int:
        return _validate.integral(self.description, value, minimum=self.min, maximum=self.max)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = self.check(proposal.value)
        if value not in self._options_values:
            # Swap in the ladder plus this value without the options observer, which would
            # reset the selection to the first option.
            rungs = self._rungs(value)
            self._options_full = tuple((str(v), v) for v in rungs)
            self._trait_values["options"] = rungs
            self.set_trait("_options_labels", tuple(str(v) for v in rungs))
            self._options_values = rungs
        return value


class _Choice(widgets.Dropdown):
    """A ``Dropdown`` whose errors name the control and list the options."""

    value = _AnyButNone(help="Selected value")

    def check(self, value) -> str:
        return _validate.choice(self.description, value, self._options_values)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self.check(proposal.value)


_STYLE = {"description_width": "90px"}
_WIDE = widgets.Layout(width="440px")


# -- figure views ------------------------------------------------------------------------------


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _ipympl_available() -> bool:
    try:
        import ipympl.backend_nbagg  # noqa: F401
    except ImportError:
        return False
    return True


class _FigureView:
    """Shows a matplotlib ``Figure`` as a widget and redraws it after artists change.

    ``"ipympl"``: an interactive ipympl canvas. ``"image"``: Agg renders a JPEG into an
    ``ipywidgets.Image`` (works in every front end, and without one).

    Redraws blit: the ``animated`` artists (lines, bars, markers) are drawn over a cached
    picture of everything else (axes, ticks, labels, legends), one picture per ``key``
    the caller gives for that static part (its axis limits, say). Only a new key costs
    a full draw.
    """

    _KEEP = 24  # cached backgrounds (about 2 MB each)

    def __init__(self, figure: Figure, canvas: str, animated):
        canvas = _validate.choice("canvas", canvas, CANVASES)
        if canvas == "auto":
            canvas = "ipympl" if _in_kernel() and _ipympl_available() else "image"
        self.kind = canvas
        self.figure = figure
        self._animated = list(animated)
        for artist in self._animated:
            artist.set_animated(True)
        self._backgrounds: OrderedDict = OrderedDict()
        self._key = None
        self.full_draws = 0
        if canvas == "ipympl":
            from ipympl.backend_nbagg import Canvas, FigureManager

            view = Canvas(figure)
            FigureManager(view, 0)
            view.header_visible = False
            view.footer_visible = False
            view.resizable = False
            # ipympl keeps a copy of every image in the widget state until a front end
            # connects, and stores it without its "data:" prefix, which breaks the first
            # view; the front end asks for a fresh image anyway when it connects.
            view.syncing_data_url = False
            self.widget = view
        else:
            FigureCanvasAgg(figure)
            self.widget = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%"))
        figure.canvas.mpl_connect("draw_event", self._on_draw)

    def _full_key(self):
        return (self._key, self.figure.dpi, self.figure.canvas.get_width_height())

    def _on_draw(self, event) -> None:
        # Any full draw (ours, or one the ipympl front end asks for): keep the static
        # picture, then paint the animated artists over it.
        self.full_draws += 1
        self._backgrounds[self._full_key()] = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        while len(self._backgrounds) > self._KEEP:
            self._backgrounds.popitem(last=False)
        self._paint()

    def _paint(self) -> None:
        for artist in self._animated:
            self.figure.draw_artist(artist)

    def refresh(self, key) -> None:
        """Show the figure's current state; ``key`` names its static part."""
        self._key = key
        canvas = self.figure.canvas
        background = self._backgrounds.get(self._full_key())
        if background is None:
            canvas.draw()  # draw_event: caches the background, paints the artists
        else:
            self._backgrounds.move_to_end(self._full_key())
            canvas.restore_region(background)
            self._paint()
            if self.kind == "ipympl":
                canvas.blit(self.figure.bbox)
        if self.kind == "image":
            self.widget.value = self.image()

    def image(self) -> bytes:
        """The canvas as last drawn, as JPEG bytes.

        JPEG at quality 92 without chroma subsampling: a few milliseconds per frame where
        PNG takes five times longer, and no visible loss on lines and text.
        """
        from PIL import Image

        canvas = self.figure.canvas
        rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        buffer = io.BytesIO()
        rgba.convert("RGB").save(buffer, format="jpeg", quality=92, subsampling=0)
        return buffer.getvalue()


# -- the shared machinery ---------------------------------------------------------------------


class _Explorer:
    """Controls, a figure and a readout.

    Subclasses build ``figure`` and the list ``_animated`` of the artists that change, and
    define ``_compute(**controls) -> state``, ``_draw(state) -> key`` (update the artists;
    return what determines the rest of the figure, e.g. axis limits) and
    ``_describe(state) -> str``.
    """

    _css = ""
    _control_names: tuple[str, ...] = ()

    def _assemble(self, rows, canvas: str) -> None:
        self._batching = False
        self._readout = ""
        self._view = _FigureView(self.figure, canvas, self._animated)
        self._readout_widget = widgets.HTML()
        self._readout_widget.add_class("initcourse-readout")
        self.widget = widgets.VBox([*rows, self._view.widget, self._readout_widget])
        self.widget.add_class(self._css)
        for name in self._control_names:
            getattr(self, name).observe(self._on_change, names="value")
        self._update()

    @property
    def readout(self) -> str:
        """The current readout, as plain text."""
        return self._readout

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: getattr(self, name).value for name in self._control_names}

    def set(self, **values) -> None:
        """Set several controls at once (one update). Every value is checked first.

        Raises ``TypeError`` for an unknown control and the control's own error for a
        bad value; nothing changes then.
        """
        unknown = [name for name in values if name not in self._control_names]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no control {unknown[0]!r}; "
                f"its controls are {', '.join(self._control_names)}"
            )
        checked = {name: getattr(self, name).check(v) for name, v in values.items()}
        self._batching = True
        try:
            for name, value in checked.items():
                getattr(self, name).value = value
        finally:
            self._batching = False
        self._update()

    def _on_change(self, change) -> None:
        if not self._batching:
            self._update()

    def _update(self) -> None:
        state = self._compute(**self.values())
        with plots.style():
            key = self._draw(state)
        self._view.refresh(key)
        self._readout = self._describe(state)
        self._readout_widget.value = (
            '<div style="font-size: 1.25em; font-family: monospace; padding: 4px 0">'
            f"{html.escape(self._readout)}</div>"
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        return f"{type(self).__name__}({args}): {self._readout}"

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        # A still picture of the figure, shown where the live widget is not (a notebook
        # opened before its cells run, a static viewer): the front end prefers the widget.
        data["image/png"] = base64.b64encode(self._png()).decode("ascii")
        data["text/plain"] = repr(self)
        return data

    def _png(self) -> bytes:
        # The pixels the canvas holds now (both canvases render with Agg); no redraw.
        from matplotlib.image import imsave

        buffer = io.BytesIO()
        imsave(buffer, np.asarray(self.figure.canvas.buffer_rgba()), format="png")
        return buffer.getvalue()


def _nice_up(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7 times a power of ten that is >= ``value``.

    Axis limits snap to these, so a few cached backgrounds serve every update.
    """
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


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


class FanInExplorer(_Explorer):
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

    _css = "initcourse-fan-in-explorer"
    _control_names = ("fan_in", "fan_out", "initializer", "seed")

    def __init__(self, fan_in=64, fan_out=64, initializer="lecun_normal", seed=0, *,
                 canvas="auto"):
        names = tuple(_inits.INITIALIZERS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        seed = _validate.integral("seed", seed, minimum=0, maximum=MAX_SEED)
        self.fan_in = _LadderSlider(
            "fan_in", fan_in, em.LADDER, minimum=1, maximum=em.MAX_FAN_IN,
            style=_STYLE, layout=_WIDE,
        )
        self.fan_out = _LadderSlider(
            "fan_out", fan_out, [v for v in em.LADDER if v <= em.MAX_FAN_OUT],
            minimum=1, maximum=em.MAX_FAN_OUT, style=_STYLE, layout=_WIDE,
        )
        self.initializer = _Choice(options=names, value=initializer, description="initializer",
                                   style=_STYLE)
        self.seed = _StrictIntText(value=seed, min=0, max=MAX_SEED, description="seed",
                                   style=_STYLE, layout=widgets.Layout(width="200px"))
        self.stats: em.KernelStats | None = None
        self._build_figure()
        rows = [widgets.HBox([self.fan_in, self.fan_out]),
                widgets.HBox([self.initializer, self.seed])]
        self._assemble(rows, canvas)

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
    def _compute(fan_in, fan_out, initializer, seed) -> em.KernelStats:
        return em.kernel_stats(initializer, fan_in, fan_out, seed=seed)

    def _draw(self, s: em.KernelStats):
        self.stats = s
        ax = self._hist_ax
        if s.constant is None:
            half = _nice_up(4.0 * s.theory_std)
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
        ylim = (0.0, _nice_up(1.1 * max(float(np.max(counts)), float(np.max(density)))))
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
    def _describe(s: em.KernelStats) -> str:
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


def _decades(values: np.ndarray) -> tuple[float, float]:
    """Log-axis limits on whole decades around the positive finite ``values``."""
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e-3, 10.0
    low = math.floor(math.log10(values.min()) - 0.2)
    high = math.ceil(math.log10(values.max()) + 0.2)
    low, high = max(low, -300), min(high, 300)
    if high - low < 2:  # at least two decades, so a flat line looks flat
        low, high = low - 1, high + 1
    return 10.0**low, 10.0**high


def _ratio_text(series: np.ndarray) -> str:
    if not np.all(np.isfinite(series)):
        return "overflow"
    if series[0] == 0:
        return "0/0 (no signal)"
    return f"{em.travel_ratio(series):.3g}"


class DepthExplorer(_Explorer):
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

    _css = "initcourse-depth-explorer"
    _control_names = ("activation", "initializer", "depth", "width", "seed")

    def __init__(self, activation="relu", initializer="he_normal", depth=50, width=256,
                 seed=0, *, canvas="auto"):
        names = tuple(_inits.INITIALIZERS)
        _validate.choice("activation", activation, _prop.ACTIVATIONS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        depth = _validate.integral("depth", depth, minimum=1, maximum=em.MAX_DEPTH)
        seed = _validate.integral("seed", seed, minimum=0, maximum=MAX_SEED)
        self.activation = _Choice(options=_prop.ACTIVATIONS, value=activation,
                                  description="activation", style=_STYLE)
        self.initializer = _Choice(options=names, value=initializer, description="initializer",
                                   style=_STYLE)
        self.depth = _StrictIntSlider(value=depth, min=1, max=em.MAX_DEPTH, description="depth",
                                      style=_STYLE, layout=_WIDE)
        self.width = _LadderSlider("width", width, em.WIDTHS, minimum=em.MIN_WIDTH,
                                   maximum=em.MAX_WIDTH, style=_STYLE, layout=_WIDE)
        self.seed = _StrictIntText(value=seed, min=0, max=MAX_SEED, description="seed",
                                   style=_STYLE, layout=widgets.Layout(width="200px"))
        self.stats: _prop.LayerStats | None = None
        self.regime = ""
        self._build_figure()
        rows = [widgets.HBox([self.activation, self.initializer, self.seed]),
                widgets.HBox([self.depth, self.width])]
        self._assemble(rows, canvas)

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
    def _compute(activation, initializer, depth, width, seed):
        stats = em.depth_stats(initializer, activation, depth, width, seed=seed)
        theory = em.predicted(initializer, activation, depth, width)
        return stats, theory

    def _draw(self, state):
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
        ylim = _decades(np.concatenate(shown))
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

    def _describe(self, state) -> str:
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
