"""The course's figures and their look, and the per-layer samples they show.

Each figure function takes numbers or arrays and returns a matplotlib ``Figure`` drawn
in the course's style (:func:`style`: a colour-blind-safe :data:`PALETTE`, large type);
none changes matplotlib's global settings. Display one in a notebook with :func:`show`,
which stores the picture alone (no ``<Figure size ...>`` text for nbval to compare) and closes the figure.

:func:`layer_samples` runs a seeded deep MLP and keeps every layer's activations and
gradients, the data of Glorot & Bengio's (2010) per-layer histograms.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from initcourse import _validate
from initcourse.propagation.engine import KernelStack, Run, check_run

#: The largest ``depth * batch * width`` :func:`layer_samples` keeps (two float32 copies).
MAX_SAMPLES = 8_000_000

#: Okabe & Ito's colour-blind-safe palette (Color Universal Design).
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Palette order for series.
CYCLE = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky", "black")]

#: Type sizes that stay readable on a projector at the back of a room.
RC = {
    "figure.dpi": 100,
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "lines.linewidth": 2.2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": plt.cycler(color=CYCLE),
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextlib.contextmanager
def style():
    """Apply the course's figure style inside a ``with`` block (nothing global changes)."""
    with plt.rc_context(RC):
        yield


# -- axis limits that let an explorer reuse cached pictures ------------------------------

def nice_up(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7 times a power of ten that is >= ``value``.

    Axis limits snapped to these let a few cached pictures serve every update.
    """
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def log_limits(values) -> tuple[float, float]:
    """Log-axis limits on whole decades (at least two) around the positive finite ``values``."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e-3, 10.0
    low = math.floor(math.log10(values.min()) - 0.2)
    high = math.ceil(math.log10(values.max()) + 0.2)
    low, high = max(low, -300), min(high, 300)
    if high - low < 2:  # at least two decades, so a flat line looks flat
        low, high = low - 1, high + 1
    return 10.0**low, 10.0**high


# -- per-layer samples ---------------------------------------------------------------------

@dataclass(frozen=True)
class LayerSamples(Run):
    """Every value of every layer of one deep MLP at initialization (and the
    :class:`~initcourse.propagation.engine.Run`).

    Attributes:
        activations: shape ``(depth, batch * width)``: the outputs ``h_l`` of each layer.
        gradients: shape ``(depth, batch * width)``: ``dL/dh_l`` for ``L = sum(h_depth * r)``,
            ``r`` a unit-normal cotangent (the same loss as :func:`initcourse.layer_stats`).
    """

    activations: np.ndarray
    gradients: np.ndarray


def layer_samples(
    initializer, activation: str, depth, width, *, batch=256, seed=0, stddev=None
) -> LayerSamples:
    """Every value of :func:`initcourse.layer_stats`' run with the same arguments (so
    ``samples.activations.std(axis=1)`` is its ``forward_std``), for ``depth * batch *
    width`` up to ``MAX_SAMPLES``: two ``(depth, batch * width)`` float32 arrays."""
    resolved, activation, depth, width, batch, seed = check_run(
        initializer, activation, depth, width, batch, seed, stddev, keep=True)
    if depth * batch * width > MAX_SAMPLES:
        raise ValueError(
            f"depth * batch * width must be <= {MAX_SAMPLES:,}; received depth={depth}, "
            f"batch={batch}, width={width} ({depth * batch * width:,})"
        )
    hs, grads = KernelStack(depth, width).propagate(
        resolved, activation, depth, batch=batch, seed=seed, keep=True)
    return LayerSamples(hs.reshape(depth, -1), grads.reshape(depth, -1),
                        initializer=resolved.name, activation=activation, depth=depth,
                        width=width, batch=batch, seed=seed)


# -- figures -------------------------------------------------------------------------------

def _g(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else ("overflow" if value > 0 else str(value))


def _line_text(line, xname: str) -> str | None:
    """One line of a plot in words: its label, where it starts and ends, its range."""
    x = np.asarray(line.get_xdata(orig=False), dtype=np.float64).ravel()
    y = np.asarray(line.get_ydata(orig=False), dtype=np.float64).ravel()
    if y.size == 0 or not line.get_visible():
        return None
    label = line.get_label()
    styles = {"--": "a dashed line", ":": "a dotted line", "-.": "a dash-dotted line"}
    name = styles.get(line.get_linestyle(), "a line") if label.startswith("_") else label
    if x.size == 2 and x[0] == 0 and x[1] == 1 and y[0] == y[1] and line.get_transform() != \
            line.axes.transData:
        return f"{name}: a reference line at {_g(y[0])}"
    if y.size == 1:
        return f"{name}: one point, {_g(y[0])} at {xname} = {_g(x[0])}"
    finite = y[np.isfinite(y)]
    text = (f"{name}: from {_g(y[0])} at {xname} = {_g(x[0])} to {_g(y[-1])} at "
            f"{xname} = {_g(x[-1])}")
    if finite.size and (finite.min() < min(y[0], y[-1]) or finite.max() > max(y[0], y[-1])):
        text += f" (between {_g(finite.min())} and {_g(finite.max())})"
    return text


def alt_text(fig, limit: int = 1500) -> str:
    """A text alternative of ``fig``, read from the artists it draws: each panel's title and
    axes (log scales named), each line's label with where it starts and ends and its range,
    histograms, colour maps and the figure's texts. It is computed from the figure's own
    data, so it says what the figure shows and stays true when the figure is redrawn.
    """
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    if title:
        parts.append(f"{title}.")
    for ax in fig.axes:
        if not ax.get_visible() or not ax.has_data():
            continue
        xname = ax.get_xlabel().split(" (")[0] or "x"
        ylabel = ax.get_ylabel().replace("\n", " ") or "value"
        log = ax.get_yscale() == "log" and "log" not in ylabel
        axis = f"{ylabel}{' (log scale)' if log else ''}"
        head = f"{ax.get_title() + ': ' if ax.get_title() else ''}{axis} against {xname}"
        items = [t for t in (_line_text(line, xname) for line in ax.get_lines()) if t]
        hist = [p.get_label() for p in ax.patches if not p.get_label().startswith("_")]
        if hist:
            items.append(f"histograms of {', '.join(hist)}")
        for mesh in ax.collections:
            values = np.asarray(mesh.get_array() if mesh.get_array() is not None else [], float)
            values = values[np.isfinite(values)] if values.size else values
            if values.size > 1:
                items.append(f"a colour map from {_g(values.min())} to {_g(values.max())}")
            elif len(mesh.get_offsets()) and not mesh.get_label().startswith("_"):
                items.append(f"{mesh.get_label()}: {len(mesh.get_offsets())} points")
        items += [t.get_text() for t in ax.texts if t.get_visible() and t.get_text().strip()]
        parts.append(f"{head}; " + "; ".join(items) + ".")
    parts += [t.get_text() for t in fig.texts if t.get_visible() and t.get_text().strip()]
    text = " ".join(parts).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Line styles and markers that tell lines apart without colour: each labelled line of a
#: panel that would otherwise differ from another only by its colour takes the next pair.
LINE_KINDS = (("-", "None"), ("--", "None"), (":", "None"), ("-.", "None"), ("-", "o"),
              ("--", "s"), (":", "^"), ("-.", "D"), ("-", "v"), ("--", "P"))


def distinguish(fig) -> int:
    """Make colour never the only thing that tells two lines apart (WCAG 2 1.4.1): in each
    panel, a labelled line drawn with the same line style and marker as an earlier one gets
    the first pair of :data:`LINE_KINDS` no line of that panel uses yet. Returns how many
    lines changed; lines that already differ are left as drawn."""
    changed = 0
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")
                 and np.size(line.get_ydata()) > 1]
        used = {(line.get_linestyle(), str(line.get_marker())) for line in ax.get_lines()}
        seen, restyled = set(), {}
        for line in lines:
            kind = (line.get_linestyle(), str(line.get_marker()))
            if kind in seen:
                kind = next((k for k in LINE_KINDS if k not in used), None)
                if kind is None:
                    continue
                line.set_linestyle(kind[0])
                line.set_marker(kind[1])
                used.add(kind)
                restyled[line.get_label()] = kind
            seen.add(kind)
        legend = ax.get_legend()
        if restyled and legend is not None:  # its entries are copies: restyle them too
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=False):
                kind = restyled.get(text.get_text())
                if kind is not None and hasattr(handle, "set_marker"):
                    handle.set_linestyle(kind[0])
                    handle.set_marker(kind[1])
        changed += len(restyled)
    return changed


def show(fig, *, alt=None, dpi=None) -> None:
    """Display ``fig`` in the notebook as a PNG image alone (``plt.show()`` also stores
    the text ``<Figure size ...>``), at ``dpi`` (the figure's own by default); close it.

    Lines that differ only by colour are told apart first (:func:`distinguish`). The image
    carries a text alternative in its output metadata (``image/png`` ``alt``, which
    nbconvert and Jupyter Book read): ``alt``, a sentence of what the figure shows, followed
    by :func:`alt_text` of the figure's data.
    """
    from IPython.display import display

    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure; received {fig!r}")
    if alt is not None and not isinstance(alt, str):
        raise TypeError(f"alt must be a sentence (str) or None; received {alt!r}")
    distinguish(fig)
    text = alt_text(fig)
    text = f"{alt.strip()} {text}" if alt else text
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else fig.dpi,
                bbox_inches="tight", facecolor="white")
    plt.close(fig)
    display({"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}, raw=True,
            metadata={"image/png": {"alt": text}})


def _arrays(name: str, mapping, ndim: int | None) -> dict[str, np.ndarray]:
    """``mapping`` (label -> array) as float64 arrays of ``ndim`` axes (any if None)."""
    if not isinstance(mapping, Mapping) or not mapping:
        raise TypeError(f"{name} must be a non-empty mapping label -> array; received {mapping!r}")
    out = {}
    for label, values in mapping.items():
        arr = np.asarray(values, dtype=np.float64)
        if ndim is not None and (arr.ndim != ndim or arr.size == 0):
            raise ValueError(f"{name}[{label!r}] must be a non-empty array of {ndim} axes; "
                             f"got shape {arr.shape}")
        out[str(label)] = arr
    return out


def _positive(values: np.ndarray) -> np.ndarray:
    """Values a log axis can show; zeros, negatives and non-finite values become gaps."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def std_by_layer(forward, backward=None, *, theory=None, title=None):
    """The std of the signal (and of the gradient) layer by layer, on a log axis.

    Arguments:
        forward: mapping label -> array of shape ``(depth,)``: std of each layer's output
            (``LayerStats.forward_std``).
        backward: optional mapping with the same labels -> ``(depth,)``: std of the gradient
            reaching each layer (``LayerStats.backward_std``); adds a second panel.
        theory: optional mapping label -> ``(forward, backward)`` arrays (as returned by
            :func:`initcourse.predicted_stats`), drawn dashed in the same colour.
        title: optional figure title.
    """
    panels = [("forward: std of activations h_l", "std of h_l", _arrays("forward", forward, 1))]
    if backward is not None:
        grads = _arrays("backward", backward, 1)
        if set(grads) != set(panels[0][2]):
            raise ValueError(
                f"backward must have the same labels as forward; received {sorted(grads)} "
                f"for {sorted(panels[0][2])}"
            )
        panels.append(("backward: std of gradients dL/dh_l", "std of dL/dh_l", grads))
    theory = {} if theory is None else dict(theory)
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.3), squeeze=False)
        for i, (ax, (panel_title, ylabel, curves)) in enumerate(zip(axes[0], panels, strict=True)):
            for color, (label, values) in zip(CYCLE, curves.items(), strict=False):
                layers = np.arange(1, values.size + 1)
                ax.plot(layers, _positive(values), color=color, label=label)
                if label in theory:
                    ax.plot(layers, _positive(np.asarray(theory[label][i], dtype=np.float64)),
                            color=color, linestyle="--", linewidth=1.4)
            ax.set_yscale("log")
            ax.set_xlabel("layer l (1 = nearest the input)")
            ax.set_ylabel(ylabel)
            ax.set_title(panel_title)
        if theory:
            axes[0][0].plot([], [], color="0.4", linestyle="--", linewidth=1.4, label="theory")
        axes[0][0].legend(loc="best")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def _histogram_range(panels: dict[str, np.ndarray], quantile: float) -> float:
    return max(float(np.quantile(np.abs(v[np.isfinite(v)]), quantile)) for v in panels.values())


def layer_histograms(panels, *, xlabel, title=None, layers=None, bins=81, limit=None):
    """Normalised histograms of each layer's values, one curve per layer.

    The picture of Glorot & Bengio (2010), Fig. 6 (activations) and 7 (gradients).

    Arguments:
        panels: mapping panel title -> array of shape ``(depth, n)`` (e.g.
            ``LayerSamples.activations``); one panel each, stacked, sharing the x axis.
        xlabel: what the values are, e.g. ``"activation value h_l"``.
        title: optional figure title.
        layers: which layers (1-based) to draw; all of them by default.
        bins: number of histogram bins over ``[-limit, limit]``.
        limit: half-width of the x range; by default the 99.9 % quantile of ``|value|``
            over all panels, so every panel shares one scale.
    """
    data = _arrays("panels", panels, 2)
    depth = min(arr.shape[0] for arr in data.values())
    layers = list(range(1, depth + 1)) if layers is None else [int(n) for n in layers]
    for n in layers:
        if not 1 <= n <= depth:
            raise ValueError(f"layers must lie in 1..{depth}; received {layers!r}")
    bins = _validate.integral("bins", bins, minimum=2)
    if limit is None:
        limit = _histogram_range(data, 0.999)
    limit = _validate.positive_real("limit", limit)
    edges = np.linspace(-limit, limit, bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    with style():
        fig, axes = plt.subplots(len(data), 1, figsize=(9.0, 3.0 * len(data)), sharex=True,
                                 squeeze=False)
        for ax, (name, arr) in zip(axes[:, 0], data.items(), strict=True):
            for color, n in zip(CYCLE, layers, strict=False):
                counts, _ = np.histogram(arr[n - 1], bins=edges)
                ax.plot(centres, counts / arr.shape[1], color=color, label=f"layer {n}")
            ax.set_title(name)
            ax.set_ylabel("fraction of values")
        axes[-1, 0].set_xlabel(xlabel)
        axes[0, 0].legend(loc="upper right", ncol=1 if len(layers) < 4 else 2)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def weight_histograms(samples, *, xlabel, title=None, bounds=None, normal_std=None, bins=60):
    """Histograms (as densities) of weight draws, with optional bounds and a normal density.

    Arguments:
        samples: mapping label -> 1-D array of weights (any shape is flattened).
        xlabel: what the values are, e.g. ``"w * sqrt(fan_in)"``.
        title: optional axes title.
        bounds: optional mapping label -> bound ``b``: dotted lines at ``±b``.
        normal_std: if given, the density of ``N(0, normal_std^2)`` is drawn for reference.
        bins: number of bins over the joint range of the samples.
    """
    data = {k: v.ravel() for k, v in _arrays("samples", samples, None).items()}
    bins = _validate.integral("bins", bins, minimum=2)
    bounds = {} if bounds is None else dict(bounds)
    high = max(float(np.max(np.abs(v))) for v in data.values())
    if normal_std is not None:
        normal_std = _validate.positive_real("normal_std", normal_std)
        high = max(high, 3.5 * normal_std)
    edges = np.linspace(-high, high, bins + 1)
    with style():
        fig, ax = plt.subplots(figsize=(8.0, 4.3))
        for color, (label, values) in zip(CYCLE, data.items(), strict=False):
            ax.hist(values, bins=edges, density=True, histtype="step", linewidth=2.0,
                    color=color, label=label)
            if label in bounds:
                for sign in (-1.0, 1.0):
                    ax.axvline(sign * bounds[label], color=color, linestyle=":", linewidth=1.6)
        if normal_std is not None:
            grid = np.linspace(-high, high, 400)
            density = np.exp(-0.5 * (grid / normal_std) ** 2)
            density /= normal_std * math.sqrt(2 * math.pi)
            ax.plot(grid, density, color=PALETTE["black"], linestyle="--", linewidth=1.4,
                    label=f"N(0, {normal_std:g}²) density")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper right")
        fig.tight_layout()
    return fig
