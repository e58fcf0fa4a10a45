"""Benchmarks of the foundation: layer_stats against bare matrix products, compilations
across a sweep, and the import time of the package.

    python benchmarks/foundation.py [--depth 50] [--width 1024] [--batch 1024] [--repeats 3]

Prints one line per figure and ends with a summary line:
    foundation: layer_stats_vs_bare=<ratio> cold_vs_bare=<ratio> compiles_per_shape=<n>
    import_ratio=<ratio> sweep_s=<s> sweep_compiles=<n> retained_mib=<n>
(the last three: the depth sweep 1..100 at width 256, batch 64, a student's main activity).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from common import compiles  # noqa: E402

from initcourse import layer_stats  # noqa: E402
from initcourse.initializers import get_initializer  # noqa: E402
from initcourse.propagation.engine import retained_bytes  # noqa: E402


@jax.jit
def bare_chain(kernels, x, r):
    """The same matrix products as layer_stats, and nothing else: forward, then backward."""

    def forward(h, w):
        return h @ w, None

    h, _ = jax.lax.scan(forward, x, kernels)

    def backward(g, w):
        return g @ w.T, None

    g, _ = jax.lax.scan(backward, r, kernels, reverse=True)
    return h, g


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_time(statement: str, repeats: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    depth, width, batch = args.depth, args.width, args.batch

    key = jax.random.PRNGKey(0)
    init = get_initializer("lecun_normal")
    kernels = jax.vmap(lambda k: init(k, (width, width)))(jax.random.split(key, depth))
    x = jax.random.normal(key, (batch, width))
    jax.block_until_ready(bare_chain(kernels, x, x))
    layer_stats("lecun_normal", "relu", depth, width, batch=batch, seed=0)  # compile, draw

    # The machine is shared: interleave the three measurements so that load affects all alike.
    # warm: same seed and family, the kernels are reused; the scale and activation change.
    # cold: a new seed each call, all depth x width x width weights are drawn afresh.
    pairs = [("he_normal", "relu"), ("lecun_normal", "tanh"), ("glorot_normal", "gelu")]
    bare_t, warm_t, cold_t = [], [], []
    for i in range(args.repeats):
        bare_t.append(timed(lambda: jax.block_until_ready(bare_chain(kernels, x, x)), 1))
        name, activation = pairs[i % len(pairs)]
        warm_t.append(timed(lambda n=name, a=activation: layer_stats(
            n, a, depth, width, batch=batch, seed=0), 1))
        cold_t.append(timed(lambda s=i + 1: layer_stats(
            "lecun_normal", "relu", depth, width, batch=batch, seed=s), 1))
        layer_stats("lecun_normal", "relu", depth, width, batch=batch, seed=0)  # back to warm
    bare, warm, cold = (statistics.median(t) for t in (bare_t, warm_t, cold_t))
    print(f"bare chain of {2 * depth} matmuls ({batch}x{width} @ {width}x{width}): "
          f"{bare * 1e3:.0f} ms")
    print(f"layer_stats, kernels reused (scale/activation change): {warm * 1e3:.0f} ms "
          f"= {warm / bare:.2f}x bare")
    print(f"layer_stats, kernels redrawn (new seed or family): {cold * 1e3:.0f} ms "
          f"= {cold / bare:.2f}x bare")

    counted = compiles()
    shape = dict(depth=8, width=64, batch=64)
    names = ["lecun_normal", "he_normal", "glorot_uniform", "normal", "orthogonal",
             "he_uniform", "glorot_normal", "lecun_uniform", "zeros", "ones"]
    activations = ["linear", "relu", "tanh", "sigmoid", "gelu"]
    layer_stats("lecun_normal", "relu", **shape, seed=0)
    first = compiles() - counted
    for i in range(20):
        layer_stats(names[i % len(names)], activations[i % len(activations)], **shape, seed=i)
    sweep = compiles() - counted - first
    print(f"compilations: {first} for a new shape, {sweep} across 20 initializer/seed/activation "
          f"changes at that shape")

    before = compiles()
    start = time.perf_counter()
    for d in range(1, 101):
        layer_stats("he_normal", "relu", d, 256, batch=64)
    sweep_s = time.perf_counter() - start
    sweep_compiles = compiles() - before
    retained = retained_bytes() / 2**20
    print(f"depth sweep 1..100 at width 256, batch 64: {sweep_s:.1f} s, {sweep_compiles} "
          f"compilations, kernels kept afterwards {retained:.0f} MiB")

    flax_s = import_time("import flax.linen")
    ours_s = import_time("import initcourse")
    print(f"import flax.linen: {flax_s * 1e3:.0f} ms; import initcourse: {ours_s * 1e3:.0f} ms "
          f"= {ours_s / flax_s:.2f}x")
    print(f"foundation: layer_stats_vs_bare={warm / bare:.2f} cold_vs_bare={cold / bare:.2f} "
          f"compiles_per_shape={first + sweep} import_ratio={ours_s / flax_s:.2f} "
          f"sweep_s={sweep_s:.1f} sweep_compiles={sweep_compiles} retained_mib={retained:.0f}")


if __name__ == "__main__":
    jnp.zeros(())  # start the backend before timing anything
    main()
