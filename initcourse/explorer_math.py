"""The numbers behind the explorers: pure functions, no widgets, no figures.

The explorers in :mod:`initcourse.explorers` call these on every control change, and
so do the tests and ``benchmarks/explorers.py``. Two tricks keep an update fast and
free of recompilations:

- **Fan-in.** Inside a distribution family, every initializer scales the same
  unit-variance draws, and a kernel of ``fan_in * fan_out`` weights is the first
  ``fan_in * fan_out`` values of one long flat draw. So one fixed-size draw per
  ``(family, seed)`` serves every shape: :func:`kernel` slices it and scales it, and
  block sums of it give the measured std of any prefix without a pass over the weights.
- **Depth.** :func:`depth_stats` always runs a stack of ``MAX_DEPTH`` layers and
  switches off the layers above ``depth``, so changing the depth changes no shape.
  Its numbers are those of :func:`initcourse.layer_stats` for the same arguments.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse import initializers as _inits
from initcourse import propagation as _prop

# -- fan-in --------------------------------------------------------------------------------

#: Range of the fan-in explorer's controls.
MAX_FAN_IN = 4096
MAX_FAN_OUT = 1024

#: Log-spaced whole numbers the fan_in and fan_out sliders step through: every value up
#: to 8, then four steps per doubling (x1.25, x1.5, x1.75, x2).
LADDER = tuple(
    [1, 2, 3, 4, 5, 6, 7]
    + [base * k // 4 for base in (8, 16, 32, 64, 128, 256, 512, 1024, 2048) for k in (4, 5, 6, 7)]
    + [4096]
)

#: Number of weights the histogram shows at most (the first ones of the kernel).
HISTOGRAM_SAMPLE = 20_000

# Flat draws are MAX_FAN_IN * MAX_FAN_OUT long, drawn as a (rows, _BLOCK) array: with
# JAX's partitionable threefry its row-major values are those of a flat draw.
_BLOCK = 1024
_FLAT = MAX_FAN_IN * MAX_FAN_OUT
_SCALED_FAMILIES = ("truncated_normal", "uniform", "normal")


@jax.jit
def _flat_draw(family, key):
    return _inits._unit_draw(family, key, (_FLAT // _BLOCK, _BLOCK)).reshape(-1)


@dataclass(frozen=True)
class _UnitDraws:
    values: np.ndarray  # (_FLAT,) float32, unit variance
    block_sum: np.ndarray  # (_FLAT // _BLOCK + 1,) float64, sums of the first k blocks
    block_sum_sq: np.ndarray  # same, of the squares


@functools.lru_cache(maxsize=6)
def _unit_draws(family: str, seed: int) -> _UnitDraws:
    """One flat unit-variance draw of ``family`` for ``seed``, and its block prefix sums."""
    values = np.asarray(_flat_draw(_inits.family_index(family), jax.random.PRNGKey(seed)))
    blocks = values.reshape(-1, _BLOCK).astype(np.float64)
    zero = np.zeros(1)
    return _UnitDraws(
        values,
        np.concatenate([zero, np.cumsum(blocks.sum(axis=1))]),
        np.concatenate([zero, np.cumsum((blocks**2).sum(axis=1))]),
    )


def _prefix_moments(draws: _UnitDraws, n: int) -> tuple[float, float]:
    """Mean and mean square of the first ``n`` unit draws."""
    full = n // _BLOCK
    tail = draws.values[full * _BLOCK : n].astype(np.float64)
    total = draws.block_sum[full] + tail.sum()
    total_sq = draws.block_sum_sq[full] + (tail**2).sum()
    return total / n, total_sq / n


@functools.lru_cache(maxsize=8)
def _orthogonal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    # Flax's orthogonal(): QR of a normal (max, min) matrix, signs fixed by diag(R).
    rows, cols = (fan_out, fan_in) if fan_in < fan_out else (fan_in, fan_out)
    normal = _unit_draws("normal", seed).values[: rows * cols].reshape(rows, cols)
    q, r = np.linalg.qr(normal.astype(np.float64))
    q = q * np.sign(np.diag(r))
    q = q.T if fan_in < fan_out else q
    q.setflags(write=False)
    return q


def _check_fans(fan_in, fan_out) -> tuple[int, int]:
    fan_in = _validate.integral("fan_in", fan_in, minimum=1, maximum=MAX_FAN_IN)
    fan_out = _validate.integral("fan_out", fan_out, minimum=1, maximum=MAX_FAN_OUT)
    return fan_in, fan_out


def kernel(name: str, fan_in, fan_out, *, seed=0) -> np.ndarray:
    """The ``(fan_in, fan_out)`` kernel that ``get_initializer(name)`` draws for ``seed``.

    Equal to the Flax draw up to float32 rounding, cut from the cached flat draw
    (orthogonal: a QR of it, as Flax does). Shape ``(fan_in, fan_out)``, float32.
    """
    entry = _inits.spec(name)
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    seed = _validate.integral("seed", seed, minimum=0, maximum=_validate.SEED_RANGE[1])
    if entry.family == "orthogonal":
        return _orthogonal(fan_in, fan_out, seed).astype(np.float32)
    if entry.family == "constant":
        return np.full((fan_in, fan_out), _inits.unit_scale(name, fan_in, fan_out), np.float32)
    values = _unit_draws(entry.family, seed).values[: fan_in * fan_out]
    scale = np.float32(_inits.unit_scale(name, fan_in, fan_out))
    return (values * scale).reshape(fan_in, fan_out)


@dataclass(frozen=True)
class KernelStats:
    """What the fan-in explorer shows for one kernel.

    Attributes:
        name, fan_in, fan_out, seed: the controls.
        family: the initializer's distribution family.
        measured_std: std of all ``fan_in * fan_out`` weights (numpy's ``std``, ddof 0).
        theory_std: ``expected_std(name, fan_in, fan_out)``.
        formula: the theory as arithmetic on the fans, e.g. ``"1/√64"``.
        var_y: ``fan_in * mean(w**2)``: the variance of each output ``y = x @ kernel``
            for an input ``x`` of independent unit-variance entries, averaged over outputs.
        var_y_theory: the same from the theory: ``fan_in * (theory_std**2 + c**2)``,
            ``c`` the weight of a constant initializer (else 0).
        sample: shape ``(min(fan_in * fan_out, HISTOGRAM_SAMPLE),)``: the first weights.
        constant: the single weight value of ``zeros``/``ones``, else ``None``.
    """

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


def std_formula(name: str, fan_in, fan_out) -> str:
    """The registry's variance rule written out for these fans, e.g. ``"1/√64"``."""
    entry = _inits.spec(name)
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    return {
        "1/fan_in": f"1/√{fan_in}",
        "2/fan_in": f"√(2/{fan_in})",
        "2/(fan_in + fan_out)": f"√(2/({fan_in}+{fan_out}))",
        "1/max(fan_in, fan_out)": f"1/√{max(fan_in, fan_out)}",
        "stddev²": f"{_inits.DEFAULT_NORMAL_STDDEV:g}, whatever fan_in",
        "0": "0, every weight equal",
    }[entry.rule]


def kernel_stats(name: str, fan_in, fan_out, *, seed=0) -> KernelStats:
    """Measure and predict the std of a ``(fan_in, fan_out)`` kernel drawn by ``name``.

    Costs a few hundred float operations after the first call for a ``(family, seed)``
    (a QR for ``orthogonal``, cached per shape).
    """
    entry = _inits.spec(name)
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    seed = _validate.integral("seed", seed, minimum=0, maximum=_validate.SEED_RANGE[1])
    n = fan_in * fan_out
    theory = _inits.expected_std(name, fan_in, fan_out)
    constant = None
    if entry.family in _SCALED_FAMILIES:
        draws = _unit_draws(entry.family, seed)
        scale = _inits.unit_scale(name, fan_in, fan_out)
        mean, mean_sq = _prefix_moments(draws, n)
        measured = scale * math.sqrt(max(mean_sq - mean**2, 0.0))
        weight_sq = scale**2 * mean_sq
        sample = draws.values[: min(n, HISTOGRAM_SAMPLE)] * np.float32(scale)
        var_theory = fan_in * theory**2
    elif entry.family == "orthogonal":
        q = _orthogonal(fan_in, fan_out, seed)
        measured = float(np.std(q))
        weight_sq = float(np.mean(q**2))
        sample = q.reshape(-1)[:HISTOGRAM_SAMPLE].astype(np.float32)
        var_theory = fan_in * theory**2
    else:
        constant = _inits.unit_scale(name, fan_in, fan_out)
        measured, weight_sq = 0.0, constant**2
        sample = np.full(min(n, HISTOGRAM_SAMPLE), constant, np.float32)
        var_theory = fan_in * (theory**2 + constant**2)
    return KernelStats(
        name=name, fan_in=fan_in, fan_out=fan_out, seed=seed, family=entry.family,
        measured_std=float(measured), theory_std=theory,
        formula=std_formula(name, fan_in, fan_out),
        var_y=float(fan_in * weight_sq), var_y_theory=float(var_theory),
        sample=sample, constant=constant,
    )


def theory_density(family: str, std: float, x: np.ndarray) -> np.ndarray:
    """Density of one weight of a ``family`` initializer with this ``std``, at ``x``.

    Truncated normal: a normal cut at ±2 of its own scale ``std / TRUNCATED_NORMAL_STD``;
    uniform: flat on ±√3·std; normal: a normal; orthogonal: approximated by a normal (the
    entries of a large random orthogonal matrix are close to one). Shape of ``x``.
    Constant families have no density (a spike): use :attr:`KernelStats.constant`.
    """
    x = np.asarray(x, dtype=np.float64)
    if family == "constant":
        raise ValueError("a constant initializer has no density: every weight is the same")
    if std <= 0:
        raise ValueError(f"std must be > 0; received {std!r}")
    if family == "uniform":
        half = math.sqrt(3.0) * std
        return np.where(np.abs(x) <= half, 1.0 / (2.0 * half), 0.0)
    if family == "truncated_normal":
        scale = std / _inits.TRUNCATED_NORMAL_STD
        mass = math.erf(2.0 / math.sqrt(2.0))
        inside = np.abs(x) <= 2.0 * scale
        return np.where(inside, _gauss(x / scale) / (scale * mass), 0.0)
    return _gauss(x / std) / std


def _gauss(z):
    return np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)


# -- depth ---------------------------------------------------------------------------------

#: Range of the depth explorer's controls.
MAX_DEPTH = 100
MIN_WIDTH, MAX_WIDTH = 16, 1024
WIDTHS = (16, 32, 64, 128, 256, 512, 1024)

#: Rows of the seeded input batch: small enough for an update in a few milliseconds.
DEPTH_BATCH = 32

#: A signal is *vanishing* when its std shrinks by more than this factor between the
#: first layer it reaches and the last, *exploding* when it grows by more, else *stable*.
#: One decade is what a reader of a log axis calls a clear fall or rise; a healthy
#: network drifts far less (ReLU with He at depth 50 stays within a factor of about 1.5).
REGIME_THRESHOLD = 10.0

REGIMES = ("vanishing", "stable", "exploding")

_CHUNK = 10  # layers drawn per call when the kernel stack grows


@functools.partial(jax.jit, donate_argnums=(0,))
def _fill(stack, key, family, start):
    """Draw layers ``start .. start + _CHUNK`` of the unit-variance stack in place."""
    depth, width, _ = stack.shape
    keys = jax.random.split(jax.random.split(key, 3)[0], depth)  # as layer_stats splits
    chunk = jax.lax.dynamic_slice_in_dim(keys, start, _CHUNK)
    draws = jax.vmap(lambda k: _inits._unit_draw(family, k, (width, width)))(chunk)
    return jax.lax.dynamic_update_slice_in_dim(stack, draws, start, axis=0)


@functools.partial(jax.jit, static_argnames=("batch",))
def _masked_stats(stack, key, depth, factor, act, *, batch):
    """Forward and backward stds through the first ``depth`` layers of ``stack``.

    Layers at or above ``depth`` are skipped (their stds are NaN), so every depth
    shares one compilation per ``(width, batch)``.
    """
    max_depth, width, _ = stack.shape
    _, k_x, k_r = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    branches = _prop._branches()
    layers = jnp.arange(max_depth)
    nan = jnp.float32(jnp.nan)

    def forward(h, inputs):
        w, layer = inputs

        def run(h):
            a, da = jax.lax.switch(act, branches, (h @ w) * factor)
            return a, _prop._std(a), da

        a, std, da = jax.lax.cond(layer < depth, run, lambda h: (h, nan, h), h)
        return a, (std, da)

    _, (fstd, slopes) = jax.lax.scan(forward, x, (stack, layers))

    def backward(g, inputs):
        w, da, layer = inputs
        g = jnp.where(layer == depth - 1, r, g)

        def run(g):
            return ((g * da) @ w.T) * factor, _prop._std(g)

        return jax.lax.cond(layer < depth, run, lambda g: (g, nan), g)

    _, bstd = jax.lax.scan(backward, jnp.zeros_like(r), (stack, slopes, layers), reverse=True)
    return fstd, bstd


class _Stack:
    """The cached unit-variance kernels ``(MAX_DEPTH, width, width)`` of one width.

    Layers are drawn lazily, ``_CHUNK`` at a time, up to the deepest depth asked for;
    a new family or seed draws them again in place.
    """

    def __init__(self):
        self.width = None
        self.tag = None
        self.drawn = 0
        self.array = None

    def get(self, family: str, seed: int, depth: int, width: int):
        if width != self.width:
            self.array = None  # free the old stack before allocating the new one
            self.array = jnp.zeros((MAX_DEPTH, width, width), jnp.float32)
            self.width, self.tag, self.drawn = width, None, 0
        if (family, seed) != self.tag:
            self.tag, self.drawn = (family, seed), 0
        key = jax.random.PRNGKey(seed)
        index = jnp.int32(_inits.family_index(family))
        while self.drawn < depth:
            self.array = _fill(self.array, key, index, jnp.int32(self.drawn))
            self.drawn += _CHUNK
        return self.array


_STACK = _Stack()


def depth_stats(initializer: str, activation: str, depth, width, *, seed=0,
                batch=DEPTH_BATCH) -> _prop.LayerStats:
    """:func:`initcourse.layer_stats` for the depth explorer: same numbers, no recompiles.

    Arguments:
        initializer: a registry name; activation: one of ``ACTIVATIONS``.
        depth: 1 to ``MAX_DEPTH``; width: ``MIN_WIDTH`` to ``MAX_WIDTH``.
        seed: draws the kernels, the input batch ``(batch, width)`` and the cotangent.

    Returns a :class:`~initcourse.LayerStats` with ``forward_std`` and ``backward_std`` of
    shape ``(depth,)``. One compilation per ``(width, batch)``; the kernels of a width are
    drawn once per ``(family, seed)`` and reused across depths, scales and activations.
    """
    entry = _inits.spec(initializer)
    activation = _validate.choice("activation", activation, _prop.ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=MIN_WIDTH, maximum=MAX_WIDTH)
    seed = _validate.integral("seed", seed, minimum=0, maximum=_validate.SEED_RANGE[1])
    batch = _validate.integral("batch", batch, minimum=2)
    stack = _STACK.get(entry.family, seed, depth, width)
    factor = _inits.unit_scale(initializer, width, width)
    fstd, bstd = _masked_stats(
        stack, jax.random.PRNGKey(seed), jnp.int32(depth), jnp.float32(factor),
        jnp.int32(_prop.ACTIVATIONS.index(activation)), batch=batch,
    )
    return _prop.LayerStats(
        forward_std=np.asarray(fstd, dtype=np.float64)[:depth],
        backward_std=np.asarray(bstd, dtype=np.float64)[:depth],
        initializer=initializer, activation=activation, depth=depth, width=width,
        batch=batch, seed=seed,
    )


@functools.lru_cache(maxsize=64)
def predicted(initializer: str, activation: str, depth: int, width: int):
    """:func:`initcourse.predicted_stats`, cached (it is a loop over layers in Python)."""
    return _prop.predicted_stats(initializer, activation, depth, width)


def travel_ratio(std) -> float:
    """``std[-1] / std[0]`` of a per-layer series ordered the way the signal travels.

    For the forward pass pass ``forward_std``; for the backward pass pass
    ``backward_std[::-1]`` (the gradient starts at the last layer). 0/0 gives NaN.
    """
    std = np.asarray(std, dtype=np.float64)
    if std.ndim != 1 or std.size == 0:
        raise ValueError(f"std must be a non-empty 1-D array; received shape {std.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(std[-1] / std[0])


def classify_regime(std, *, threshold: float = REGIME_THRESHOLD) -> str:
    """``"vanishing"``, ``"stable"`` or ``"exploding"`` for a per-layer std series.

    Arguments:
        std: shape ``(depth,)``, ordered the way the signal travels (see
            :func:`travel_ratio`).
        threshold: the factor, > 1, beyond which a fall or rise is no longer stable.

    The series is *vanishing* if ``std[-1] / std[0] < 1 / threshold`` or the signal is
    gone (a std of 0), *exploding* if the ratio is above ``threshold`` or the numbers
    overflowed (inf or NaN), else *stable*. A single layer is stable by definition.
    """
    threshold = _validate.positive_real("threshold", threshold)
    if threshold <= 1:
        raise ValueError(f"threshold must be > 1; received {threshold!r}")
    std = np.asarray(std, dtype=np.float64)
    ratio = travel_ratio(std)
    if not np.all(np.isfinite(std)):
        return "exploding"
    if std[0] == 0 or std[-1] == 0 or ratio < 1.0 / threshold:
        return "vanishing"
    if ratio > threshold:
        return "exploding"
    return "stable"


def combined_regime(forward: str, backward: str) -> str:
    """One word for a network: the forward regime if it is not stable, else the backward.

    A network whose activations hold but whose gradients vanish (sigmoid) cannot learn
    its early layers either, so the gradient's regime counts too.
    """
    return forward if forward != "stable" else backward
