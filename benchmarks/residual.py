"""How fast does the residual explorer answer? Kernel-side latency of one update, on Agg.

The explorer (width 128, batch 64, a program of 100 blocks) is warmed up on every norm,
scale, branch end and activation, then driven through a sweep of control changes; XLA
compilations during the sweep are counted. The ratio is to a bare jitted forward and
backward pass of the same stack (two kernels a block, ReLU, no norm, 50 blocks, the same
batch), measured in the same run.

    JAX_PLATFORMS=cpu python benchmarks/residual.py

Prints one line: ``residual: explorer_p50_ms=<n> vs_bare=<r> compiles_after_warmup=<n>``.
Goals: p50 <= 50 ms, 0 compilations after the warm-up.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from common import compiles, report, run

from initcourse import ResidualExplorer
from initcourse.explorers.residual import BATCH, WIDTH


@jax.jit
def bare_pass(w1, w2, x, r):
    """Forward and backward through ``x + relu(x W1) W2`` blocks: what an update computes."""

    def loss(x):
        def block(h, kernels):
            a, b = kernels
            return h + jax.nn.relu(h @ a) @ b, None

        out, _ = jax.lax.scan(block, x, (w1, w2))
        return (out * r).sum()

    return jax.grad(loss)(x)


def sweep() -> list[dict]:
    steps = [{"depth": d} for d in (1, 5, 10, 20, 32, 50, 64, 80, 100, 50, 32)]
    steps += [{"norm": n} for n in ("pre-LN", "post-LN", "none")]
    steps += [{"scale": s} for s in ("1/√L", "Fixup", "1")]
    steps += [{"branch_end": "zero"}, {"branch_end": "drawn"}]
    steps += [{"activation": a} for a in ("tanh", "gelu", "relu")]
    steps += [{"depth": d, "norm": "pre-LN"} for d in (10, 50, 100)] + [{"norm": "none", "depth": 50}]
    return steps


def main() -> None:
    compiles()
    explorer = ResidualExplorer(canvas="image", depth=50)
    for step in sweep():
        explorer.set(**step)
    warm = compiles()
    explorer.view.full_draws = 0
    times = run(explorer, sweep() * 2)
    n_compiles = compiles() - warm

    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    w1, w2 = (jax.random.normal(k, (50, WIDTH, WIDTH)) * np.sqrt(2 / WIDTH) for k in keys[:2])
    x = jax.random.normal(keys[2], (BATCH, WIDTH))
    jax.block_until_ready(bare_pass(w1, w2, x, x))
    bare = []
    for _ in range(20):
        start = time.perf_counter()
        jax.block_until_ready(bare_pass(w1, w2, x, x))
        bare.append(time.perf_counter() - start)
    bare_ms = float(np.median(bare) * 1000)
    print(f"bare jitted forward+backward of 50 residual blocks ({WIDTH} wide, batch {BATCH}): "
          f"p50 {bare_ms:.2f} ms")
    p50 = report("residual explorer", times, explorer)
    print(f"residual: explorer_p50_ms={p50:.1f} vs_bare={p50 / bare_ms:.1f} "
          f"compiles_after_warmup={n_compiles}")


if __name__ == "__main__":
    main()
