"""A residual stack at initialization: how the stream's variance adds up block after block.

One engine runs ``depth`` blocks ``x_{l+1} = x_l + s * W2 phi(W1 norm(x_l))`` (``norm`` the
identity, or LayerNorm before the branch: ``"pre"``), or ``x_{l+1} = LN(x_l + s * W2 phi(W1
x_l))`` (``"post"``), zero biases, LayerNorm at its init (scale one, bias zero), on a seeded
unit-normal batch, and the loss ``L = sum(out * r)`` back down (``r`` unit normal; ``out`` is
``x_depth``, or for pre-LN ``LN(x_depth)``: a pre-LN model normalizes its stream once more
before the readout, as GPT-2's ``ln_f`` does).
:func:`residual_stats` measures it; :func:`predicted_residual` is the same recursion in
expectation (wide layers, Gaussian pre-activations), computed by quadrature.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.initializers import FAMILIES, check_orthogonal_cost, checked, resolve, unit_draw
from initcourse.meanfield.quadrature import gaussian_expectation
from initcourse.memory import releasing

NORMS = (None, "pre", "post")
MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 500, 2048, 4096
#: Depths a compiled stack holds: every depth up to a capacity shares one compilation.
CAPACITIES = (16, 64, 256, 500)
#: The most memory one :func:`residual_stats` call may need (kernels and kept activations).
MEMORY_LIMIT = 2 * 2**30
#: Unit draws kept between calls (the explorer's moves redraw nothing): 512 MiB at most.
CACHE_BUDGET = 512 * 2**20
LN_EPSILON = 1e-6  # Flax's LayerNorm default


@dataclass(frozen=True, kw_only=True)
class ResidualStats:
    """Per-block figures of one residual stack at initialization.

    Attributes:
        stream_std: shape ``(depth + 1,)``: std of the stream ``x_l``; entry 0 is the input.
        grad_std: shape ``(depth + 1,)``: std of ``dL/dx_l``, for ``L = sum(out * r)``.
        branch_std: shape ``(depth,)``: std of what block ``l`` adds, ``s * W2 phi(W1 u)``.
        weight_grad_std: shape ``(depth,)``: std of ``dL/dW2`` of each block (its last
            kernel, the one a zero init starts at zero).
        and the run: initializer, activation, depth, width, norm, branch_scale,
        zero_init_last, batch, seed.
    """

    stream_std: np.ndarray
    grad_std: np.ndarray
    branch_std: np.ndarray
    weight_grad_std: np.ndarray
    initializer: str
    activation: str
    depth: int
    width: int
    norm: str | None
    branch_scale: float
    zero_init_last: bool
    batch: int
    seed: int

    @property
    def growth(self) -> float:
        """``stream_std[-1] / stream_std[0]``: how much the stream grew over the stack."""
        return float(self.stream_std[-1] / self.stream_std[0])


def _std(a):
    # As the MLP engine's: exact for tiny values, inf (never NaN) once something overflowed.
    top = jnp.max(jnp.abs(a))
    scale = jnp.where(top > 0, top, 1.0)
    return jnp.where(jnp.isfinite(top), jnp.std(a / scale) * scale, jnp.inf)


def _layer_norm(x):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + LN_EPSILON)


# Each activation with its slope, for lax.switch on the activation's index.
_BRANCHES = [functools.partial(lambda fn, z: jax.jvp(fn, (z,), (jnp.ones_like(z),)), a.jax)
             for a in FUNCTIONS.values()]


def _activation(act, z):
    """``phi(z)`` for the activation of index ``act`` (traced), with ``phi'(z)`` as its
    derivative. The switch runs forward only: differentiating through it made the whole
    program three times slower (XLA keeps every branch's residuals)."""
    value, slope = jax.lax.switch(act, _BRANCHES, jax.lax.stop_gradient(z))
    sg = jax.lax.stop_gradient
    return sg(value) + sg(slope) * (z - sg(z))


@functools.partial(jax.jit, static_argnames=("batch",))
def _run(w1, w2, key, act, depth, norm, m1, m2, *, batch):
    """Forward and backward through the first ``depth`` of the stacked kernels
    ``w1, w2: (capacity, width, width)`` (unit draws, scaled here by ``m1``, ``m2``: the
    branch scale and a zero init are in ``m2``). Blocks past ``depth`` are computed and
    dropped (a ``where``, not a ``cond``: a conditional in the loop cost more than the
    blocks it skipped), so every depth up to the capacity shares this program."""
    capacity, width, _ = w1.shape
    k_x, k_r = jax.random.split(key)
    x0 = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)

    def branch(x, a, b):
        u = jax.lax.select(norm == 1, _layer_norm(x), x)
        return (_activation(act, (u @ a) * m1) @ b) * m2

    def loss(w2s, bumps):
        def block(x, inputs):
            layer, a, b, bump = inputs
            x = x + bump
            f = branch(x, a, b)
            y = jax.lax.select(norm == 2, _layer_norm(x + f), x + f)
            live = layer < depth
            return jnp.where(live, y, x), (_std(x), jnp.where(live, _std(f), jnp.nan))

        out, (stds, f_stds) = jax.lax.scan(block, x0, (jnp.arange(capacity), w1, w2s, bumps[:-1]))
        out = out + bumps[-1]
        read = jax.lax.select(norm == 1, _layer_norm(out), out)  # pre-LN: the final norm
        return jnp.sum(read * r), (stds, f_stds, _std(out))

    bumps = jnp.zeros((capacity + 1, batch, width), jnp.float32)
    grads, (stds, f_stds, last) = jax.grad(loss, argnums=(0, 1), has_aux=True)(w2, bumps)
    w_grad, x_grad = grads
    g_stds = jax.vmap(_std)(x_grad)
    # dL/dW2 of the effective kernel m2 * w2: divide out m2 (and with m2 = 0, the chain
    # rule's zero) by differentiating the product's other factor instead.
    wg = jax.vmap(_std)(w_grad)
    return stds, last, f_stds, g_stds, wg


def memory_estimate(capacity: int, width: int, batch: int) -> int:
    """Bytes one run needs at most: the two kernel stacks, and per block the activations
    its backward pass keeps (about eight rows of ``batch * width`` floats)."""
    return 4 * capacity * (2 * width * width + 10 * batch * width) + 4 * width * width


def capacity_for(depth: int) -> int:
    """The smallest of ``CAPACITIES`` that holds ``depth`` blocks."""
    return next(c for c in CAPACITIES if depth <= c)


# Unit draws by (family, seed, capacity, width), least recently used first.
_DRAWS: OrderedDict[tuple, tuple] = OrderedDict()


@functools.partial(jax.jit, static_argnames=("capacity", "width"))
def _unit_stacks(key, family, *, capacity, width):
    k1, k2 = jax.random.split(key)

    def draw(k):
        return unit_draw(family, k, (width, width))

    return (jax.vmap(draw)(jax.random.split(k1, capacity)),
            jax.vmap(draw)(jax.random.split(k2, capacity)))


def _kernels(resolved, seed: int, cap: int, width: int, depth: int):
    """``(w1, w2, m1, m2)``: unit draws and their multipliers (a registry entry), or the
    initializer's own draws with multipliers 1 (any other Flax initializer: not kept)."""
    entry = resolved.spec
    key = jax.random.PRNGKey(seed)
    if entry is None:
        init = checked(resolved)
        keys = jax.random.split(key, 2 * cap)
        w = np.zeros((2, cap, width, width), np.float32)
        for layer in range(depth):
            w[0, layer] = init(keys[2 * layer], (width, width), jnp.float32)
            w[1, layer] = init(keys[2 * layer + 1], (width, width), jnp.float32)
        return jnp.asarray(w[0]), jnp.asarray(w[1]), 1.0, 1.0
    family = FAMILIES.index(entry.family)
    tag = (family, seed, cap, width)
    stacks = _DRAWS.pop(tag, None)
    if stacks is None:
        nbytes = 8 * cap * width * width
        while _DRAWS and sum(8 * t[2] * t[3] ** 2 for t in _DRAWS) + nbytes > CACHE_BUDGET:
            _DRAWS.popitem(last=False)
        with releasing():
            stacks = _unit_stacks(key, jnp.int32(family), capacity=cap, width=width)
    if 8 * cap * width * width <= CACHE_BUDGET:
        _DRAWS[tag] = stacks
    m = entry.multiplier(width, width, stddev=resolved.stddev)
    return stacks[0], stacks[1], m, m


def check_arguments(initializer, activation, depth, width, norm, branch_scale, zero_init_last,
                    seed, batch, stddev=None, capacity=None):
    """The arguments of :func:`residual_stats`, checked; returns them resolved, and the
    capacity last."""
    resolved = resolve(initializer, stddev=stddev)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=2, maximum=MAX_WIDTH)
    batch = _validate.integral("batch", batch, minimum=2, maximum=MAX_BATCH)
    if norm not in NORMS:
        raise ValueError(f"norm must be None (no normalization), 'pre' (LayerNorm before each "
                         f"branch) or 'post' (LayerNorm after each sum); received {norm!r}")
    branch_scale = _validate.real("branch_scale", branch_scale, minimum=0.0, maximum=1e3)
    if not isinstance(zero_init_last, (bool, np.bool_)):
        raise TypeError(f"zero_init_last must be True or False; received {zero_init_last!r}")
    seed = _validate.seed(seed)
    cap = capacity_for(depth) if capacity is None else _validate.integral(
        "capacity", capacity, minimum=depth, maximum=MAX_DEPTH)
    if resolved.spec is not None and resolved.spec.family == "orthogonal":
        check_orthogonal_cost(width, width, 2 * cap, what=f"depth={depth}, width={width}")
    need = memory_estimate(cap, width, batch)
    if need > MEMORY_LIMIT:
        raise ValueError(f"depth={depth}, width={width}, batch={batch} would need about "
                         f"{need / 2**30:.1f} GiB, more than the {MEMORY_LIMIT / 2**30:g} GiB "
                         "limit (two kernels of width² floats per block, and the activations "
                         "the backward pass keeps): use fewer blocks, a narrower width or a "
                         "smaller batch")
    return (resolved, activation, depth, width, norm, branch_scale, bool(zero_init_last), seed,
            batch, cap)


def residual_stats(initializer, *, depth, width, activation="relu", norm=None, branch_scale=1.0,
                   zero_init_last=False, seed=0, batch=256, stddev=None,
                   capacity=None) -> ResidualStats:
    """Measure a residual stack of ``depth`` blocks at initialization.

    Arguments:
        initializer: a registry name (``"he_normal"``, ...) or any Flax initializer, for
            both kernels ``W1, W2`` of every block, shape ``(width, width)``.
        depth: number of blocks, 1 to 500.
        width: units of the stream and of the branch's hidden layer, 2 to 2048.
        activation: one of ``ACTIVATIONS``, between the branch's two kernels.
        norm: ``None``; ``"pre"``: ``x + s * F(LN(x))``; ``"post"``: ``LN(x + s * F(x))``.
        branch_scale: ``s``, the factor on every branch (``1 / math.sqrt(depth)``, ...),
            0 to 1000.
        zero_init_last: start every ``W2`` at zero (Fixup, SkipInit, ReZero's alpha = 0 act
            the same way at init: the branch adds nothing).
        seed: draws the kernels, the input batch and the cotangent ``r``.
        batch: rows of the unit-normal input, 2 to 4096.
        stddev: for ``initializer="normal"`` only.
        capacity: the blocks the compiled program holds, ``depth`` to 500; by default the
            smallest of ``CAPACITIES`` that holds ``depth``. An explorer passes its deepest
            depth, so that every depth it shows shares one program.

    Every depth up to a capacity (16, 64, 256, 500 blocks) at one ``(width, batch)`` shares
    one compilation (and costs what the capacity's blocks cost); a registry initializer's
    draws are kept between calls, so changing the depth, norm, scale or activation redraws
    nothing.
    """
    (resolved, activation, depth, width, norm, branch_scale, zero_init_last, seed,
     batch, cap) = check_arguments(initializer, activation, depth, width, norm, branch_scale,
                                   zero_init_last, seed, batch, stddev, capacity)
    w1, w2, m1, m2 = _kernels(resolved, seed, cap, width, depth)
    last_scale = 0.0 if zero_init_last else branch_scale
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
    with releasing():
        out = _run(w1, w2, key, jnp.int32(
            ACTIVATIONS.index(activation)), jnp.int32(depth), jnp.int32(NORMS.index(norm)),
            jnp.float32(m1), jnp.float32(m2 * last_scale), batch=batch)
        stds, last, f_stds, g_stds, wg = (np.asarray(a, np.float64) for a in jax.block_until_ready(out))
    # The gradient was taken for the unit draws w2; the block's kernel W2 = m2 * w2 enters
    # as s * W2 h, so dL/dW2 = (dL/dw2) / m2. With W2 = 0 that product's factor is 0:
    # there dL/dW2 is computed directly (s * h^T g).
    if last_scale == 0.0:
        wg = branch_scale * _weight_grad_at_zero(w1, key, activation, norm, m1, batch)[:depth]
    else:
        wg = wg / m2
    return ResidualStats(
        stream_std=np.append(stds[:depth], last), grad_std=g_stds[:depth + 1],
        branch_std=f_stds[:depth], weight_grad_std=wg[:depth], initializer=resolved.name,
        activation=activation, depth=depth, width=width, norm=norm, branch_scale=branch_scale,
        zero_init_last=zero_init_last, batch=batch, seed=seed)


def _weight_grad_at_zero(w1, key, activation, norm, m1, batch) -> np.ndarray:
    """std of ``h_l^T g`` per block when every W2 is zero: the stream is then the input
    at every block (post-LN: its LayerNorm), ``h_l`` the branch's hidden layer and ``g``
    the cotangent reaching the sum (the same at every block)."""
    out = _zero_grads(w1, key, jnp.int32(ACTIVATIONS.index(activation)),
                      jnp.int32(NORMS.index(norm)), jnp.float32(m1), batch=batch)
    return np.asarray(out, np.float64)


@functools.partial(jax.jit, static_argnames=("batch",))
def _zero_grads(w1, key, act, norm, m1, *, batch):
    width = w1.shape[1]
    k_x, k_r = jax.random.split(key)
    x0 = jax.random.normal(k_x, (batch, width), jnp.float32)
    r = jax.random.normal(k_r, (batch, width), jnp.float32)
    x = jax.lax.select(norm == 2, _layer_norm(x0), x0)  # post-LN: every block renormalizes
    u = jax.lax.select(norm == 1, _layer_norm(x), x)
    # With every branch at zero the stream is x at every block; the norm that reads it last
    # (post-LN's, or pre-LN's final one) passes r back through its Jacobian at x.
    g = jax.lax.select(norm == 0, r, jax.vjp(_layer_norm, x)[1](r)[0])

    def one(a):
        h = _activation(act, (u @ a) * m1)
        return _std(h.T @ g)

    return jax.vmap(one)(w1)


#: Past this pre-activation variance the quadrature's range ends; the moments are carried on
#: by the activation's large-variance behaviour.
_V_CAP = 1e28


def _mean_square(activation: str, gain: float, q: float) -> tuple[float, float]:
    """``(E[phi(z)^2], E[phi'(z)^2])`` for ``z ~ N(0, gain * q)``.

    Above ``_V_CAP`` (an exploding stack) they follow the activation's asymptotics: linear,
    ReLU, GELU and softplus are (or become) homogeneous, so ``E[phi^2]`` grows like the variance and
    ``E[phi'^2]`` is constant; tanh and sigmoid saturate, ``E[phi^2]`` is constant and
    ``E[phi'^2]`` falls like one over the std (only ``|z| < 1`` has a slope)."""
    act = FUNCTIONS[activation]
    v = max(gain * q, 0.0)
    at = min(v, _V_CAP)
    ms = gaussian_expectation(lambda z: act.numpy(z) ** 2, at)
    slope = gaussian_expectation(lambda z: act.slope(z) ** 2, at)
    if v > _V_CAP:
        if activation in ("linear", "relu", "gelu", "softplus"):
            ms *= v / _V_CAP
        else:
            slope *= math.sqrt(_V_CAP / v)
    return ms, slope


def predicted_residual(initializer, *, depth, width, activation="relu", norm=None,
                       branch_scale=1.0, zero_init_last=False, stddev=None) -> dict:
    """The stream's and the gradient's std per block in expectation, for a registry
    initializer: ``{"stream_std": (depth + 1,), "grad_std": (depth + 1,)}``.

    With ``a = width * sigma_w^2`` (each kernel's variance gain) and ``q_l`` the stream's
    second moment:

    - ``norm=None``: ``q_{l+1} = q_l + s² a E[phi(z)²]``, ``z ~ N(0, a q_l)``; the gradient's
      second moment ``G_l = G_{l+1} (1 + s² a² E[phi'(z)²])``. For ReLU and He (a = 2):
      ``q_{l+1} = 3 q_l`` at ``s = 1``, a factor 3 per block both ways.
    - ``"pre"``: the branch sees a unit input: ``q_{l+1} = q_l + s² a E[phi(z)²]``,
      ``z ~ N(0, a)`` (ReLU, He: ``q_l = 1 + 2 l``); LayerNorm divides the backward branch by
      ``sqrt(q_l)``: ``G_l = G_{l+1} (1 + s² a² E[phi'(z)²] / q_l)`` (for ReLU, He the product
      telescopes: ``G_0 / G_L = q_L / q_0``).
    - ``"post"``: the stream is renormalized, ``q = 1``; ``G_l = G_{l+1} (1 + s² a²
      E[phi'²]) / (1 + s² a E[phi²])``, exactly 1 for ReLU (forward and backward gains agree).

    LayerNorm's removal of the mean (one of ``width`` directions) is neglected.
    """
    (resolved, activation, depth, width, norm, branch_scale, zero_init_last, _, _, _) = \
        check_arguments(initializer, activation, depth, width, norm, branch_scale,
                        zero_init_last, 0, 2, stddev)
    if resolved.spec is None:
        raise TypeError("predicted_residual needs a registry initializer (the theory uses "
                        f"its std); received {resolved.name}")
    a = width * resolved.spec.std(width, width, stddev=resolved.stddev) ** 2
    s2 = 0.0 if zero_init_last else branch_scale ** 2
    q, qs, back = 1.0, [1.0], []
    for _ in range(depth):
        ms, slope = _mean_square(activation, a, 1.0 if norm else q)
        forward, backward = s2 * a * ms, s2 * a * a * slope
        if norm is None:
            back.append(1.0 + backward)
            q = q + forward
        elif norm == "pre":
            back.append(1.0 + backward / q)
            q = q + forward
        else:
            back.append((1.0 + backward) / (1.0 + forward))
            q = 1.0
        qs.append(q)
    g = np.cumprod([1.0, *back[::-1]])[::-1]  # G_l / G_depth
    return {"stream_std": np.sqrt(np.array(qs)), "grad_std": np.sqrt(g)}


def fixup_scale(depth, layers_per_branch=2) -> float:
    """Fixup's rescaling of a branch's inner kernels, ``L^(-1/(2m-2))`` for ``L`` blocks of
    ``m`` layers (Zhang et al. 2019, section 3); for a homogeneous activation the branch's
    output is scaled by its ``m - 1``-th power, ``L^(-1/2)`` whatever ``m``."""
    depth = _validate.integral("depth", depth, minimum=1, maximum=10**6)
    m = _validate.integral("layers_per_branch", layers_per_branch, minimum=2, maximum=100)
    return float(depth ** (-1.0 / (2 * m - 2)))


__all__ = ["ResidualStats", "residual_stats", "predicted_residual", "fixup_scale",
           "NORMS", "MAX_DEPTH", "MAX_WIDTH"]
