"""Learning-rate transfer: the final loss on a grid of widths and learning rates, for one
parametrization.

Under SP the best rate moves with the width (wider nets blow up at smaller rates); under
muP the curves of loss against rate lie on top of each other, so a rate tuned on a narrow
net is the rate for a wide one (Tensor Programs V, Figure 1). Each width runs all its
rates and seeds as one compiled program (``vmap`` over the runs, ``lax.scan`` over the
steps): one compilation per width, none per rate or seed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse.training.data import batch_order, digits
from initcourse.width import mlp
from initcourse.width.coord import ACTIVATIONS, MAX_DEPTH, MAX_WIDTH, widths_argument
from initcourse.width.parametrizations import OPTIMIZERS, PARAMETRIZATIONS

MAX_STEPS, MAX_RATES, MAX_SEEDS = 2000, 24, 8
#: Bound on ``runs * steps * batch * weights`` summed over the widths (``6 x`` that in
#: floating-point operations): about 30 s on the course's 2-core machine.
MAX_WORK = 2**40
#: A run has diverged at the first step whose training loss is not finite or exceeds this:
#: ten times the loss of a uniform guess over the 10 classes (ln 10 = 2.30).
DIVERGED = 10 * math.log(10)


@dataclass(frozen=True)
class Sweep:
    """What :func:`lr_sweep` measured, on the grid ``widths x learning_rates x seeds``.

    ``loss``: the loss on the whole training set (1,437 digits) after the last step (NaN
    where the run diverged); ``test_loss``: the loss on the 360 held-out digits after the last step (NaN
    where diverged); ``diverged_at``: the step at which a run diverged, -1 if it did not;
    ``curves``: the training loss of every step, ``(widths, rates, seeds, steps)``.
    """

    loss: np.ndarray
    test_loss: np.ndarray
    diverged_at: np.ndarray
    curves: np.ndarray
    widths: tuple[int, ...]
    learning_rates: tuple[float, ...]
    seeds: tuple[int, ...]
    parametrization: str
    optimizer: str
    steps: int

    def mean_loss(self, test: bool = False) -> np.ndarray:
        """``(widths, rates)``: the loss averaged over the seeds, ``inf`` where any diverged."""
        loss = self.test_loss if _validate.flag("test", test) else self.loss
        return np.where(np.isnan(loss).any(-1), np.inf, np.nanmean(np.where(np.isnan(loss), 0, loss), -1))

    @property
    def best_lr(self) -> np.ndarray:
        """The rate of the lowest mean training loss, one per width (NaN if every run of
        that width diverged)."""
        return self._best(self.mean_loss())

    def best_lr_by_seed(self) -> np.ndarray:
        """``(widths, seeds)``: each seed's own best rate."""
        loss = np.where(np.isnan(self.loss), np.inf, self.loss)
        return np.stack([self._best(loss[..., s]) for s in range(len(self.seeds))], -1)

    def best_log2_lr(self, test: bool = False, by_seed: bool = False) -> np.ndarray:
        """The best rate read between the grid's points: ``log2`` of the vertex of the
        parabola through ``log loss`` at the lowest point and its two neighbours (against
        ``log2`` of the rate), kept between those neighbours; at the grid's edge, the edge.
        One per width (``(widths, seeds)`` with ``by_seed``); NaN if every run diverged.

        A grid's argmin jumps between neighbouring rates where the curve is flat near its
        minimum; the vertex moves smoothly, so it compares widths more finely."""
        loss = self.test_loss if _validate.flag("test", test) else self.loss
        loss = np.where(np.isnan(loss), np.inf, loss)
        if not _validate.flag("by_seed", by_seed):
            loss = np.where(np.isinf(loss).any(-1, keepdims=True), np.inf, loss).mean(-1)
            return self._vertex(loss)
        return np.stack([self._vertex(loss[..., s]) for s in range(len(self.seeds))], -1)

    def _vertex(self, loss: np.ndarray) -> np.ndarray:
        x = np.log2(np.asarray(self.learning_rates))
        out = np.full(loss.shape[0], np.nan)
        for i, row in enumerate(loss):
            if not np.isfinite(row).any():
                continue
            k = int(np.argmin(row))
            if k in (0, len(x) - 1) or not np.isfinite(row[k - 1:k + 2]).all():
                out[i] = x[k]
                continue
            a, b, _ = np.polyfit(x[k - 1:k + 2], np.log(row[k - 1:k + 2]), 2)
            out[i] = np.clip(-b / (2 * a), x[k - 1], x[k + 1]) if a > 0 else x[k]
        return out

    def _best(self, loss: np.ndarray) -> np.ndarray:
        rates = np.asarray(self.learning_rates)
        best = rates[np.argmin(loss, axis=-1)]
        return np.where(np.isfinite(loss).any(-1), best, np.nan)


@functools.partial(jax.jit, static_argnames=("depth", "width", "opt", "activation"),
                   compiler_options=mlp.COMPILER_OPTIONS)
def _runs(keys, knobs, lrs, orders, x, y, x_test, y_test, *, depth, width, opt, activation):
    """One run per row of ``keys``/``lrs``/``orders``: ``(losses (R, steps), final loss on
    the whole training set (R,), on the test set (R,))``."""

    def run(key, lr, rows):
        params = mlp.init(key, knobs, depth=depth, width=width)

        def step(state, idx):
            params, opt_state = state
            params, opt_state, value = mlp.step(params, opt_state, x[idx], y[idx], knobs, lr,
                                                opt=opt, activation=activation)
            return (params, opt_state), value

        (params, _), losses = jax.lax.scan(step, (params, mlp.optimizer(opt).init(params)), rows)
        return losses, mlp.loss(params, x, y, knobs, activation), mlp.loss(params, x_test, y_test,
                                                                          knobs, activation)

    return jax.vmap(run)(keys, lrs, orders)


def _rates(learning_rates) -> tuple[float, ...]:
    if isinstance(learning_rates, (str, bytes)) or not hasattr(learning_rates, "__iter__"):
        raise TypeError(f"learning_rates must be a sequence of rates such as 2.0 ** -np.arange(2, 12); "
                        f"received {_validate.shown(learning_rates)}")
    rates = tuple(_validate.positive_real(f"learning_rates[{i}]", r, maximum=10.0)
                  for i, r in enumerate(learning_rates))
    if not rates or len(rates) > MAX_RATES:
        raise ValueError(f"learning_rates must hold 1 to {MAX_RATES} rates; received {len(rates)}")
    return tuple(sorted(set(rates)))


def lr_sweep(parametrization: str, *, widths=(64, 256, 1024), learning_rates=None,
             steps: int = 100, seeds=(0, 1), optimizer: str = "adam", depth: int = 2,
             activation: str = "tanh", base_width: int = mlp.BASE_WIDTH, batch: int = 32,
             seed: int | None = None) -> Sweep:
    """Train the MLP of :mod:`initcourse.width.mlp` at every width, learning rate and seed.

    Arguments:
        parametrization: ``"sp"``, ``"ntk"`` or ``"mup"``.
        widths: at least two widths, 2 to 4096 (at most 12).
        learning_rates: the rates ``eta`` (each in ``(0, 10]``, at most 24); default
            ``2**-12 .. 2**-1`` by factors of 2.
        steps: training steps, 1 to 2000. seeds: 1 to 8 seeds (draws and batch order);
            ``seed`` (one seed) may be given instead.
        optimizer: ``"adam"`` or ``"sgd"``. depth: hidden layers, 1 to 8.
        activation: ``"tanh"``, ``"relu"`` or ``"linear"``. base_width: as in :func:`coord_check`.
        batch: rows per step, 1 to 256.

    Cost: ``rates * seeds * steps * batch * weights`` summed over the widths must stay
    under 2**40 (about 30 s here); a larger call is refused before any work.
    """
    parametrization = _validate.choice("parametrization", parametrization, PARAMETRIZATIONS)
    optimizer = _validate.choice("optimizer", optimizer, OPTIMIZERS)
    activation = _validate.choice("activation", activation, ACTIVATIONS)
    widths = widths_argument(widths)
    rates = _rates(2.0 ** -np.arange(12, 0, -1) if learning_rates is None else learning_rates)
    steps = _validate.integral("steps", steps, minimum=1, maximum=MAX_STEPS)
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    base_width = _validate.integral("base_width", base_width, minimum=2, maximum=MAX_WIDTH)
    batch = _validate.integral("batch", batch, minimum=1, maximum=256)
    if seed is not None:
        if seeds != (0, 1):
            raise ValueError(f"give seed or seeds, not both; received seed={_validate.shown(seed)} "
                             f"and seeds={_validate.shown(seeds)}")
        seeds = (seed,)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of seeds such as (0, 1); received "
                        f"{_validate.shown(seeds)}")
    seeds = tuple(_validate.seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"seeds must hold 1 to {MAX_SEEDS} seeds; received {len(seeds)}")
    work = sum(len(rates) * len(seeds) * steps * batch * mlp.weights(depth, w) for w in widths)
    if work > MAX_WORK:
        raise ValueError(f"this sweep would cost rates * seeds * steps * batch * weights = "
                         f"{work:,} summed over the widths, above the bound of {MAX_WORK:,} "
                         f"(about 30 s here): use fewer rates, seeds or steps, or smaller widths")
    data = digits()
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    runs = [(rate, s) for rate in rates for s in seeds]
    keys = jnp.stack([jax.random.PRNGKey(s) for _, s in runs])
    lrs = jnp.asarray([rate for rate, _ in runs], jnp.float32)
    orders = jnp.asarray(np.stack([batch_order(s, steps, batch) for _, s in runs]))
    curves, finals, tests = [], [], []
    for width in widths:
        knobs = mlp.knob_arrays(parametrization, optimizer, width, base_width)
        losses, final, test = _runs(keys, knobs, lrs, orders, x, y, x_test, y_test, depth=depth,
                             width=width, opt=optimizer, activation=activation)
        curves.append(np.asarray(losses, np.float64).reshape(len(rates), len(seeds), steps))
        finals.append(np.asarray(final, np.float64).reshape(len(rates), len(seeds)))
        tests.append(np.asarray(test, np.float64).reshape(len(rates), len(seeds)))
    curves, finals, tests = np.stack(curves), np.stack(finals), np.stack(tests)
    bad = ~np.isfinite(curves) | (curves > DIVERGED)
    diverged_at = np.where(bad.any(-1), np.argmax(bad, -1), -1)
    gone = diverged_at >= 0
    loss = np.where(gone | ~np.isfinite(finals), np.nan, finals)
    return Sweep(loss, np.where(gone, np.nan, tests), diverged_at, curves, widths, rates, seeds,
                 parametrization, optimizer, steps)
