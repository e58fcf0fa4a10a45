"""The course's figures, shared by the notebooks, and the per-layer samples they show.

Each figure function takes numbers or arrays and returns a matplotlib ``Figure`` drawn
in the course's style (:func:`initcourse.plots.style`); none changes matplotlib's
global settings. Display one in a notebook with :func:`show`, which stores the picture
alone (no ``<Figure size ...>`` text for nbval to compare) and closes the figure.

:func:`layer_samples` runs a seeded deep MLP and keeps every layer's activations and
gradients, the data of Glorot & Bengio's (2010) per-layer histograms.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import linen as nn

from initcourse import _validate, plots
from initcourse import initializers as _inits
from initcourse.propagation import ACTIVATIONS

_ACT_FNS = {
    "linear": lambda z: z,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "gelu": nn.gelu,
}

#: The largest ``depth * batch * width`` :func:`layer_samples` keeps (two float32 copies).
MAX_SAMPLES = 8_000_000


# -- per-layer samples ---------------------------------------------------------------------

@dataclass(frozen=True)
class LayerSamples:
    """Every value of every layer of one deep MLP at initialization.

    Attributes:
        activations: shape ``(depth, batch * width)``: the outputs ``h_l`` of each layer.
        gradients: shape ``(depth, batch * width)``: ``dL/dh_l`` for ``L = sum(h_depth * r)``,
            ``r`` a unit-normal cotangent (the same loss as :func:`initcourse.layer_stats`).
        initializer, activation, depth, width, batch, seed: what was run.
    """

    activations: np.ndarray
    gradients: np.ndarray
    initializer: str
    activation: str
    depth: int
    width: int
    batch: int
    seed: int


@functools.partial(jax.jit, static_argnames=("activation",))
def _forward_backward(kernels, x, r, *, activation):
    """All ``h_l`` and ``dL/dh_l`` of ``h_l = act(h_{l-1} @ W_l)``.

    Shapes: ``kernels`` ``(depth, width, width)``; ``x``, ``r`` ``(batch, width)``;
    returns two ``(depth, batch, width)`` arrays.
    """
    act = _ACT_FNS[activation]

    def forward(h, w):
        z = h @ w
        a, da = jax.jvp(act, (z,), (jnp.ones_like(z),))
        return a, (a, da)

    _, (hs, slopes) = jax.lax.scan(forward, x, kernels)

    def backward(g, layer):
        w, da = layer
        return (g * da) @ w.T, g

    _, grads = jax.lax.scan(backward, r, (kernels, slopes), reverse=True)
    return hs, grads


def layer_samples(
    initializer, activation: str, depth, width, *, batch=256, seed=0, stddev=None
) -> LayerSamples:
    """Push a seeded unit-normal batch through ``depth`` square layers; keep every value.

    The same network, inputs and loss as :func:`initcourse.layer_stats` with the same
    arguments (same keys, same kernels), so ``samples.activations.std(axis=1)`` is its
    ``forward_std``. Biases are zero.

    Arguments:
        initializer: a registry name (``"lecun_normal"``, ...) or any Flax initializer
            ``(key, shape, dtype) -> Array``, used for every ``(width, width)`` kernel.
        activation: one of ``ACTIVATIONS``.
        depth: number of layers, >= 1.
        width: units per layer (fan_in = fan_out = width), >= 1.
        batch: number of input rows (each ``N(0, 1)``), >= 2.
        seed: draws the kernels, the inputs and the cotangent ``r``.
        stddev: for ``initializer="normal"`` only.

    Returns:
        a :class:`LayerSamples` with two ``(depth, batch * width)`` float32 arrays.
    """
    if isinstance(initializer, str):
        name, init = initializer, _inits.get_initializer(initializer, stddev=stddev)
    elif callable(initializer):
        if stddev is not None:
            raise ValueError(f"stddev only applies to initializer='normal'; received {stddev!r}")
        name, init = getattr(initializer, "__qualname__", repr(initializer)), initializer
    else:
        raise TypeError(
            "initializer must be a registry name (one of "
            f"{', '.join(_inits.INITIALIZERS)}) or a Flax initializer; received {initializer!r}"
        )
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1)
    width = _validate.integral("width", width, minimum=1)
    batch = _validate.integral("batch", batch, minimum=2)
    seed = _validate.seed(seed)
    if depth * batch * width > MAX_SAMPLES:
        raise ValueError(
            f"depth * batch * width must be <= {MAX_SAMPLES:,}; received depth={depth}, "
            f"batch={batch}, width={width} ({depth * batch * width:,})"
        )
    k_w, k_x, k_r = jax.random.split(jax.random.PRNGKey(seed), 3)
    keys = jax.random.split(k_w, depth)
    kernels = jnp.stack([init(k, (width, width), jnp.float32) for k in keys])
    x = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    hs, grads = _forward_backward(kernels, x, r, activation=activation)
    return LayerSamples(
        activations=np.asarray(hs).reshape(depth, -1),
        gradients=np.asarray(grads).reshape(depth, -1),
        initializer=name, activation=activation, depth=depth, width=width,
        batch=batch, seed=seed,
    )


# -- figures -------------------------------------------------------------------------------

def show(fig, *, dpi=None) -> None:
    """Display ``fig`` in the notebook as a PNG image only, then close it.

    ``plt.show()`` under the inline backend stores the text ``<Figure size ...>`` next to
    the image; this stores the image alone, so a cell's compared output is empty.

    Arguments:
        fig: a matplotlib ``Figure``.
        dpi: resolution of the PNG; the figure's own (100 in the course style) by default.
    """
    from IPython.display import display

    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure; received {fig!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else fig.dpi,
                bbox_inches="tight", facecolor="white")
    plt.close(fig)
    display({"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}, raw=True)


def _curves(name: str, curves) -> dict[str, np.ndarray]:
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"{name} must be a non-empty mapping label -> array; received {curves!r}")
    out = {}
    for label, values in curves.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"{name}[{label!r}] must be a non-empty 1-D array; got shape {arr.shape}"
            )
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

    Returns:
        a ``Figure`` with one panel (forward) or two (forward, backward).
    """
    panels = [("forward: std of activations h_l", "std of h_l", _curves("forward", forward))]
    if backward is not None:
        grads = _curves("backward", backward)
        if set(grads) != set(panels[0][2]):
            raise ValueError(
                f"backward must have the same labels as forward; received {sorted(grads)} "
                f"for {sorted(panels[0][2])}"
            )
        panels.append(("backward: std of gradients dL/dh_l", "std of dL/dh_l", grads))
    theory = {} if theory is None else dict(theory)
    with plots.style():
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.3), squeeze=False)
        for i, (ax, (panel_title, ylabel, curves)) in enumerate(zip(axes[0], panels, strict=True)):
            for color, (label, values) in zip(plots.CYCLE, curves.items(), strict=False):
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

    Returns:
        a ``Figure`` with one row per panel.
    """
    if not isinstance(panels, Mapping) or not panels:
        raise TypeError(f"panels must be a non-empty mapping title -> array; received {panels!r}")
    data = {}
    for name, values in panels.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"panels[{name!r}] must have shape (depth, n); got shape {arr.shape}")
        data[str(name)] = arr
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
    with plots.style():
        fig, axes = plt.subplots(len(data), 1, figsize=(9.0, 3.0 * len(data)), sharex=True,
                                 squeeze=False)
        for ax, (name, arr) in zip(axes[:, 0], data.items(), strict=True):
            for color, n in zip(plots.CYCLE, layers, strict=False):
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

    Returns:
        a ``Figure`` with one panel.
    """
    if not isinstance(samples, Mapping) or not samples:
        raise TypeError(f"samples must be a non-empty mapping label -> array; received {samples!r}")
    data = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in samples.items()}
    bins = _validate.integral("bins", bins, minimum=2)
    bounds = {} if bounds is None else dict(bounds)
    high = max(float(np.max(np.abs(v))) for v in data.values())
    if normal_std is not None:
        normal_std = _validate.positive_real("normal_std", normal_std)
        high = max(high, 3.5 * normal_std)
    edges = np.linspace(-high, high, bins + 1)
    with plots.style():
        fig, ax = plt.subplots(figsize=(8.0, 4.3))
        for color, (label, values) in zip(plots.CYCLE, data.items(), strict=False):
            ax.hist(values, bins=edges, density=True, histtype="step", linewidth=2.0,
                    color=color, label=label)
            if label in bounds:
                for sign in (-1.0, 1.0):
                    ax.axvline(sign * bounds[label], color=color, linestyle=":", linewidth=1.6)
        if normal_std is not None:
            grid = np.linspace(-high, high, 400)
            density = np.exp(-0.5 * (grid / normal_std) ** 2)
            density /= normal_std * math.sqrt(2 * math.pi)
            ax.plot(grid, density, color=plots.PALETTE["black"], linestyle="--", linewidth=1.4,
                    label=f"N(0, {normal_std:g}²) density")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper right")
        fig.tight_layout()
    return fig
