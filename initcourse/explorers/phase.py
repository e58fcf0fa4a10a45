"""The phase explorer: move sigma_w2, sigma_b2 and the activation, watch order turn to chaos.

Three panels over one computation (:func:`phase_state`): the phase diagram of the
activation with the current point, the correlation map ``c_l -> c_{l+1}`` at the fixed
point ``q*``, and the correlation of two inputs layer by layer, measured on a real stack of
``nn.Dense`` layers (:class:`~initcourse.meanfield.correlation.PairStack`) beside the theory. The
readout names the phase and gives ``chi1`` and the depth scale ``xi_c`` in layers::

    ex = phase_explorer()
    ex.set(sigma_w2=2.5)
    ex.readout  # 'chaotic · chi1 1.150 · xi_c 11.8 layers · ...'

Moving a slider never recompiles: the stack is drawn once (per seed) at unit scale, and
``sigma_w2``, ``sigma_b2``, the activation and the depth are runtime inputs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from initcourse import _validate, figures
from initcourse.activations import ACTIVATIONS
from initcourse.explorers import base, controls
from initcourse.meanfield import edge
from initcourse.meanfield import maps as mf
from initcourse.meanfield.correlation import PairStack

__all__ = [
    "C0",
    "PhaseExplorer",
    "PhaseState",
    "phase_explorer",
    "phase_state",
    "phase_theory",
]

#: The range of the controls.
SIGMA_W2_RANGE = (0.5, 5.0)
SIGMA_B2_RANGE = (0.0, 0.5)
#: The two inputs' correlation, and the stack measured (width, pairs averaged).
C0 = 0.6
WIDTH, PAIRS = 512, 16
#: Where the correlation map is evaluated (drawn and iterated by linear interpolation).
C_GRID = np.array([0.0, 0.15, 0.3, 0.45, 0.6, 0.72, 0.84, 0.93, 0.98, 1.0])
#: The phase diagram's grid (its background colours).
_DIAGRAM_W2 = np.linspace(*SIGMA_W2_RANGE, 28)
_DIAGRAM_B2 = np.linspace(*SIGMA_B2_RANGE, 8)

_COLORS = {
    "ordered": figures.PALETTE["blue"],
    "critical": figures.PALETTE["green"],
    "chaotic": figures.PALETTE["vermillion"],
    "exploding": figures.PALETTE["orange"],
}


@dataclass(frozen=True)
class PhaseState:
    """What the explorer shows for one setting of its controls.

    Attributes:
        activation, sigma_w2, sigma_b2, depth: the controls.
        phase: one of ``initcourse.meanfield.maps.PHASES``.
        scales: :class:`~initcourse.meanfield.maps.DepthScales`, or None when exploding.
        c_map: ``f(C_GRID)``, the correlation map at ``q*`` (None when exploding).
        theory: ``(depth,)`` the theory's ``c_l`` for inputs of correlation ``C0`` whose
            first layer is at ``q*`` (None when exploding).
        measured: ``(depth,)`` the same, measured on the stack (NaN where the signal is gone).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    phase: str
    scales: mf.DepthScales | None
    c_map: np.ndarray | None
    theory: np.ndarray | None
    measured: np.ndarray


def _input_length(scales, sigma_w2: float, sigma_b2: float) -> float:
    """The inputs' mean square that puts layer 1 at ``q*`` (floored at a tiny length)."""
    if scales is None:
        return 1.0
    return max((max(scales.q_star, 1e-3) - sigma_b2) / sigma_w2, 1e-3 / sigma_w2)


def phase_theory(activation: str, sigma_w2, sigma_b2):
    """``(phase, scales, c_map)``: the theory's part of :class:`PhaseState` (no stack)."""
    phase = mf.phase(activation, sigma_w2, sigma_b2)
    if phase == "exploding":
        return phase, None, None
    scales = mf.depth_scales(activation, sigma_w2, sigma_b2)
    c_map = mf.correlation_map(activation, sigma_w2, sigma_b2, C_GRID, q=scales.q_star)
    return phase, scales, c_map


def phase_state(activation: str, sigma_w2, sigma_b2, depth, *, stack: PairStack,
                theory=None) -> PhaseState:
    """Compute everything the explorer shows, with ``stack`` for the measured part.

    ``theory`` is :func:`phase_theory`'s result for these arguments, if already known.
    The theory's ``c_l`` iterates the correlation map, evaluated at ``C_GRID`` and
    interpolated linearly in between (within about 2e-3 of the exact map), from
    ``c_1 = (sigma_w2 q0 C0 + sigma_b2) / q*``.
    """
    phase, scales, c_map = theory or phase_theory(activation, sigma_w2, sigma_b2)
    q0 = _input_length(scales, sigma_w2, sigma_b2)
    measured = stack.measure(activation, sigma_w2, sigma_b2, depth, c0=C0, q0=q0).c
    curve = None
    if scales is not None:
        q1 = sigma_w2 * q0 + sigma_b2
        c = (sigma_w2 * q0 * C0 + sigma_b2) / q1
        curve = np.empty(depth)
        for layer in range(depth):
            curve[layer] = c
            c = float(np.interp(c, C_GRID, c_map))
    return PhaseState(activation, float(sigma_w2), float(sigma_b2), int(depth), phase, scales,
                      c_map, curve, measured)


def _xi_text(xi: float) -> str:
    return "∞" if math.isinf(xi) else f"{xi:.1f}"


class PhaseExplorer(base.Explorer):
    """The phase diagram, the correlation map and two inputs through a real deep stack.

    Arguments:
        activation: a name of ``initcourse.ACTIVATIONS``.
        sigma_w2: the kernels' variance times width, 0.5 to 5 (LeCun: 1, He: 2).
        sigma_b2: the biases' variance, 0 to 0.5.
        depth: layers of the measured stack, 1 to 100.
        seed: draws the stack and the input pairs.
        canvas: ``"auto"``, ``"ipympl"`` or ``"image"`` (see :mod:`initcourse.explorers.base`).

    Controls: ``.activation``, ``.sigma_w2``, ``.sigma_b2``, ``.depth``, ``.seed``;
    ``.state`` holds the :class:`PhaseState` behind the figure and ``.readout``.
    """

    controls = ("activation", "sigma_w2", "sigma_b2", "depth", "seed")
    css = "initcourse-phase-explorer"

    def __init__(self, activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0, *,
                 canvas="auto"):
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        _validate.choice("activation", activation, tuple(ACTIVATIONS))
        seed = _validate.seed(seed)
        depth = _validate.integral("depth", depth, minimum=1, maximum=base.MAX_DEPTH)
        for name, value, (low, high) in (("sigma_w2", sigma_w2, SIGMA_W2_RANGE),
                                         ("sigma_b2", sigma_b2, SIGMA_B2_RANGE)):
            controls.FloatSlider.check_value(name, value, low, high)
        style, wide = controls.STYLE, controls.WIDE
        self.activation = controls.Dropdown(options=tuple(ACTIVATIONS), value=activation,
                                            description="activation", style=style)
        self.sigma_w2 = controls.FloatSlider(value=SIGMA_W2_RANGE[0], min=SIGMA_W2_RANGE[0],
                                    max=SIGMA_W2_RANGE[1], step=0.01, description="sigma_w2",
                                    readout_format=".2f", style=style, layout=dict(wide))
        self.sigma_w2.value = sigma_w2
        self.sigma_b2 = controls.FloatSlider(value=SIGMA_B2_RANGE[0], min=SIGMA_B2_RANGE[0],
                                    max=SIGMA_B2_RANGE[1], step=0.005, description="sigma_b2",
                                    readout_format=".3f", style=style, layout=dict(wide))
        self.sigma_b2.value = sigma_b2
        self.depth = controls.IntSlider(value=1, min=1, max=base.MAX_DEPTH, description="depth",
                                        style=style, layout=dict(wide))
        self.depth.value = depth
        self.seed = controls.seed_box(seed)
        self.state: PhaseState | None = None
        #: The measured layers (the seed's), drawn when first needed.
        self.stack: PairStack | None = None
        self._diagrams: dict[str, tuple] = {}
        self._theory: OrderedDict = OrderedDict()
        self._build_figure()
        rows = [widgets.HBox([self.activation, self.seed]),
                widgets.HBox([self.sigma_w2, self.sigma_b2]), self.depth]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    # -- compute ---------------------------------------------------------------------------

    def _stack_for(self, seed: int) -> PairStack:
        if self.stack is None or self.stack.seed != seed:
            self.stack = None  # free the old layers before drawing new ones
            self.stack = PairStack(WIDTH, seed=seed, pairs=PAIRS, max_depth=base.MAX_DEPTH)
        return self.stack

    def compute(self, activation, sigma_w2, sigma_b2, depth, seed) -> PhaseState:
        point = (activation, sigma_w2, sigma_b2)
        theory = base.kept(self._theory, point, lambda: phase_theory(*point), keep=256)
        return phase_state(activation, sigma_w2, sigma_b2, depth, stack=self._stack_for(seed),
                           theory=theory)

    def _diagram(self, activation: str):
        """The phase grid and the critical curve of ``activation`` (computed once)."""
        if activation not in self._diagrams:
            grid = edge.phase_grid(activation, _DIAGRAM_W2, _DIAGRAM_B2)
            curve = edge.critical_curve(activation, sigma_b2_max=SIGMA_B2_RANGE[1], points=80)
            self._diagrams[activation] = (grid, curve)
        return self._diagrams[activation]

    # -- figure ------------------------------------------------------------------------------

    def _build_figure(self) -> None:
        black = figures.PALETTE["black"]
        with figures.style():
            fig = Figure(figsize=(8.4, 3.5))  # 840 px: fits JupyterLab's notebook column
            diag, cmap_ax, layer_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1.2]})
            cmap = ListedColormap([_COLORS[p] for p in mf.PHASES])
            dw = (_DIAGRAM_W2[1] - _DIAGRAM_W2[0]) / 2
            db = (_DIAGRAM_B2[1] - _DIAGRAM_B2[0]) / 2
            self._background = diag.imshow(
                np.zeros((_DIAGRAM_B2.size, _DIAGRAM_W2.size)), origin="lower", aspect="auto",
                cmap=cmap, vmin=-0.5, vmax=len(mf.PHASES) - 0.5, alpha=0.25,
                extent=(_DIAGRAM_W2[0] - dw, _DIAGRAM_W2[-1] + dw, _DIAGRAM_B2[0] - db,
                        _DIAGRAM_B2[-1] + db))
            (self._critical,) = diag.plot([], [], color=_COLORS["critical"], lw=2.5,
                                          label="critical line")
            diag.plot([1.0], [0.0], "s", color=black, ms=7, clip_on=False,
                      label="LeCun/Glorot, zero bias")
            diag.plot([2.0], [0.0], "^", color=black, ms=8, clip_on=False, label="He, zero bias")
            (self._point,) = diag.plot([], [], "o", ms=11, mfc="white", mew=2.5, color=black,
                                       clip_on=False)
            diag.set_xlim(SIGMA_W2_RANGE)
            diag.set_ylim(SIGMA_B2_RANGE)
            diag.set_xlabel("sigma_w2")
            diag.set_ylabel("sigma_b2")
            diag.legend(loc="upper left", fontsize=8, framealpha=0.9)
            diag.grid(False)

            cmap_ax.plot([0, 1], [0, 1], color=black, ls=":", lw=1.2)
            (self._map_line,) = cmap_ax.plot([], [], color=figures.PALETTE["blue"])
            (self._map_star,) = cmap_ax.plot([], [], "o", color=figures.PALETTE["blue"], ms=7)
            cmap_ax.set_xlim(0, 1)
            cmap_ax.set_ylim(0, 1.02)
            cmap_ax.set_xlabel("c of layer l")
            cmap_ax.set_ylabel("c of layer l+1")
            cmap_ax.set_title("correlation map", fontsize=12)

            (self._theory_line,) = layer_ax.plot([], [], color=black, ls="--", lw=1.6,
                                                 label="mean-field theory")
            (self._measured_dots,) = layer_ax.plot([], [], "o", ms=3.5,
                                                   color=figures.PALETTE["vermillion"],
                                                   label=f"measured, width {WIDTH}")
            layer_ax.set_ylim(0, 1.02)
            layer_ax.set_xlabel("layer")
            layer_ax.set_ylabel("correlation c")
            layer_ax.set_title("two inputs, layer by layer", fontsize=12)
            layer_ax.legend(loc="lower left", fontsize=8)
            self._label = fig.text(0.01, 0.97, "", ha="left", va="top", fontsize=15,
                                   fontweight="bold")
            fig.subplots_adjust(left=0.08, right=0.99, bottom=0.16, top=0.84, wspace=0.42)
        self.figure = fig
        self._diag_ax, self._layer_ax = diag, layer_ax
        self._shown_activation = None
        self._animated = [self._point, self._map_line, self._map_star, self._theory_line,
                          self._measured_dots, self._label]

    def draw(self, state: PhaseState):
        self.state = state
        if state.activation != self._shown_activation:  # static: part of the cached picture
            grid, (curve_w2, curve_b2) = self._diagram(state.activation)
            self._background.set_data(grid)
            self._critical.set_data(curve_w2, curve_b2)
            self._diag_ax.set_title(f"phases of {state.activation}", fontsize=12)
            self._shown_activation = state.activation
        self._point.set_data([state.sigma_w2], [state.sigma_b2])
        layers = np.arange(1, state.depth + 1)
        self._measured_dots.set_data(layers, state.measured)
        if state.scales is not None:
            self._map_line.set_data(C_GRID, state.c_map)
            self._map_star.set_data([state.scales.c_star], [state.scales.c_star])
            self._theory_line.set_data(layers, state.theory)
        else:
            for artist in (self._map_line, self._map_star, self._theory_line):
                artist.set_data([], [])
        self._label.set_text(state.phase)
        self._label.set_color(_COLORS[state.phase])
        span = base.layer_span(state.depth)
        self._layer_ax.set_xlim(0.5, span + 0.5)
        return state.activation, span

    def describe(self, state: PhaseState) -> str:
        last = state.measured[-1]
        measured = "gone (0/0)" if not np.isfinite(last) else f"{last:.3f}"
        if state.scales is None:
            return (f"exploding · the length q grows without bound: no fixed point q* · "
                    f"measured c at layer {state.depth}: {measured}")
        s = state.scales
        return (f"{state.phase} · chi1 {s.chi1:.3f} · xi_c {_xi_text(s.xi_c)} layers · "
                f"q* {s.q_star:.3g} · c* {s.c_star:.3f} · c at layer {state.depth}: measured "
                f"{measured}, theory {state.theory[-1]:.3f}")


def phase_explorer(**kwargs) -> PhaseExplorer:
    """A :class:`PhaseExplorer`; end a notebook cell with it to show it."""
    return PhaseExplorer(**kwargs)
