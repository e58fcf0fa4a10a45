"""A long study session, scripted: does the kernel stay small and fast after an hour of use?

What a learner does in one JupyterLab kernel, in one process: a depth sweep 1..100 at
width 256 and at 512 (``layer_stats``, batch 64), 30 explorer re-creations (re-running
an explorer cell), 200 random explorer moves, three exercise checks of a solve that
loops forever, one of a solve whose loop swallows the exception that stops it (stopped) and
one that swallows it in nested loops (parked), and one check of a solve that mutates its
input. The check parts call
whatever ``initcourse.check`` is installed, and report what it did.

    JAX_PLATFORMS=cpu python benchmarks/session.py

Prints what each part cost, then one line:
``session: peak_rss_mb=<n> retained_mb=<n> wall_s=<n> compiles=<n> later_call_slowdown=<r>
idle_cpu_s=<n>``
``retained_mb``: resident memory at the end (after ``gc.collect()``) minus right after
import; ``later_call_slowdown``: 50 calls of ``initcourse.solve`` after the checks of
runaway solves against the same 50 calls before them (the best of 7 repeats each, as
``timeit`` advises: the other repeats measure the machine's other work too);
``idle_cpu_s``: CPU time the process spends during 1 s of sleep after the checks (a
runaway thread still spinning would spend about 1 s).
Goals: peak <= 2,000 MB, retained <= 600 MB, later_call_slowdown <= 1.2, idle_cpu_s < 0.1.
"""

from __future__ import annotations

import gc
import random
import time

import jax
import numpy as np
from common import compiles, peak_mb, rss_mb
from flax import linen as nn

import initcourse
from initcourse.explorers.depth import WIDTHS

REPEATS = 7


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label}: {time.perf_counter() - start:.1f} s, rss {rss_mb():.0f} MB", flush=True)
    return result


def solve_calls(n: int = 50) -> float:
    x = np.linspace(-1.0, 1.0, 8, dtype=np.float32)
    start = time.perf_counter()
    for i in range(n):
        np.asarray(initcourse.solve(i, x, 4))
    return time.perf_counter() - start


def depth_sweep(width: int) -> None:
    for depth in range(1, 101):
        initcourse.layer_stats("he_normal", "relu", depth, width, batch=64)


def recreate_explorers() -> None:
    for i in range(30):
        if i % 2:
            ex = initcourse.depth_explorer(width=256, depth=50, canvas="image")
        else:
            ex = initcourse.fan_in_explorer(canvas="image")
        del ex


def random_moves(rng: random.Random) -> None:
    depth = initcourse.depth_explorer(canvas="image")
    fan_in = initcourse.fan_in_explorer(canvas="image")
    names, activations = list(initcourse.INITIALIZERS), list(initcourse.ACTIVATIONS)
    for i in range(200):
        if i % 2:
            depth.set(**rng.choice([
                {"depth": rng.randint(1, 100)}, {"width": rng.choice(WIDTHS[:6])},
                {"activation": rng.choice(activations)}, {"initializer": rng.choice(names)},
                {"seed": rng.randint(0, 2**32 - 1)}]))
        else:
            fan_in.set(**rng.choice([
                {"fan_in": rng.randint(1, 4096)}, {"fan_out": rng.randint(1, 1024)},
                {"initializer": rng.choice(names)}, {"seed": rng.randint(0, 9)}]))


def runaway(seed, x, features):
    while True:
        pass


def swallows(seed, x, features):
    """Issue 30's runaway: a loop that catches the exception the check stops it with."""
    while True:
        try:
            for _ in range(10**6):
                pass
        except BaseException:  # noqa: BLE001, S110 - the learner's mistake under test
            pass


def swallows_nested(seed, x, features):
    """The same at two levels: the check parks it."""
    while True:
        try:
            swallows(seed, x, features)
        except BaseException:  # noqa: BLE001, S110 - the learner's mistake under test
            pass


class LearnerDense(nn.Module):
    """The exercise written as a learner would (not the course's answer key)."""

    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features, kernel_init=nn.initializers.lecun_normal(),
                        bias_init=nn.initializers.zeros)(x)


def learner_solve(seed, x, features):
    model, x = LearnerDense(int(features)), jax.numpy.asarray(x, jax.numpy.float32)
    return model.apply(model.init(jax.random.PRNGKey(int(seed)), x), x)


def mutating(seed, x, features):
    out = learner_solve(seed, x, features)
    if isinstance(x, np.ndarray) and x.flags.writeable:
        x *= 0  # the mistake: the caller's input is changed
    return out


def main() -> None:
    compiles()
    start, baseline = time.perf_counter(), rss_mb()
    rng = random.Random(0)

    solve_calls(5)  # compile the answer key's shapes before timing it
    # Best of 7 repeats: one run of 50 calls varies by a third on this machine by itself.
    before = min(solve_calls() for _ in range(REPEATS))
    timed("depth sweep 1..100, width 256", lambda: depth_sweep(256))
    timed("depth sweep 1..100, width 512", lambda: depth_sweep(512))
    timed("30 explorer re-creations", recreate_explorers)
    timed("200 random explorer moves", lambda: random_moves(rng))
    verdicts = []
    for i in range(3):
        report = timed(f"check of a runaway solve {i + 1}",
                       lambda: initcourse.check(runaway, timeout=2.0))
        verdicts.append(",".join(report.mistakes) or "passed")
    states = []
    for name, solve in (("swallows the stop", swallows), ("swallows it nested", swallows_nested)):
        report = timed(f"check of a solve that {name}", lambda s=solve: initcourse.check(s, timeout=2.0))
        states.append("stopped" if "the call was stopped" in report.message
                      else "parked" if "parked it" in report.message else "running")
    report = timed("check of a mutating solve", lambda: initcourse.check(mutating))
    verdicts.append(",".join(report.mistakes) or "passed")
    correct = timed("check of a correct solve afterwards",
                    lambda: initcourse.check(learner_solve))
    cpu = time.process_time()
    time.sleep(1.0)
    idle_cpu = time.process_time() - cpu
    after = min(solve_calls() for _ in range(REPEATS))
    print(f"verdicts: runaway x3 {verdicts[:3]}, mutating {verdicts[3]!r}, "
          f"a correct solve afterwards passed={correct.passed}; the swallowing solves: {states}")
    print(f"50 solve calls: {before:.2f} s before the checks, {after:.2f} s after")

    gc.collect()
    retained = rss_mb() - baseline
    print(f"session: peak_rss_mb={peak_mb():.0f} retained_mb={retained:.0f} "
          f"wall_s={time.perf_counter() - start:.0f} compiles={compiles()} "
          f"later_call_slowdown={after / before:.2f} idle_cpu_s={idle_cpu:.2f}")


if __name__ == "__main__":
    main()
