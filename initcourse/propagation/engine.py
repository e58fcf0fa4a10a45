"""How a signal and its gradient propagate through a deep MLP at initialization.

One engine, :meth:`KernelStack.propagate`, runs ``depth`` square layers
``h_l = activation(h_{l-1} @ W_l)`` (zero biases) on a seeded unit-normal batch and the
loss ``L = sum(h_depth * r)`` back down. :func:`layer_stats`, ``layer_samples``,
``gradient_stats`` and the depth explorer all call it; :func:`predicted_stats` is the
mean-field theory for wide layers.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.initializers import (
    FAMILIES,
    Resolved,
    check_orthogonal_cost,
    checked,
    resolve,
    unit_draw,
)
from initcourse.memory import release_memory, releasing

MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 1000, 8192, 65536
#: The most memory one :func:`layer_stats` call may need, by :func:`memory_estimate`.
MEMORY_LIMIT = 2 * 2**30
#: Kernels :func:`layer_stats` keeps between calls (the last few widths): 512 MiB at most.
CACHE_BUDGET = 512 * 2**20
#: Layers of a cached stack: every depth up to 100 (or 1000) shares one compilation.
CAPACITIES = (100, 1000)


@dataclass(frozen=True, kw_only=True)
class Run:
    """What a measurement ran, as its results record it (keyword arguments, after the
    results' own fields): initializer (its registry name, or a Flax initializer's),
    activation, depth, width, batch and seed."""

    initializer: str
    activation: str
    depth: int
    width: int
    batch: int
    seed: int | None


@dataclass(frozen=True)
class LayerStats(Run):
    """Per-layer figures of one deep MLP at initialization (and the :class:`Run`).

    Attributes:
        forward_std: shape ``(depth,)``: std of each layer's output activations ``h_l``.
        backward_std: shape ``(depth,)``: std of the gradient ``dL/dh_l`` reaching each
            layer, for ``L = sum(h_depth * r)`` with ``r`` a unit-normal cotangent.
    """

    forward_std: np.ndarray
    backward_std: np.ndarray


def _std(a):
    """std of all of ``a``, exact down to float32's smallest numbers (``jnp.std`` squares
    the values, which underflow below about 1e-19: scale by the largest value first); inf
    once a value overflowed (an explosion is inf, never the NaN of inf - inf)."""
    top = jnp.max(jnp.abs(a))
    scale = jnp.where(top > 0, top, 1.0)
    return jnp.where(jnp.isfinite(top), jnp.std(a / scale) * scale, jnp.inf)


# Each activation with its slope phi'(z), for lax.switch on the activation's index.
_BRANCHES = [functools.partial(lambda fn, z: jax.jvp(fn, (z,), (jnp.ones_like(z),)), a.jax)
             for a in FUNCTIONS.values()]


@functools.partial(jax.jit, static_argnames=("batch", "keep", "weights"), donate_argnums=(0,))
def _engine(stack, drawn, key, family, multiplier, act, depth, *, batch, keep, weights=False):
    """Draw layers ``drawn .. depth`` into ``stack``, then run the first ``depth`` layers.

    Returns ``(stack, forward, backward)``: per-layer stds of shape ``(capacity,)`` (NaN
    above ``depth``), or with ``keep`` every value, shape ``(capacity, batch, width)``;
    with ``weights``, ``backward`` is ``(std of dL/dh_l, of dL/dW_l, of h_{l-1})``.
    The loops run ``depth`` times (a traced bound): a shallow run costs what its layers do.
    """
    capacity, width, _ = stack.shape
    k_w, k_x, k_r = jax.random.split(key, 3)
    keys = jax.random.split(k_w, capacity)  # layer l's key, whatever the capacity

    def fill(layer, stack):
        w = unit_draw(family, keys[layer], (width, width))
        return jax.lax.dynamic_update_index_in_dim(stack, w, layer, 0)

    stack = jax.lax.fori_loop(drawn, depth, fill, stack)
    x = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    measure = (lambda a: a) if keep else _std
    per_layer = jnp.full((capacity, batch, width) if keep else (capacity,), jnp.nan, jnp.float32)
    rows = jnp.zeros((capacity, batch, width), jnp.float32)

    def forward(layer, state):
        h, fwd, slopes, inputs = state
        a, slope = jax.lax.switch(act, _BRANCHES, (h @ stack[layer]) * multiplier)
        inputs = inputs.at[layer].set(h) if weights else inputs
        return a, fwd.at[layer].set(measure(a)), slopes.at[layer].set(slope), inputs

    _, fwd, slopes, inputs = jax.lax.fori_loop(
        0, depth, forward, (x, per_layer, rows, rows if weights else None))

    def backward(step, state):
        g, out = state
        layer = depth - 1 - step
        delta = g * slopes[layer]  # dL/dz_l; dL/dW_l = h_{l-1}^T delta
        if weights:
            h = inputs[layer]
            found = (measure(g), _std(h.T @ delta), _std(h))
            out = tuple(o.at[layer].set(f) for o, f in zip(out, found, strict=True))
        else:
            out = out.at[layer].set(measure(g))
        return (delta @ stack[layer].T) * multiplier, out

    _, bwd = jax.lax.fori_loop(0, depth, backward, (r, (per_layer,) * 3 if weights else per_layer))
    return stack, fwd, bwd


def memory_estimate(capacity: int, width: int, batch: int, *, keep: bool = False,
                    stacks: int = 1) -> int:
    """Bytes one run of the engine needs at most (checked against XLA's memory analysis);
    ``stacks=2`` for another Flax initializer, drawn on the host first."""
    kernel, rows = 4 * width * width, 4 * batch * width
    return capacity * (stacks * kernel + rows * (3 if keep else 1)) + 8 * rows + 4 * kernel


class KernelStack:
    """The unit-variance kernels ``(capacity, width, width)`` of one family and seed, drawn
    as deep as a run asks and kept: ``nbytes`` once used. The depth is a traced loop
    bound, so every depth up to ``capacity`` shares one compilation."""

    def __init__(self, capacity: int, width: int):
        self.capacity, self.width = capacity, width
        self.nbytes = 4 * capacity * width * width
        self._array, self._tag, self._drawn = None, None, 0

    def propagate(self, initializer: Resolved, activation: str, depth: int, *, batch: int,
                  seed: int, keep: bool = False, weights: bool = False):
        """Run the first ``depth`` layers with a :func:`~initcourse.initializers.resolve`
        result: a registry entry scales the kept unit draws, any other is called per
        layer (not kept). Returns float64 stds ``(forward, backward)`` of shape ``(depth,)``;
        with ``keep`` float32 values ``(depth, batch, width)``; with ``weights``,
        ``backward`` is the stds of ``(dL/dh_l, dL/dW_l, h_{l-1})``.
        """
        entry, key = initializer.spec, jax.random.PRNGKey(seed)
        if entry is None:
            # Filled on the host: shapes that change with the depth compile nothing.
            buffer = np.zeros((self.capacity, self.width, self.width), np.float32)
            keys = jax.random.split(jax.random.split(key, 3)[0], self.capacity)
            init = checked(initializer)
            for layer, k in zip(range(depth), keys, strict=False):
                buffer[layer] = init(k, (self.width, self.width), jnp.float32)
            drawn, tag, family, multiplier = self.capacity, None, 0, 1.0
        else:
            family = FAMILIES.index(entry.family)
            multiplier = entry.multiplier(self.width, self.width, stddev=initializer.stddev)
            tag = (family, seed)
            drawn = self._drawn if tag == self._tag else 0
            buffer = self._array
            if buffer is None:  # numpy: no compilation for a new shape
                release_memory()
                buffer = np.zeros((self.capacity, self.width, self.width), np.float32)
        # Donated: until the run succeeds the stack holds nothing (no broken buffer).
        self._array, self._tag, self._drawn = None, None, 0
        with releasing():  # a new shape compiles: hand back what the compiler freed
            out = _engine(buffer, jnp.int32(drawn), key, jnp.int32(family),
                          jnp.float32(multiplier), jnp.int32(ACTIVATIONS.index(activation)),
                          jnp.int32(depth), batch=batch, keep=keep, weights=weights)
            stack, fwd, bwd = jax.block_until_ready(out)
        if tag is not None:
            self._array, self._tag, self._drawn = stack, tag, max(drawn, depth)
        if keep:
            return np.asarray(fwd[:depth]), np.asarray(bwd[:depth])
        fwd, bwd = (jax.tree.map(lambda a: np.asarray(a, np.float64)[:depth], a) for a in (fwd, bwd))
        return fwd, bwd


def capacity(depth: int, width: int) -> tuple[int, bool]:
    """``(layers, cached)``: the smallest of ``CAPACITIES`` that holds ``depth`` and fits
    ``CACHE_BUDGET`` (kept between calls), else exactly ``depth`` layers (not kept)."""
    for layers in CAPACITIES:
        if depth <= layers and 4 * layers * width * width <= CACHE_BUDGET:
            return layers, True
    return depth, False


# The stacks layer_stats keeps, least recently used first: CACHE_BUDGET bytes at most.
_STACKS: OrderedDict[tuple[int, int], KernelStack] = OrderedDict()


def _stack_for(depth: int, width: int) -> KernelStack:
    layers, cached = capacity(depth, width)
    if not cached:
        return KernelStack(layers, width)
    stack = _STACKS.pop((layers, width), None) or KernelStack(layers, width)
    while _STACKS and retained_bytes() + stack.nbytes > CACHE_BUDGET:
        _STACKS.popitem(last=False)
    _STACKS[(layers, width)] = stack
    return stack


def retained_bytes() -> int:
    """Bytes of kernels :func:`layer_stats` keeps now (at most ``CACHE_BUDGET``)."""
    return sum(stack.nbytes for stack in _STACKS.values())


def check_run(initializer, activation, depth, width, batch, seed, stddev, *, keep=False):
    """The arguments of :func:`layer_stats` checked (depth, width and batch against the
    maxima and ``MEMORY_LIMIT``): ``(resolved, activation, depth, width, batch, seed)``."""
    resolved = resolve(initializer, stddev=stddev)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=MAX_WIDTH)
    batch = _validate.integral("batch", batch, minimum=2, maximum=MAX_BATCH)
    if resolved.spec is not None and resolved.spec.family == "orthogonal":
        check_orthogonal_cost(width, width, depth, what=f"depth={depth}, width={width}")
    need = memory_estimate(capacity(depth, width)[0], width, batch, keep=keep,
                           stacks=1 if resolved.spec else 2)
    if need > MEMORY_LIMIT:
        raise ValueError(
            f"depth={depth}, width={width}, batch={batch} would need about "
            f"{need / 2**30:.1f} GiB, more than the {MEMORY_LIMIT / 2**30:g} GiB limit "
            "(kernels: depth * width² floats; activations: depth * batch * width): "
            "use fewer layers, a narrower width or a smaller batch"
        )
    return resolved, activation, depth, width, batch, _validate.seed(seed)


def layer_stats(initializer, activation: str, depth, width, *, batch=256, seed=0,
                stddev=None) -> LayerStats:
    """Push a seeded unit-variance batch through ``depth`` square layers and measure it.

    Arguments:
        initializer: a registry name (``"lecun_normal"``, ...) or any Flax initializer
            ``(key, shape, dtype) -> Array``, used for every ``(width, width)`` kernel.
        activation: one of ``ACTIVATIONS``.
        depth: number of layers, 1 to 1000.
        width: units per layer (fan_in = fan_out = width), 1 to 8192.
        batch: number of input rows (each ``N(0, 1)``), 2 to 65536.
        seed: draws the kernels, the inputs and the backward cotangent; 0 to 2**32 - 1.
        stddev: for ``initializer="normal"`` only (Flax's default 0.01).

    Biases are zero. Shapes needing more than ``MEMORY_LIMIT`` (2 GiB) are refused. Every
    depth up to 100 (1000 for widths up to 362) at one ``(width, batch)`` shares one
    compilation; registry kernels are kept, in at most ``CACHE_BUDGET`` (512 MiB), while
    the family and seed stay. Any other Flax initializer is called afresh per layer (a new
    initializer object compiles nothing new).
    """
    resolved, activation, depth, width, batch, seed = check_run(
        initializer, activation, depth, width, batch, seed, stddev)
    forward, backward = _stack_for(depth, width).propagate(
        resolved, activation, depth, batch=batch, seed=seed)
    return LayerStats(forward, backward, initializer=resolved.name, activation=activation,
                      depth=depth, width=width, batch=batch, seed=seed)
