"""How fast does the phase explorer answer, next to the depth explorer? Kernel-side latency.

An update is what a slider move costs in the kernel: the theory (the fixed point, chi1,
the depth scales, the correlation map), the measured stack, the redraw of the figure and
its encoding into the image widget. Both explorers are warmed up (compilations, the phase
diagrams of every activation), then driven through sweeps of control changes in the same
process; XLA compilations during the sweeps are counted.

    JAX_PLATFORMS=cpu python benchmarks/phase.py

Prints per-explorer figures, then one line:
``phase: p50_ms=<n> depth_p50_ms=<n> ratio=<n> compiles_after_warmup=<n>``.
Goal: ratio <= 1.5 (the phase explorer's p50 within 1.5x the depth explorer's), 0 compilations.
"""

from __future__ import annotations

import numpy as np
from common import compiles, depth_explorer, depth_slider_sweep, report, run

from initcourse.activations import ACTIVATIONS
from initcourse.explorers.phase import PhaseExplorer


def phase_sweep() -> list[dict]:
    """A learner's moves: sigma_w2 across the edge, sigma_b2 up, depth, activations.

    Every (activation, sigma_w2, sigma_b2) visited is new, so each theory is computed
    afresh (the explorer caches the ones it has seen; revisits would flatter it).
    """
    steps = [{"sigma_w2": round(w, 3)} for w in np.arange(1.05, 4.0, 0.15)]
    steps += [{"sigma_b2": round(b, 3)} for b in np.arange(0.02, 0.5, 0.04)]
    steps += [{"depth": d} for d in (50, 45, 40, 30, 20, 10, 5, 2, 1, 8, 16, 32, 64, 100, 75)]
    steps += [{"activation": a, "sigma_w2": w} for a, w in
              (("relu", 1.55), ("gelu", 1.65), ("sigmoid", 2.35), ("linear", 0.85), ("tanh", 2.45))]
    steps += [{"sigma_w2": round(w, 3)} for w in np.arange(0.55, 1.0, 0.05)]
    return steps


def main() -> None:
    compiles()
    phase = PhaseExplorer(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, canvas="image")
    for activation in ACTIVATIONS:  # the phase diagrams, once per activation
        phase.set(activation=activation, sigma_w2=1.0, sigma_b2=0.05, depth=100)
    phase.set(activation="tanh", sigma_w2=1.0, sigma_b2=0.0, depth=30)

    depth = depth_explorer()

    warm = compiles()
    phase_times = run(phase, phase_sweep())
    depth_times = run(depth, depth_slider_sweep())
    n_compiles = compiles() - warm

    print(f"warm-up compilations: {warm}")
    phase_p50 = report("phase explorer (width 512, up to 100 layers)", phase_times)
    depth_p50 = report("depth explorer (width 512, up to 100 layers)", depth_times)
    print(f"phase: p50_ms={phase_p50:.1f} depth_p50_ms={depth_p50:.1f} "
          f"ratio={phase_p50 / depth_p50:.2f} compiles_after_warmup={n_compiles}")


if __name__ == "__main__":
    main()
