"""The compiled part of :func:`initcourse.train`: an MLP classifier, its optax step and
the per-layer diagnostics, for several runs of one shape.

A :class:`Runs` object holds ``R`` runs of one shape (depth, width, batch, activation,
optimizer) and advances each ``RECORD_EVERY`` steps per call of one jitted program. The
initial params, the learning rate, the momentum and the batch order are inputs of that
program, so changing the initializer, the seed or the learning rate never recompiles;
neither does changing the number of steps (the last chunk masks the steps past the end).

Layout of the params of one run (``depth`` hidden layers, ``64`` inputs, ``10`` classes)::

    {"first":  {"kernel": (64, width),            "bias": (width,)},
     "hidden": {"kernel": (depth-1, width, width), "bias": (depth-1, width)},
     "out":    {"kernel": (width, 10),             "bias": (10,)}}

The hidden layers ``2 .. depth`` are stacked so the forward pass is one ``lax.scan``:
the compile time does not grow with the depth.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import optax

from initcourse.activations import FUNCTIONS

#: Steps per call of the compiled program; the diagnostics are recorded at its end.
RECORD_EVERY = 20

#: |tanh| above this counts as saturated (Karpathy, makemore part 3).
SATURATED = 0.97

OPTIMIZERS = ("sgd", "adam")


def _optimizer(name: str, learning_rate, momentum):
    # Built inside the traced program: the learning rate and momentum are traced values,
    # so new values do not recompile.
    if name == "sgd":
        return optax.sgd(learning_rate, momentum=momentum)
    return optax.adam(learning_rate)


def _layers(params):
    """The hidden layers as one stacked pytree (first layer kept apart: other fan-in)."""
    return params["first"], params["hidden"]


def forward(params, x, activation: str):
    """Logits ``(n, 10)`` and every hidden layer's output ``(depth, n, width)``."""
    act = FUNCTIONS[activation].jax
    first, hidden = _layers(params)
    h1 = act(x @ first["kernel"] + first["bias"])

    def layer(h, p):
        out = act(h @ p["kernel"] + p["bias"])
        return out, out

    h, hs = jax.lax.scan(layer, h1, hidden)
    logits = h @ params["out"]["kernel"] + params["out"]["bias"]
    return logits, jnp.concatenate([h1[None], hs], axis=0)


def logits_only(params, x, activation: str):
    """Logits ``(n, 10)`` (the forward pass of a training step: no stored activations)."""
    act = FUNCTIONS[activation].jax
    first, hidden = _layers(params)
    h = act(x @ first["kernel"] + first["bias"])

    def layer(h, p):
        return act(h @ p["kernel"] + p["bias"]), None

    h, _ = jax.lax.scan(layer, h, hidden)
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def loss_fn(params, x, y, activation: str):
    """Mean softmax cross-entropy of integer labels ``y`` (n,)."""
    logits = logits_only(params, x, activation)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _kernels(tree):
    """The first layer's kernel, flattened, and the hidden kernels as ``(depth - 1,
    width * width)`` rows."""
    first = tree["first"]["kernel"].reshape(-1)
    hidden = tree["hidden"]["kernel"].reshape(tree["hidden"]["kernel"].shape[0], -1)
    return first, hidden


def _per_layer_std(tree):
    first, hidden = _kernels(tree)
    return jnp.concatenate([jnp.std(first)[None], jnp.std(hidden, axis=1)])


def _probe(params, x, y, activation: str):
    """Diagnostics on a fixed batch: forward std, saturated and dead shares per layer,
    loss and accuracy."""
    logits, hs = forward(params, x, activation)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
    std = jnp.std(hs, axis=(1, 2))
    if activation == "tanh":
        saturated = jnp.mean(jnp.abs(hs) > SATURATED, axis=(1, 2))
    else:
        saturated = jnp.full(hs.shape[0], jnp.nan)
    if activation == "relu":
        dead = jnp.mean(jnp.all(hs <= 0, axis=1), axis=1)  # a unit silent on every example
    else:
        dead = jnp.full(hs.shape[0], jnp.nan)
    return loss, accuracy, std, saturated, dead


def _chunk_steps(params, opt_state, stopped, lr, momentum, idx, live, data, *, activation,
                 optimizer):
    """``len(idx)`` steps of one run. ``idx`` (k, batch) indexes the training set; ``live``
    (k,) is False for steps past the end. A non-finite loss stops the run: from that step
    on its params and optimizer state stay as they were."""
    x_train, y_train = data
    tx = _optimizer(optimizer, lr, momentum)
    grad = jax.value_and_grad(loss_fn)

    def step(carry, inputs):
        params, opt_state, stopped, ratio = carry
        rows, is_live, is_last = inputs
        loss, grads = grad(params, x_train[rows], y_train[rows], activation)
        updates, new_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        go = is_live & ~stopped & jnp.isfinite(loss)
        keep = functools.partial(jax.tree.map, lambda new, old: jnp.where(go, new, old))
        # Only the chunk's last step is recorded: the per-layer stds (slow reductions on a
        # CPU, a fifth of a step) are taken there only.
        ratio = jax.lax.cond(is_last & go,
                             lambda: _per_layer_std(updates) / _per_layer_std(params),
                             lambda: ratio)
        carry = (keep(new_params, params), keep(new_state, opt_state),
                 stopped | (is_live & ~jnp.isfinite(loss)), ratio)
        return carry, jnp.where(is_live & ~stopped, loss, jnp.nan)

    depth = params["hidden"]["kernel"].shape[0] + 1
    ratio = jnp.full(depth, jnp.nan)
    last = jnp.arange(live.shape[0]) == jnp.sum(live) - 1
    (params, opt_state, stopped, ratio), losses = jax.lax.scan(
        step, (params, opt_state, stopped, ratio), (idx, live, last))
    return params, opt_state, stopped, losses, ratio


_chunk = jax.jit(_chunk_steps, static_argnames=("activation", "optimizer"))
_probe_jit = jax.jit(_probe, static_argnames=("activation",))


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _opt_init(params, lr, momentum, *, optimizer):
    return _optimizer(optimizer, lr, momentum).init(params)


def compiled_programs() -> int:
    """How many versions of the training programs JAX holds (one per shape)."""
    return sum(f._cache_size() for f in (_chunk, _probe_jit, _opt_init))


class Runs:
    """``R`` training runs of one shape, advanced ``RECORD_EVERY`` steps at a time.

    The runs are stepped by the same compiled program, one thread per core (a run that
    diverged is not stepped again): for small networks on a CPU this is faster than a
    ``vmap`` over the runs, and costs one compilation whatever ``R``.

    Arguments:
        params: a list of ``R`` initial params (see the module docstring).
        order: ``(R, steps, batch)`` int32 rows of the training set, one batch per step.
        learning_rate, momentum: ``R`` floats each.
        data: ``(x_train, y_train, x_probe, y_probe)`` device arrays.
        activation, optimizer: names.

    Attributes: ``done`` (steps taken), ``loss`` (R, done), ``records`` (a list of
    per-record dicts of numpy arrays with a leading axis R), ``stopped`` (R,) bool.
    """

    def __init__(self, params, order, learning_rate, momentum, data, *, activation, optimizer):
        self.activation, self.optimizer = activation, optimizer
        self.params = list(params)
        self.order = np.asarray(order, dtype=np.int32)
        self.runs, self.steps, self.batch = self.order.shape
        self.learning_rate = [jnp.float32(v) for v in learning_rate]
        self.momentum = [jnp.float32(v) for v in momentum]
        self.data = tuple(data)
        self.depth = int(self.params[0]["hidden"]["kernel"].shape[0]) + 1
        self.done = 0
        self.labels: list[str] = [""] * self.runs
        self.configs: list[dict] = [{}] * self.runs
        self._losses: list[np.ndarray] = []
        self.records: list[dict] = []
        self.opt_state = [_opt_init(p, lr, m, optimizer=optimizer)
                          for p, lr, m in zip(self.params, self.learning_rate, self.momentum,
                                              strict=True)]
        self._stopped = [jnp.bool_(False)] * self.runs
        self.stopped = np.zeros(self.runs, bool)
        self._record(0, np.full((self.runs, self.depth), np.nan))

    @property
    def finished(self) -> bool:
        return self.done >= self.steps or bool(self.stopped.all())

    @property
    def loss(self) -> np.ndarray:
        if not self._losses:
            return np.zeros((self.runs, 0), np.float32)
        return np.concatenate(self._losses, axis=1)[:, : self.done]

    def _record(self, step, ratio) -> None:
        probes = [_probe_jit(p, *self.data[2:], activation=self.activation) for p in self.params]
        loss, accuracy, std, saturated, dead = (np.stack([np.asarray(p[i]) for p in probes])
                                                for i in range(5))
        self.records.append({"step": step, "test_loss": loss, "test_accuracy": accuracy,
                             "forward_std": std, "saturated": saturated, "dead": dead,
                             "update_ratio": np.asarray(ratio)})

    def advance(self) -> None:
        """Take the next ``RECORD_EVERY`` steps (fewer at the end) and record diagnostics."""
        if self.finished:
            return
        k, start = RECORD_EVERY, self.done
        taken = min(k, self.steps - start)
        live = np.arange(k) < taken
        losses = np.full((self.runs, k), np.nan, np.float32)
        ratios = np.full((self.runs, self.depth), np.nan, np.float32)

        def step(r):
            idx = np.zeros((k, self.batch), np.int32)
            idx[:taken] = self.order[r, start : start + taken]
            out = _chunk(self.params[r], self.opt_state[r], self._stopped[r], self.learning_rate[r],
                         self.momentum[r], idx, live, self.data[:2], activation=self.activation,
                         optimizer=self.optimizer)
            self.params[r], self.opt_state[r], self._stopped[r], loss, ratio = out
            losses[r], ratios[r] = np.asarray(loss), np.asarray(ratio)

        live_runs = [r for r in range(self.runs) if not self.stopped[r]]
        # One thread per core: each run's chunk waits on XLA, not on Python, so the runs
        # share the cores (the same program on the same inputs: the same numbers).
        workers = min(os.cpu_count() or 1, len(live_runs))
        if workers <= 1:
            for r in live_runs:
                step(r)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(step, live_runs))
        self.done = start + taken
        self._losses.append(losses[:, :taken])
        self.stopped = np.array([bool(s) for s in self._stopped])
        self._record(self.done, ratios)
