"""How fast do the explorers answer? Kernel-side latency of one update, on Agg.

An update is what a learner's slider move costs in the kernel: the compute, the redraw
of the figure and its encoding into the image widget. Each explorer is warmed up (its
first draws of random numbers and its XLA compilations), then driven through a sweep
of control changes; XLA compilations during the sweeps are counted.

    JAX_PLATFORMS=cpu python benchmarks/explorers.py

Each timing is also given as a ratio to a bare baseline measured in the same run, which
the machine's load affects alike: the depth explorer's update against a bare jitted
forward and backward pass of the same stack (matmuls and slopes, nothing else), the
fan-in explorer's update against a bare redraw of the same figure.

Prints per-explorer figures, then one line:
``explorers: fan_in_p50_ms=<n> depth_p50_ms=<n> compiles_after_warmup=<n> fan_in_vs_bare=<r>
depth_vs_bare=<r> depth_explorer_mib=<n>``.
Goals: fan_in p50 <= 25 ms, depth p50 <= 50 ms (depth 50, width 512), 0 compilations.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from common import compiles, depth_explorer, depth_slider_sweep, report, run

from initcourse import FanInExplorer
from initcourse.explorers.depth import DEPTH_BATCH
from initcourse.initializers import resolve


@jax.jit
def bare_pass(kernels, x, r):
    """A forward and backward pass through ``kernels`` with ReLU: what an update computes."""

    def forward(h, w):
        z = h @ w
        return jax.nn.relu(z), z > 0

    _, masks = jax.lax.scan(forward, x, kernels)

    def backward(g, layer):
        w, mask = layer
        return (g * mask) @ w.T, None

    g, _ = jax.lax.scan(backward, r, (kernels, masks), reverse=True)
    return g


def held_mib(explorer) -> float:
    """MiB of the arrays an explorer holds (its kernel stack, draws and caches), found by
    walking its attributes, dicts, tuples and lists; widgets and the figure are not counted."""
    seen, total, todo = set(), 0, [vars(explorer)]
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, (np.ndarray, jax.Array)):
            total += value.nbytes
        elif isinstance(value, dict):
            todo.extend(value.values())
        elif isinstance(value, (tuple, list)):
            todo.extend(value)
        elif type(value).__module__.startswith("initcourse"):
            todo.append(vars(value) if hasattr(value, "__dict__") else ())
    return total / 2**20


def fan_in_sweep() -> list[dict]:
    """Control changes a learner makes: fan_in up and down, fan_out, initializer, seed."""
    ladder = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    steps = []
    for initializer in ("lecun_normal", "he_uniform", "glorot_normal", "normal", "orthogonal",
                        "ones"):
        steps.append({"initializer": initializer, "fan_out": 64})
        steps += [{"fan_in": f} for f in ladder + ladder[::-1]]
        steps += [{"fan_out": f} for f in (16, 256, 64)]
        steps += [{"seed": s} for s in (1, 2, 0)]
    return steps


def depth_sweep() -> list[dict]:
    """Depth changes, every activation, initializers of two families, a new seed."""
    steps = depth_slider_sweep()
    steps += [{"seed": 1}, {"depth": 40}, {"depth": 50}, {"seed": 0}]
    steps += [{"activation": a, "initializer": i}
              for a in ("tanh", "relu") for i in ("lecun_normal", "he_normal")]
    return steps


def main() -> None:
    compiles()
    fan_in = FanInExplorer(canvas="image")
    for initializer in ("lecun_normal", "he_uniform", "normal", "orthogonal"):
        for seed in (0, 1, 2):
            fan_in.set(initializer=initializer, seed=seed)
    fan_in.set(initializer="lecun_normal", seed=0)

    depth = depth_explorer()

    warm = compiles()
    fan_in.view.full_draws = depth.view.full_draws = 0
    fan_times = run(fan_in, fan_in_sweep())
    depth_times = run(depth, depth_sweep())

    # Changes that draw every weight afresh (a new seed, a new distribution family), at the
    # depth and width of the goal: reported on their own, they are not slider moves.
    depth.set(depth=50, width=512, initializer="he_normal", activation="relu", seed=0)
    redraw = {"seed": [], "family": []}
    for i in range(1, 6):
        start = time.perf_counter()
        depth.set(seed=i)
        redraw["seed"].append(time.perf_counter() - start)
        start = time.perf_counter()
        depth.set(initializer="he_uniform" if i % 2 else "he_normal")
        redraw["family"].append(time.perf_counter() - start)
    depth.set(initializer="he_normal", seed=0)

    n_compiles = compiles() - warm  # the explorers' own, before the baselines compile
    # Baselines, interleaved with the same work through the explorers' code.
    kernels = jax.random.normal(jax.random.PRNGKey(0), (50, 512, 512)) / np.sqrt(256.0)
    x = jax.random.normal(jax.random.PRNGKey(1), (DEPTH_BATCH, 512))
    jax.block_until_ready(bare_pass(kernels, x, x))
    compute, bare, redraw_bare = [], [], []
    he = resolve("he_normal")
    for _ in range(10):
        start = time.perf_counter()
        depth.stack.propagate(he, "relu", 50, batch=DEPTH_BATCH, seed=0)
        compute.append(time.perf_counter() - start)
        start = time.perf_counter()
        jax.block_until_ready(bare_pass(kernels, x, x))
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        fan_in.figure.canvas.draw()
        redraw_bare.append(time.perf_counter() - start)
    bare_ms, redraw_ms = np.median(bare) * 1000, np.median(redraw_bare) * 1000

    print(f"warm-up compilations: {warm}")
    print(f"bare jitted forward+backward of the same 50 x 512 x 512 stack: p50 {bare_ms:.1f} ms; "
          f"the depth engine alone: p50 {np.median(compute) * 1000:.1f} ms "
          f"= {np.median(compute) * 1000 / bare_ms:.2f}x bare")
    print(f"bare full redraw of the fan-in figure (Agg): p50 {redraw_ms:.1f} ms")
    fan_p50 = report("fan_in explorer", fan_times, fan_in)
    depth_p50 = report("depth explorer (width 512)", depth_times, depth)
    print(f"fan_in explorer update p50 = {fan_p50 / redraw_ms:.2f}x a bare full redraw; "
          f"depth explorer update p50 = {depth_p50 / bare_ms:.2f}x a bare forward+backward")
    depth.set(depth=100, width=1024)
    mib = held_mib(depth)
    print(f"depth explorer at depth 100 x width 1024 holds {mib:.0f} MiB of arrays "
          f"(its kernel stack: 100 x 1024 x 1024 float32 = 400 MiB)")
    print(f"depth explorer at depth 50, width 512, redrawing every weight: new seed p50 "
          f"{np.median(redraw['seed']) * 1000:.0f} ms, new distribution family p50 "
          f"{np.median(redraw['family']) * 1000:.0f} ms")
    print(f"explorers: fan_in_p50_ms={fan_p50:.1f} depth_p50_ms={depth_p50:.1f} "
          f"compiles_after_warmup={n_compiles} fan_in_vs_bare={fan_p50 / redraw_ms:.2f} "
          f"depth_vs_bare={depth_p50 / bare_ms:.2f} depth_explorer_mib={mib:.0f}")


if __name__ == "__main__":
    main()
