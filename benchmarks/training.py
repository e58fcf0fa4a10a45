"""What do initcourse.train's diagnostics and the training explorer cost?

- ``step_ratio``: the time of one training step of :func:`initcourse.train` (everything
  it does: batches, diagnostics every ``RECORD_EVERY`` steps, the history) over the time
  of one step of a bare hand-written loop (a jitted optax step on the same net, called
  once per step), both after warm-up.
- ``explorer_overhead_ratio``: the training explorer's ``.train()`` (drawing the curves,
  the progress bar and the readout between chunks) over :func:`initcourse.train_runs`
  for the same runs.
- ``compiles_after_warmup``: XLA compilations while the initializer, seed and learning
  rate change after one warm-up run per program.

    JAX_PLATFORMS=cpu python benchmarks/training.py

Prints the figures, then one line:
``training: step_ratio=<n> call_ratio=<n> explorer_overhead_ratio=<n> compiles_after_warmup=<n>``.
``step_ratio`` is per step (a run of 200 steps minus one of 100, for both loops);
``call_ratio`` compares whole calls of 200 steps, which also pay train's fixed cost per
call (the initial draws, the optimizer's state, the step-0 probe), printed apart.
Goals: step_ratio <= 1.15, explorer_overhead_ratio <= 1.3, 0 compilations.
The shape is notebook 08's (30 ReLU layers of width 64, batch 128); medians of a few
repeats, in one process, so that the ratios survive a busy machine; each ratio is also
printed in CPU time (all threads of the process), which a busy machine disturbs less.
"""

from __future__ import annotations

import functools
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from common import compiles  # noqa: E402

import initcourse  # noqa: E402
from initcourse.training import data as training_data  # noqa: E402
from initcourse.training import engine as training_engine  # noqa: E402

SHAPE = {"depth": 30, "width": 64, "batch": 128}
STEPS = 200
REPEATS = 5


@functools.cache
def _bare_step():
    """The hand-written step, jitted once (so the benchmark's own loop compiles once)."""
    d = training_data.digits()
    x, y = jnp.asarray(d.x_train), jnp.asarray(d.y_train)
    tx = optax.sgd(0.01, momentum=0.9)

    @jax.jit
    def step(params, state, rows):
        loss, grads = jax.value_and_grad(training_engine.loss_fn)(params, x[rows], y[rows], "relu")
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return tx, step


def bare_loop(seed: int, steps: int) -> float:
    """A hand-written loop: the same net and batches, a jitted optax step per step."""
    params = training_data.init_params(initcourse.get_initializer("he_normal"), depth=SHAPE["depth"],
                                       width=SHAPE["width"], seed=seed)
    order = training_data.batch_order(seed, steps, SHAPE["batch"])
    tx, step = _bare_step()
    state = tx.init(params)
    step(params, state, order[0])[2].block_until_ready()  # warm, outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    for rows in order:
        params, state, loss = step(params, state, rows)
    loss.block_until_ready()
    return time.perf_counter() - start, time.process_time() - cpu


def timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds (all of this process's threads) of ``fn()``."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def median_ratio(numerator, denominator, which: int) -> float:
    return (statistics.median(t[which] for t in numerator)
            / statistics.median(t[which] for t in denominator))


def main() -> None:
    compiles()  # starts counting
    common = dict(SHAPE, steps=STEPS, learning_rate=0.01)
    # Warm-up: every program once (train, the explorer, the bare loop), and the sampler of
    # each initializer used below (a new distribution family compiles its draw once).
    initcourse.train("he_normal", **common)
    for name in ("lecun_uniform", "orthogonal"):
        initcourse.train(name, **dict(common, steps=1))
    explorer = initcourse.training_explorer(initializers=("he_normal", "glorot_normal"),
                                            depth=SHAPE["depth"], width=SHAPE["width"],
                                            steps=STEPS, canvas="image")
    explorer.train()
    bare_loop(0, 2)

    before = compiles()
    # Each call of train pays a fixed cost (drawing the initial kernels, the optimizer's
    # state, the step-0 probe, the history) besides its steps. The per-step cost (what the
    # diagnostics could slow) is the difference between a run of STEPS and one of STEPS / 2,
    # per step, for train and for the bare loop alike.
    train_s, short_s, bare_s, bare_short_s = [], [], [], []
    for seed in range(REPEATS):
        # A new initializer, seed and learning rate each time: none may recompile.
        name = ("glorot_normal", "lecun_uniform", "orthogonal", "he_normal", "lecun_normal")[seed]
        for steps, out in ((STEPS, train_s), (STEPS // 2, short_s)):
            out.append(timed(lambda s=seed, n=name, k=steps: initcourse.train(
                n, **dict(common, steps=k, learning_rate=0.01 * (s + 1)), seed=s)))
        bare_s.append(bare_loop(seed, STEPS))
        bare_short_s.append(bare_loop(seed, STEPS // 2))
    call_ratio, call_cpu_ratio = (median_ratio(train_s, bare_s, i) for i in (0, 1))

    def per_step(long, short, which):
        return statistics.median(a[which] - b[which] for a, b in zip(long, short, strict=True)) \
            / (STEPS - STEPS // 2)

    step_ratio, step_cpu_ratio = (per_step(train_s, short_s, i) / per_step(bare_s, bare_short_s, i)
                                  for i in (0, 1))
    fixed_ms = (statistics.median(t[0] for t in train_s) - STEPS * per_step(train_s, short_s, 0)) * 1000

    runs = [{"initializer": "he_normal"}, {"initializer": "glorot_normal"}]
    direct_s, explorer_s = [], []
    for seed in range(REPEATS):
        direct_s.append(timed(lambda s=seed: initcourse.train_runs(
            [dict(r, seed=s) for r in runs], **common)))
        explorer.set(seed=seed)
        explorer_s.append(timed(explorer.train))
    explorer_ratio, explorer_cpu_ratio = (median_ratio(explorer_s, direct_s, i) for i in (0, 1))
    recompiled = compiles() - before

    ms = 1000 / STEPS
    print(f"depth {SHAPE['depth']}, width {SHAPE['width']}, batch {SHAPE['batch']}:")
    for label, which in (("wall", 0), ("CPU", 1)):
        print(f"train: {per_step(train_s, short_s, which) * 1000:.2f} ms per step, bare loop "
              f"{per_step(bare_s, bare_short_s, which) * 1000:.2f} ms per step of {label} time; "
              f"whole calls of {STEPS} steps: {statistics.median(t[which] for t in train_s) * ms:.2f}"
              f" and {statistics.median(t[which] for t in bare_s) * ms:.2f} ms/step")
    print(f"train's fixed cost per call (initial draws, optimizer state, step-0 probe, history): "
          f"{fixed_ms:.0f} ms")
    for label, which in (("wall", 0), ("CPU", 1)):
        print(f"explorer: {statistics.median(t[which] for t in explorer_s):.2f} s, train_runs: "
              f"{statistics.median(t[which] for t in direct_s):.2f} s of {label} time for "
              f"{len(runs)} runs of {STEPS} steps")
    print(f"CPU-time ratios (less sensitive to a busy machine): step {step_cpu_ratio:.2f}, "
          f"whole call {call_cpu_ratio:.2f}, explorer overhead {explorer_cpu_ratio:.2f}")
    print(f"training: step_ratio={step_ratio:.2f} call_ratio={call_ratio:.2f} "
          f"explorer_overhead_ratio={explorer_ratio:.2f} compiles_after_warmup={recompiled}")


if __name__ == "__main__":
    main()
