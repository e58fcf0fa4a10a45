"""Does a runaway `solve` slow the rest of the session down? (issue 16, item 8)

A learner's `solve` with an endless loop is checked three times (each call times out after
1 s and is stopped by the check). Before and after, the same batch of 50 calls of a correct
`solve` is timed (best of 5 batches, to damp the noise of a shared machine). Before the fix
the three runaway threads kept spinning: 50 calls took 5.1 s instead of 0.46 s.

    JAX_PLATFORMS=cpu python benchmarks/check_runaway.py

Prints one line: ``check_runaway: before_s=<n> after_s=<n> later_call_slowdown=<ratio>
runaway_threads_alive=<n>``. Goal: later_call_slowdown <= 1.2, no thread alive.
"""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
from flax import linen as nn  # noqa: E402

import initcourse  # noqa: E402


class _Layer(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features)(x)


def _solve(seed, x, features):
    model = _Layer(int(features))
    return model.apply(model.init(jax.random.PRNGKey(int(seed)), x), x)


def _spins(seed, x, features):
    while True:
        pass


def _batch_s(x) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for seed in range(50):
            np.asarray(_solve(seed, x, 8))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    x = np.linspace(-1, 1, 16, dtype=np.float32)
    _batch_s(x)  # warm up: compilations
    before = _batch_s(x)
    for _ in range(3):
        report = initcourse.check(_spins, timeout=1.0)
        assert report.mistakes == ("timeout",), report.message
    time.sleep(0.5)
    after = _batch_s(x)
    alive = sum(t.name.startswith("initcourse-") and t.is_alive() for t in threading.enumerate())
    print(f"check_runaway: before_s={before:.3f} after_s={after:.3f} "
          f"later_call_slowdown={after / before:.2f} runaway_threads_alive={alive}")


if __name__ == "__main__":
    main()
