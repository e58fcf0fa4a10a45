"""What the benchmarks share: JAX on the CPU and matplotlib on Agg (import this module
before the first JAX computation), a count of XLA compilations, timed control moves and
the process's memory."""

from __future__ import annotations

import os
import resource
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_platforms", os.environ["JAX_PLATFORMS"])  # if JAX came in first

_COMPILES = {"count": 0, "watching": False}


def _on_event(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES["count"] += 1


def compiles() -> int:
    """XLA compilations since the first call (which starts counting)."""
    if not _COMPILES["watching"]:
        jax.monitoring.register_event_duration_secs_listener(_on_event)
        _COMPILES["watching"] = True
    return _COMPILES["count"]


def run(explorer, steps) -> np.ndarray:
    """Milliseconds of each ``explorer.set(**step)``."""
    times = []
    for step in steps:
        start = time.perf_counter()
        explorer.set(**step)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000.0


def report(name: str, times: np.ndarray, explorer=None) -> float:
    """Print the p50, p90 and max of ``times`` (and the explorer's full redraws); return p50."""
    p50, p90 = np.percentile(times, [50, 90])
    redraws = "" if explorer is None else f", full redraws {explorer.view.full_draws}"
    print(f"{name}: {times.size} updates, p50 {p50:.1f} ms, p90 {p90:.1f} ms, "
          f"max {times.max():.1f} ms{redraws}")
    return float(p50)


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """The most resident memory this process has held, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def depth_explorer():
    """The depth explorer both explorer benchmarks time (width 512, at depth 50), warmed:
    its stack drawn with each distribution family and seed the sweeps use, so that no
    timed move compiles or draws for the first time."""
    from initcourse import DepthExplorer

    depth = DepthExplorer(depth=100, width=512, canvas="image")
    for initializer in ("he_normal", "he_uniform", "normal"):
        for seed in (1, 0):
            depth.set(initializer=initializer, seed=seed)
    depth.set(initializer="he_normal", depth=50)
    return depth


def depth_slider_sweep() -> list[dict]:
    """Slider moves of the depth explorer: depth 1 to 100, every activation, six
    initializers."""
    steps = [{"depth": d} for d in (50, 45, 40, 30, 20, 10, 5, 2, 1, 8, 16, 32, 64, 100, 75, 50)]
    steps += [{"activation": a} for a in ("linear", "tanh", "sigmoid", "gelu", "relu")]
    steps += [{"initializer": i} for i in ("lecun_normal", "glorot_normal", "normal",
                                           "he_uniform", "lecun_uniform", "he_normal")]
    return steps
