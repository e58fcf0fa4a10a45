"""The fan-in explorer: the weights of one ``(fan_in, fan_out)`` kernel against the theory.

Inside a distribution family every initializer scales the same unit-variance draws, and
a kernel of ``fan_in * fan_out`` weights is the first ``fan_in * fan_out`` values of one
long flat draw. So one draw per ``(family, seed)`` serves every shape (:class:`KernelDraws`,
owned by the explorer): a kernel is a slice of it, scaled, and block sums give the std of
any prefix without a pass over the weights. An update costs a few hundred operations.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import ipywidgets as widgets
import jax
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from initcourse import _validate
from initcourse.explorers.base import Explorer, kept
from initcourse.explorers.controls import STYLE, WIDE, Dropdown, LadderSlider, seed_box
from initcourse.figures import PALETTE, nice_up, style
from initcourse.initializers import FAMILIES, INITIALIZERS, TRUNCATED_NORMAL_STD, spec, unit_draw

MAX_FAN_IN, MAX_FAN_OUT = 4096, 1024
#: The whole numbers the sliders step through: every value up to 8, then four steps per
#: doubling (x1.25, x1.5, x1.75, x2).
LADDER = tuple([1, 2, 3, 4, 5, 6, 7] + [b * k // 4 for b in (8, 16, 32, 64, 128, 256, 512, 1024,
                                                             2048) for k in (4, 5, 6, 7)] + [4096])
#: Number of weights the histogram shows at most (the first ones of the kernel).
HISTOGRAM_SAMPLE = 20_000
_BLOCK = 1024  # a flat draw is drawn as (rows, _BLOCK): with JAX's partitionable threefry
_FLAT = MAX_FAN_IN * MAX_FAN_OUT  # its row-major values are those of a flat draw


@dataclass(frozen=True)
class KernelStats:
    """What the fan-in explorer shows for one kernel: ``measured_std`` of all its weights
    against ``theory_std`` (``formula``: it as arithmetic); ``var_y = fan_in * mean(w**2)``,
    the variance of an output ``x @ kernel`` for a unit-variance input, against
    ``var_y_theory``; ``sample``, the first ``HISTOGRAM_SAMPLE`` weights at most;
    ``constant``, the weight of ``zeros``/``ones`` (else None)."""

    name: str
    fan_in: int
    fan_out: int
    seed: int
    family: str
    measured_std: float
    theory_std: float
    formula: str
    var_y: float
    var_y_theory: float
    sample: np.ndarray
    constant: float | None


_flat_draw = jax.jit(lambda family, key: unit_draw(family, key, (_FLAT // _BLOCK, _BLOCK)))


class KernelDraws:
    """Flat unit draws with their block prefix sums (16 MiB each) and orthogonal kernels
    (up to 32 MiB each), ``KEEP`` of each at most, owned by one explorer."""

    KEEP = 3

    def __init__(self):
        self._flat: OrderedDict = OrderedDict()
        self._orthogonal: OrderedDict = OrderedDict()

    def flat(self, family: str, seed: int):
        """``(values, block_sum, block_sum_sq)`` of the flat draw of ``family`` for ``seed``."""
        def make():
            values = np.asarray(_flat_draw(FAMILIES.index(family), jax.random.PRNGKey(seed)))
            blocks = values.reshape(-1, _BLOCK).astype(np.float64)
            sums = [np.concatenate([[0.0], np.cumsum(b.sum(axis=1))]) for b in (blocks, blocks**2)]
            return values.reshape(-1), *sums
        return kept(self._flat, (family, seed), make, self.KEEP)

    def orthogonal(self, fan_in: int, fan_out: int, seed: int) -> np.ndarray:
        """Flax's ``orthogonal()`` kernel: QR of a normal (max, min) draw, signs by diag(R)."""
        def make():
            rows, cols = max(fan_in, fan_out), min(fan_in, fan_out)
            normal = self.flat("normal", seed)[0][: rows * cols].reshape(rows, cols)
            q, r = np.linalg.qr(normal.astype(np.float64))
            q = q * np.sign(np.diag(r))
            return q.T if fan_in < fan_out else q
        return kept(self._orthogonal, (fan_in, fan_out, seed), make, self.KEEP)

    def kernel(self, name: str, fan_in: int, fan_out: int, seed: int) -> np.ndarray:
        """The ``(fan_in, fan_out)`` float32 kernel Flax draws for ``name`` and ``seed``
        (equal up to float32 rounding)."""
        entry = spec(name)
        if entry.family == "orthogonal":
            return self.orthogonal(fan_in, fan_out, seed).astype(np.float32)
        if entry.family == "constant":
            return np.full((fan_in, fan_out), entry.scale, np.float32)
        scale = np.float32(entry.multiplier(fan_in, fan_out))
        return (self.flat(entry.family, seed)[0][: fan_in * fan_out] * scale).reshape(fan_in,
                                                                                       fan_out)

    def stats(self, name: str, fan_in: int, fan_out: int, seed: int) -> KernelStats:
        """Measure and predict the std of the ``(fan_in, fan_out)`` kernel of ``name``."""
        entry = spec(name)
        n, theory, constant = fan_in * fan_out, entry.std(fan_in, fan_out), None
        if entry.family == "orthogonal":
            q = self.orthogonal(fan_in, fan_out, seed)
            measured, weight_sq = float(np.std(q)), float(np.mean(q**2))
            sample = q.reshape(-1)[:HISTOGRAM_SAMPLE].astype(np.float32)
        elif entry.family == "constant":
            constant = entry.scale
            measured, weight_sq = 0.0, constant**2
            sample = np.full(min(n, HISTOGRAM_SAMPLE), constant, np.float32)
        else:
            values, block_sum, block_sum_sq = self.flat(entry.family, seed)
            full = n // _BLOCK
            tail = values[full * _BLOCK: n].astype(np.float64)
            mean = (block_sum[full] + tail.sum()) / n
            mean_sq = (block_sum_sq[full] + (tail**2).sum()) / n
            measured = theory * math.sqrt(max(mean_sq - mean**2, 0.0))
            weight_sq = theory**2 * mean_sq
            sample = values[: min(n, HISTOGRAM_SAMPLE)] * np.float32(theory)
        return KernelStats(name, fan_in, fan_out, seed, entry.family, float(measured), theory,
                           entry.formula(fan_in, fan_out), float(fan_in * weight_sq),
                           float(fan_in * (theory**2 + (constant or 0.0) ** 2)), sample, constant)


def theory_density(family: str, std: float, x) -> np.ndarray:
    """Density at ``x`` of one weight of a ``family`` initializer of this ``std`` (> 0);
    orthogonal is approximated by a normal."""
    x = np.asarray(x, dtype=np.float64)
    if family == "uniform":
        half = math.sqrt(3.0) * std
        return np.where(np.abs(x) <= half, 1.0 / (2.0 * half), 0.0)
    scale = std / TRUNCATED_NORMAL_STD if family == "truncated_normal" else std
    density = np.exp(-0.5 * (x / scale) ** 2) / (scale * math.sqrt(2.0 * math.pi))
    if family == "truncated_normal":
        density = np.where(np.abs(x) <= 2.0 * scale, density / math.erf(math.sqrt(2.0)), 0.0)
    return density


_DENSITY_LABELS = {"truncated_normal": "theory: truncated normal", "uniform": "theory: uniform",
                   "normal": "theory: normal", "orthogonal": "theory: ≈ normal (orthogonal)"}
_BINS = 60
_FAN_GRID = np.unique(np.round(np.geomspace(1, MAX_FAN_IN, 160)).astype(int))


def _fmt(value: float) -> str:
    """Four significant digits, trailing zeros kept: 1.000, 0.006400, 64.00, 4096."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:#.4g}".rstrip(".")


class FanInExplorer(Explorer):
    """The weights of one ``(fan_in, fan_out)`` kernel, and its std against fan_in.

    Controls: ``.fan_in`` (1 to 4096, the slider steps through ``LADDER``), ``.fan_out``
    (1 to 1024), ``.initializer`` (a registry name), ``.seed`` (0 to 2**32 - 1); ``canvas``
    as in :mod:`initcourse.explorers.base`. ``.readout`` reads like ``std measured 0.1260 · theory
    0.1250 = 1/√64 · Var(y) ...``; ``.stats`` holds the :class:`KernelStats` behind it,
    ``.kernel()`` the kernel (Flax's draw), ``.draws`` the draws it keeps.
    """

    css = "initcourse-fan-in-explorer"
    controls = ("fan_in", "fan_out", "initializer", "seed")

    def __init__(self, fan_in=64, fan_out=64, initializer="lecun_normal", seed=0, *,
                 canvas="auto"):
        names = tuple(INITIALIZERS)
        _validate.choice("initializer", initializer, names)
        # Checked before the widgets exist: their min/max would clamp a bad value silently.
        seed = _validate.seed(seed)
        self.fan_in = LadderSlider("fan_in", fan_in, LADDER, minimum=1, maximum=MAX_FAN_IN,
                                   style=STYLE, layout=WIDE)
        self.fan_out = LadderSlider("fan_out", fan_out, [v for v in LADDER if v <= MAX_FAN_OUT],
                                    minimum=1, maximum=MAX_FAN_OUT, style=STYLE, layout=WIDE)
        self.initializer = Dropdown(options=names, value=initializer, description="initializer",
                                    style=STYLE)
        self.seed = seed_box(seed)
        self.draws = KernelDraws()
        self._build_figure()
        rows = [widgets.HBox([self.fan_in, self.fan_out]),
                widgets.HBox([self.initializer, self.seed])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    @property
    def stats(self) -> KernelStats:
        """The numbers behind the readout."""
        return self.state

    def kernel(self) -> np.ndarray:
        """The current kernel, shape ``(fan_in, fan_out)``: what Flax draws for these controls."""
        v = self.values()
        return self.draws.kernel(v["initializer"], v["fan_in"], v["fan_out"], v["seed"])

    def _build_figure(self) -> None:
        red, black = PALETTE["vermillion"], PALETTE["black"]
        with style():
            fig = Figure(figsize=(8.4, 3.8))  # 840 px: fits JupyterLab's notebook column
            hist_ax, std_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
            self._stairs = hist_ax.stairs(
                np.zeros(_BINS), np.linspace(-1, 1, _BINS + 1), fill=True, alpha=0.45,
                color=PALETTE["blue"], label="sampled kernel weights",
            )
            (self._density,) = hist_ax.plot([], [], color=red, label="theory")
            hist_ax.set(title="the kernel's weights", xlabel="weight value", ylabel="density")
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
            std_ax.set(xlim=(0.8, MAX_FAN_IN * 1.25), ylim=(0.005, 2.5), title="std against fan_in",
                       xlabel="fan_in", ylabel="std of the kernel")
            std_ax.legend(loc="lower left")
            self._note = std_ax.text(0.5, 0.6, "", transform=std_ax.transAxes, ha="center",
                                     va="center")
            fig.subplots_adjust(left=0.085, right=0.98, bottom=0.15, top=0.9, wspace=0.26)
        self.figure, self._hist_ax = fig, hist_ax
        self._legend_label, self._curves = None, OrderedDict()
        self._animated = [self._stairs, self._density, self._theory_curve,
                          self._theory_point, self._measured_point, self._note]

    def compute(self, fan_in, fan_out, initializer, seed) -> KernelStats:
        return self.draws.stats(initializer, fan_in, fan_out, seed)

    def _std_curve(self, name: str, fan_out: int) -> np.ndarray:
        """The theory at every fan_in of the grid (kept for the last 16 pairs)."""
        entry = spec(name)
        return kept(self._curves, (name, fan_out), lambda: np.array(
            [entry.std(int(f), fan_out) for f in _FAN_GRID]), keep=16)

    def draw(self, s: KernelStats):
        ax = self._hist_ax
        if s.constant is None:
            half = nice_up(4.0 * s.theory_std)
            edges = np.linspace(-half, half, _BINS + 1)
            x = np.linspace(-half, half, 301)
            density = theory_density(s.family, s.theory_std, x)
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
        ax.set(xlim=xlim, ylim=ylim)
        if label != self._legend_label:
            self._density.set_label(label)
            ax.legend(loc="upper right")
            self._legend_label = label
        scalable = s.constant is None
        for artist in (self._theory_curve, self._theory_point, self._measured_point):
            artist.set_visible(scalable)
        if scalable:
            self._theory_curve.set_data(_FAN_GRID, self._std_curve(s.name, s.fan_out))
            self._theory_point.set_data([s.fan_in], [s.theory_std])
            self._measured_point.set_data([s.fan_in], [max(s.measured_std, 1e-12)])
            self._note.set_text("")
        else:
            self._note.set_text(f"{s.name}: every weight is {s.constant:g},\nso the std is 0 at "
                                "every fan_in\n(0 is off this log scale)")
        return xlim, ylim, label

    def describe(self, s: KernelStats) -> str:
        return (
            f"std measured {s.measured_std:.4f} · theory {s.theory_std:.4f} = {s.formula}"
            f" · Var(y) {_fmt(s.var_y)} (theory {_fmt(s.var_y_theory)}) for a unit-variance input"
        )


def fan_in_explorer(**kwargs) -> FanInExplorer:
    """A :class:`FanInExplorer`; end a notebook cell with it to show it."""
    return FanInExplorer(**kwargs)
