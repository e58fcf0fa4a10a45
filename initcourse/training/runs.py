"""Train a deep MLP on handwritten digits and watch what the initializer does to it.

:func:`train` runs one network; :func:`train_runs` runs several side by side (other
initializers, seeds or learning rates: one compiled program for all of them). Both
return :class:`TrainHistory` objects::

    history = train("he_normal", "relu", depth=30, width=128, steps=400, learning_rate=0.01)
    history.loss[0], history.final_loss, history.test_accuracy

The network: ``depth`` hidden layers of ``width`` units (the initializer, zero biases,
the activation), then a 10-class output layer (``lecun_normal()``, zero bias), trained
with softmax cross-entropy on :func:`~initcourse.training.data.digits`. Every
``RECORD_EVERY`` steps the per-layer diagnostics are recorded on the test set.

A run whose loss becomes NaN or infinite stops there: its params stay as they were,
``diverged_at`` says at which step, nothing raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from initcourse import _validate
from initcourse import initializers as _inits
from initcourse.activations import ACTIVATIONS
from initcourse.memory import releasing
from initcourse.training import data as _data
from initcourse.training import engine as _engine
from initcourse.training.lsuv import lsuv

RECORD_EVERY = _engine.RECORD_EVERY
OPTIMIZERS = _engine.OPTIMIZERS
TRAIN_MAX_DEPTH, TRAIN_MAX_WIDTH, TRAIN_MAX_WEIGHTS = (
    _data.TRAIN_MAX_DEPTH, _data.TRAIN_MAX_WIDTH, _data.TRAIN_MAX_WEIGHTS)
TRAIN_MAX_STEPS, TRAIN_MAX_RUNS = 100_000, 64

#: What may differ between the runs of :func:`train_runs` (the rest is shared).
PER_RUN = ("initializer", "seed", "learning_rate", "momentum", "stddev", "gain", "out_scale",
           "tolerance", "max_iterations", "label")


@dataclass(frozen=True)
class TrainHistory:
    """What one training run did.

    Attributes:
        loss: ``(steps,)`` training loss of each step's batch, before that step's update
            (NaN after a divergence, and after a stop).
        test_accuracy: accuracy on the 360 test digits after training (NaN if diverged).
        diverged_at: the first step (index into ``loss``) whose loss was NaN or inf, or None.
        steps_run: steps actually taken (``steps`` unless the run diverged or was stopped).
        record_steps: ``(records,)`` steps at which the diagnostics below were taken
            (0 = at initialization, then every ``RECORD_EVERY`` steps).
        test_loss, test_accuracy_curve: ``(records,)`` on the test set.
        update_ratio: ``(records, depth)`` std of the last update / std of the kernel, per
            hidden layer, at the record's step (NaN at step 0, no update yet, and once the
            run has stopped).
        saturated: ``(records, depth)`` share of tanh outputs with ``|t| > 0.97`` (NaN for
            other activations).
        dead: ``(records, depth)`` share of ReLU units that output 0 for every test digit
            (NaN for other activations).
        forward_std: ``(records, depth)`` std of each hidden layer's output on the test set.
        label, config: the run's name and its arguments.
    """

    loss: np.ndarray
    test_accuracy: float
    diverged_at: int | None
    steps_run: int
    record_steps: np.ndarray
    test_loss: np.ndarray
    test_accuracy_curve: np.ndarray
    update_ratio: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    forward_std: np.ndarray
    label: str
    config: Mapping

    @property
    def initial_loss(self) -> float:
        """The loss of the first batch, before any update."""
        return float(self.loss[0])

    @property
    def final_loss(self) -> float:
        """The mean training loss of the last ``RECORD_EVERY`` steps taken (NaN if diverged)."""
        if self.diverged_at is not None:
            return math.nan
        return float(np.mean(self.loss[max(0, self.steps_run - RECORD_EVERY): self.steps_run]))

    @property
    def message(self) -> str:
        """One sentence on how the run ended."""
        if self.diverged_at is not None:
            return (f"{self.label}: diverged at step {self.diverged_at} of {self.config['steps']} "
                    f"(loss {self.loss[self.diverged_at]}); stopped there")
        return (f"{self.label}: loss {self.initial_loss:.3f} -> {self.final_loss:.3f} in "
                f"{self.steps_run} steps, test accuracy {self.test_accuracy:.3f}")

    def __repr__(self) -> str:
        return f"TrainHistory({self.message})"


def _shared(activation, depth, width, steps, optimizer, batch) -> dict:
    activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
    depth = _validate.integral("depth", depth, minimum=1, maximum=TRAIN_MAX_DEPTH)
    width = _validate.integral("width", width, minimum=1, maximum=TRAIN_MAX_WIDTH)
    steps = _validate.integral("steps", steps, minimum=1, maximum=TRAIN_MAX_STEPS)
    optimizer = _validate.choice("optimizer", optimizer, OPTIMIZERS)
    batch = _validate.integral("batch", batch, minimum=1, maximum=_data.digits().x_train.shape[0])
    return dict(activation=activation, depth=depth, width=width, steps=steps, optimizer=optimizer,
                batch=batch)


def _label(name: str, stddev, gain, out_scale=1.0) -> str:
    label = name if stddev is None else f"{name}({stddev:g})"
    label = label if gain == 1.0 else f"{label} × {gain:.3g}"
    return label if out_scale == 1.0 else f"{label}, out × {out_scale:g}"


def _initializer(run: dict, where: str) -> tuple[Callable | None, str]:
    """Check one run's initializer and its keywords; return (Flax initializer, label)."""
    init = run["initializer"]
    stddev, tolerance, iterations = (run.get(k) for k in ("stddev", "tolerance", "max_iterations"))
    if isinstance(init, str) and init == "lsuv":
        if stddev is not None:
            raise ValueError(f"{where}stddev only applies to initializer='normal'; received "
                             f"{where}stddev={stddev!r} for 'lsuv'")
        return None, "lsuv"
    if tolerance is not None or iterations is not None:
        raise TypeError(f"{where}tolerance and max_iterations only apply to initializer='lsuv'; "
                        f"received initializer={init!r}")
    if not isinstance(init, str) and not callable(init):
        raise TypeError(f"{where}initializer must be a registry name (one of "
                        f"{', '.join(_inits.INITIALIZERS)}), 'lsuv' or a Flax initializer; "
                        f"received {init!r}")
    resolved = _inits.resolve(init, stddev=stddev, argument=f"{where}initializer", also=("lsuv",))
    if resolved.spec is None:
        label = getattr(init, "__qualname__", None) or type(init).__name__
        return _inits.checked(resolved, f"{where}initializer"), label
    return resolved.init, _label(resolved.name, resolved.stddev, 1.0)


def _prepare(run: Mapping, defaults: dict, shared: dict, where: str, index: int) -> dict:
    if not isinstance(run, Mapping):
        raise TypeError(f"runs[{index}] must be a dict of train's per-run arguments "
                        f"({', '.join(PER_RUN)}); received {_validate.shown(run)}")
    unknown = [k for k in run if k not in PER_RUN]
    if unknown:
        raise TypeError(f"{where}unknown argument {unknown[0]!r}; a run may set {', '.join(PER_RUN)}")
    run = {**defaults, **run}
    if "initializer" not in run:
        raise TypeError(f"{where}no initializer given")
    init, label = _initializer(run, where)
    seed = _validate.seed(run.get("seed", 0), f"{where}seed")
    lr = _validate.positive_real(f"{where}learning_rate", run.get("learning_rate"))
    momentum = _validate.positive_real(f"{where}momentum", run.get("momentum", 0.9), allow_zero=True)
    if momentum >= 1:
        raise ValueError(f"{where}momentum must be in [0, 1); received {momentum!r}")
    gain = _validate.positive_real(f"{where}gain", run.get("gain", 1.0))
    out_scale = _validate.positive_real(f"{where}out_scale", run.get("out_scale", 1.0), allow_zero=True)
    if init is None:
        kw = {k: run[k] for k in ("tolerance", "max_iterations") if run.get(k) is not None}
        found = lsuv(shared["activation"], depth=shared["depth"], width=shared["width"], seed=seed,
                     batch=min(shared["batch"], 1437), **kw)
        params = _data.assemble(found.first * gain, found.hidden * gain, depth=shared["depth"],
                                width=shared["width"], seed=seed, out_scale=out_scale)
        label = _label(label, None, gain, out_scale)
    else:
        params = _data.init_params(init, depth=shared["depth"], width=shared["width"], seed=seed,
                                   gain=gain, out_scale=out_scale)
        label = _label(label, None, gain, out_scale)
    label = str(run.get("label") or label)
    config = {**shared, "initializer": run["initializer"], "seed": seed, "learning_rate": lr,
              "momentum": momentum, "gain": gain, "out_scale": out_scale}
    for key in ("stddev", "tolerance", "max_iterations"):
        if run.get(key) is not None:
            config[key] = run[key]
    return {"params": params, "seed": seed, "learning_rate": lr, "momentum": momentum,
            "label": label, "config": config}


def start_runs(runs: Sequence[Mapping], activation="relu", *, depth, width, steps, optimizer="sgd",
               batch=128, **defaults) -> _engine.Runs:
    """Check the arguments, draw the initial params and return the runs, not yet stepped.

    Arguments are those of :func:`train_runs`. Step the result with ``.advance()`` (each call
    takes ``RECORD_EVERY`` steps of every run) until ``.finished``; read it with
    :func:`histories`. The training explorer uses this to draw between steps.
    """
    shared = _shared(activation, depth, width, steps, optimizer, batch)
    if isinstance(runs, (str, bytes, Mapping)) or not isinstance(runs, Sequence) or not runs:
        raise TypeError(f"runs must be a non-empty list of dicts; received {runs!r}")
    if len(runs) > TRAIN_MAX_RUNS:
        raise ValueError(f"runs must hold at most {TRAIN_MAX_RUNS} runs; received {len(runs)}")
    unknown = [k for k in defaults if k not in PER_RUN]
    if unknown:
        raise TypeError(f"unknown argument {unknown[0]!r}; train's arguments are initializer, "
                        f"activation, depth, width, steps, optimizer, learning_rate, momentum, "
                        f"batch, seed, and the initializer's stddev, gain, out_scale, tolerance, "
                        f"max_iterations")
    weights = len(runs) * shared["depth"] * shared["width"] ** 2
    if weights > TRAIN_MAX_WEIGHTS:
        raise ValueError(f"runs * depth * width**2 must be at most {TRAIN_MAX_WEIGHTS:,}; received "
                         f"{len(runs)} runs, depth={shared['depth']}, width={shared['width']} "
                         f"({weights:,} weights)")
    many = len(runs) > 1
    prepared = [_prepare(run, defaults, shared, f"runs[{i}]: " if many else "", i)
                for i, run in enumerate(runs)]
    params = [p["params"] for p in prepared]
    order = np.stack([_data.batch_order(p["seed"], shared["steps"], shared["batch"]) for p in prepared])
    d = _data.digits()
    data = tuple(jnp.asarray(a) for a in (d.x_train, d.y_train, d.x_test, d.y_test))
    result = _engine.Runs(params, order, [p["learning_rate"] for p in prepared],
                          [p["momentum"] for p in prepared], data,
                          activation=shared["activation"], optimizer=shared["optimizer"])
    result.labels = [p["label"] for p in prepared]
    result.configs = [p["config"] for p in prepared]
    return result


def histories(runs: _engine.Runs) -> list[TrainHistory]:
    """One :class:`TrainHistory` per run of ``runs`` (as far as it has been stepped)."""
    steps = runs.steps
    loss = np.full((runs.runs, steps), np.nan, np.float32)
    loss[:, : runs.done] = runs.loss
    recs = runs.records
    out = []
    for i in range(runs.runs):
        bad = np.flatnonzero(~np.isfinite(loss[i, : runs.done]))
        diverged = int(bad[0]) if bad.size else None
        ran = runs.done if diverged is None else diverged + 1
        field = {name: np.stack([r[name][i] for r in recs]) for name in
                 ("test_loss", "test_accuracy", "update_ratio", "saturated", "dead", "forward_std")}
        accuracy = math.nan if diverged is not None else float(field["test_accuracy"][-1])
        out.append(TrainHistory(
            loss=loss[i], test_accuracy=accuracy, diverged_at=diverged, steps_run=ran,
            record_steps=np.array([r["step"] for r in recs]), test_loss=field["test_loss"],
            test_accuracy_curve=field["test_accuracy"], update_ratio=field["update_ratio"],
            saturated=field["saturated"], dead=field["dead"], forward_std=field["forward_std"],
            label=runs.labels[i], config=dict(runs.configs[i])))
    return out


def train_runs(runs: Sequence[Mapping], activation="relu", *, depth, width, steps, optimizer="sgd",
               batch=128, **defaults) -> list[TrainHistory]:
    """Several runs of one network shape; one compiled program for all.

    Arguments:
        runs: a list of dicts, one per run, each setting any of ``PER_RUN``: ``initializer``,
            ``seed``, ``learning_rate``, ``momentum``, the initializer's keywords ``stddev``
            (``"normal"``), ``gain`` (multiplies the hidden kernels), ``out_scale``
            (multiplies the output kernel: 0.01 or 0 starts the logits near 0), ``tolerance`` and
            ``max_iterations`` (``"lsuv"``), and a ``label``.
        activation, depth, width, steps, optimizer, batch: shared, as in :func:`train`.
        **defaults: any ``PER_RUN`` value shared by the runs that do not set it.

    Returns:
        a list of :class:`TrainHistory`, in the order of ``runs``. A run that diverged is
        not stepped again.

    Example: ``train_runs([{"initializer": n, "seed": s} for n in names for s in range(3)],
    depth=30, width=128, steps=400, learning_rate=0.01)``.
    """
    state = start_runs(runs, activation, depth=depth, width=width, steps=steps, optimizer=optimizer,
                       batch=batch, **defaults)
    with releasing():  # a new shape compiles: hand back what the compiler freed
        while not state.finished:
            state.advance()
    return histories(state)


def train(initializer, activation="relu", *, depth, width, steps, optimizer="sgd", learning_rate,
          momentum=0.9, batch=128, seed=0, **init_kwargs) -> TrainHistory:
    """Train an MLP classifier on the handwritten digits; return its :class:`TrainHistory`.

    Arguments:
        initializer: for the hidden kernels: a registry name (``initcourse.INITIALIZERS``),
            ``"lsuv"`` (:func:`initcourse.lsuv`) or any Flax initializer ``(key, shape, dtype)``.
        activation: one of ``initcourse.activations.ACTIVATIONS``.
        depth: hidden layers (1 to 200). width: units per hidden layer (1 to 1024).
        steps: optimizer steps (1 to 100,000), one batch each.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"`` (optax defaults).
        learning_rate: > 0. momentum: in [0, 1), for ``"sgd"``.
        batch: digits per step (1 to 1,437, the training set).
        seed: draws the kernels (``jax.random.PRNGKey(seed)``) and the batch order.
        **init_kwargs: ``stddev`` for ``"normal"`` (``normal(0.01)``: ``stddev=0.01``),
            ``gain`` (multiplies the hidden kernels, e.g. 5/3 for tanh), ``out_scale``
            (multiplies the output kernel, default 1: ``0.01`` or ``0`` starts every logit near
            0, so the initial loss is ln 10), ``tolerance`` and ``max_iterations`` for ``"lsuv"``.

    The initializer, seed, learning rate and momentum are inputs of the compiled program:
    changing them never recompiles (one compilation per activation, optimizer and shape).
    """
    run = {"initializer": initializer, "seed": seed, "learning_rate": learning_rate,
           "momentum": momentum}
    unknown = [k for k in init_kwargs
               if k not in ("stddev", "gain", "out_scale", "tolerance", "max_iterations")]
    if unknown:
        raise TypeError(f"train() got an unexpected keyword argument {unknown[0]!r}; the "
                        f"initializer's keywords are stddev, gain, out_scale, tolerance, max_iterations")
    run.update(init_kwargs)
    return train_runs([run], activation, depth=depth, width=width, steps=steps,
                      optimizer=optimizer, batch=batch)[0]
