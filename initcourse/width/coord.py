"""The coordinate check: how much each layer's pre-activations move in the first steps of
training, against the width.

It is the test the ``mup`` package ships (``mup/coord_check.py``) to tell whether a model
is parametrized right: train a few steps at several widths and look at the size of each
layer's coordinates. Here the quantity is the change itself: after ``t`` steps, the mean
over a fixed batch of ``|h_l(t) - h_l(0)|`` for every layer ``l`` (the hidden layers'
pre-activations and the logits). Under a parametrization that learns features at every
width (muP) it does not grow with the width; under SP it grows about like the width with
Adam, under NTK like its square root. :meth:`CoordCheck.slopes` fits the log-log slopes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.training.data import batch_order, digits
from initcourse.width import mlp
from initcourse.width.parametrizations import OPTIMIZERS, PARAMETRIZATIONS

#: Bounds of one call (each width runs ``steps`` steps of its own compiled program; the
#: largest call, widths up to 4096 at depth 4, returns in a few seconds here).
MAX_WIDTH, MAX_DEPTH, MAX_STEPS, MAX_WIDTHS = 4096, 8, 50, 12
#: Bound on ``steps * depth * width**2`` summed over the widths: about 3 s on the course's
#: 2-core machine at the batch of 64 rows (widths 1024-4096, 20 steps, depth 4, is 1.7e9 and
#: took over 20 s here).
MAX_WORK = 2**28
ACTIVATIONS = ("tanh", "relu", "linear")


@dataclass(frozen=True)
class CoordCheck:
    """What :func:`coord_check` measured.

    ``delta``: ``(len(widths), depth + 1)``, the mean ``|Δh|`` of each layer after the
    last step (columns: the hidden layers 1..depth, then the logits);
    ``by_step``: ``(len(widths), steps, depth + 1)``, the same after every step;
    ``initial``: ``(len(widths), depth + 1)``, the mean ``|h|`` at initialization;
    ``layers``: the columns' names; and the settings.
    """

    delta: np.ndarray
    by_step: np.ndarray
    initial: np.ndarray
    widths: tuple[int, ...]
    layers: tuple[str, ...]
    parametrization: str
    optimizer: str
    steps: int
    learning_rate: float
    seed: int

    def slopes(self) -> np.ndarray:
        """The least-squares slope of ``log delta`` against ``log width``, one per layer:
        about 0 where the updates do not grow with the width, 1 where they grow like it."""
        x = np.log(np.asarray(self.widths, np.float64))
        return np.polyfit(x, np.log(self.delta), 1)[0]

    def growth(self) -> np.ndarray:
        """``delta`` at the largest width over ``delta`` at the smallest, per layer."""
        return self.delta[-1] / self.delta[0]


@functools.partial(jax.jit, static_argnames=("depth", "width", "opt", "activation"),
                   compiler_options=mlp.COMPILER_OPTIONS)
def _run(key, knobs, lr, xs, ys, probe, *, depth, width, opt, activation):
    """``(initial mean |h| (L,), mean |Δh| after each step (steps, L))``."""
    params = mlp.init(key, knobs, depth=depth, width=width)
    _, h0 = mlp.forward(params, probe, knobs, activation)

    def step(state, batch):
        params, opt_state = state
        params, opt_state, _ = mlp.step(params, opt_state, *batch, knobs, lr, opt=opt,
                                        activation=activation)
        _, h = mlp.forward(params, probe, knobs, activation)
        moved = jnp.stack([jnp.mean(jnp.abs(a - b)) for a, b in zip(h, h0, strict=True)])
        return (params, opt_state), moved

    _, moved = jax.lax.scan(step, (params, mlp.optimizer(opt).init(params)), (xs, ys))
    return jnp.stack([jnp.mean(jnp.abs(a)) for a in h0]), moved


def _overflowed_as_inf(values: np.ndarray) -> np.ndarray:
    """An overflow reads ``inf``: NaN here comes from ``inf - inf`` once a layer overflowed,
    and from every step after it."""
    values = values.copy()
    bad = np.isnan(values)
    if values.ndim == 2:  # (steps, layers): once a layer overflowed, it stays overflowed
        bad = np.maximum.accumulate(bad | np.isinf(values), axis=0)
    values[bad] = np.inf
    return values


def widths_argument(widths, *, minimum: int = 2, maximum: int = MAX_WIDTH,
                    most: int = MAX_WIDTHS) -> tuple[int, ...]:
    """``widths`` checked: at least two distinct whole numbers in ``[minimum, maximum]``,
    returned sorted."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a sequence of whole numbers such as (64, 256, 1024); "
                        f"received {_validate.shown(widths)}")
    values = tuple(_validate.integral(f"widths[{i}]", w, minimum=minimum, maximum=maximum)
                   for i, w in enumerate(widths))
    if len(set(values)) < 2:
        raise ValueError(f"widths must hold at least two different widths (a slope needs two "
                         f"points); received {_validate.shown(widths)}")
    if len(values) > most:
        raise ValueError(f"widths must hold at most {most} widths; received {len(values)}")
    return tuple(sorted(set(values)))


def coord_check(parametrization: str, *, widths=(64, 128, 256, 512, 1024), steps: int = 3,
                optimizer: str = "adam", learning_rate: float = 2**-6, depth: int = 2,
                activation: str = "tanh", base_width: int = mlp.BASE_WIDTH, batch: int = 64,
                seed: int = 0) -> CoordCheck:
    """Train the MLP of :mod:`initcourse.width.mlp` for ``steps`` steps at each width and
    measure how far each layer's pre-activations moved.

    Every width sees the same batches (drawn from ``seed``) and is measured on the same
    probe batch (the first one); its kernels are drawn from ``PRNGKey(seed)``.

    Arguments:
        parametrization: ``"sp"``, ``"ntk"`` or ``"mup"`` (:mod:`~.parametrizations`).
        widths: at least two widths, each 2 to 4096 (at most 12).
        steps: training steps, 1 to 50.
        optimizer: ``"adam"`` or ``"sgd"`` (plain gradient steps).
        learning_rate: ``eta`` in ``(0, 10]``, each layer's rate is ``eta`` times its factor.
        depth: hidden layers, 1 to 8 (``depth + 1`` measured layers, the logits last).
        activation: ``"tanh"``, ``"relu"`` or ``"linear"``.
        base_width: the width at which the three parametrizations coincide (2 to 4096).
        batch: rows per step, 1 to 256. seed: 0 to 2**32 - 1.

    Cost: ``steps * depth * width**2`` summed over the widths must stay under 2**28 (about
    3 s here); a larger call is refused before any work. A layer whose change overflowed
    reads ``inf`` (never NaN).
    """
    parametrization = _validate.choice("parametrization", parametrization, PARAMETRIZATIONS)
    optimizer = _validate.choice("optimizer", optimizer, OPTIMIZERS)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    widths = widths_argument(widths)
    steps = _validate.integral("steps", steps, minimum=1, maximum=MAX_STEPS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    base_width = _validate.integral("base_width", base_width, minimum=2, maximum=MAX_WIDTH)
    batch = _validate.integral("batch", batch, minimum=1, maximum=256)
    seed = _validate.seed(seed)
    lr = _validate.positive_real("learning_rate", learning_rate, maximum=10.0)
    work = sum(steps * depth * w * w for w in widths)
    if work > MAX_WORK:
        raise ValueError(f"this coordinate check would cost steps * depth * width**2 = {work:,} "
                         f"summed over the widths, above the bound of {MAX_WORK:,} (about 3 s "
                         f"here): use fewer steps, a smaller depth or smaller widths")
    data = digits()
    order = batch_order(seed, steps, batch)
    xs, ys = jnp.asarray(data.x_train[order]), jnp.asarray(data.y_train[order])
    key = jax.random.PRNGKey(seed)
    initial, by_step = [], []
    for width in widths:
        knobs = mlp.knob_arrays(parametrization, optimizer, width, base_width)
        h0, moved = _run(key, knobs, jnp.float32(lr), xs, ys, xs[0], depth=depth, width=width,
                         opt=optimizer, activation=activation)
        initial.append(_overflowed_as_inf(np.asarray(h0, np.float64)))
        by_step.append(_overflowed_as_inf(np.asarray(moved, np.float64)))
    by_step = np.stack(by_step)
    layers = tuple(f"hidden {i}" for i in range(1, depth + 1)) + ("logits",)
    return CoordCheck(by_step[:, -1], by_step, np.stack(initial), widths, layers,
                      parametrization, optimizer, steps, lr, seed)
