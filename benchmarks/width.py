"""What do the width chapter's measurements cost? A coordinate check and a learning-rate
sweep, against a bare optax loop of the same networks.

- The coordinate check of notebook 16 (widths 64 to 1024, 3 Adam steps) is timed cold
  (its compilations included) and warm, for SP and then muP (warm: no compilation).
- The sweep of notebook 16 (widths 32, 128, 512; 9 rates; 2 seeds; 100 steps) is timed cold
  and warm. The bare baseline trains the same runs the way a learner would: the same MLP
  (the chapter's ``mlp.loss``), ``optax.adam`` with the rate a traced input, one jitted step
  per width called in a Python loop, run after run.

    JAX_PLATFORMS=cpu python benchmarks/width.py

Prints one line: ``width: coord_cold_s=<t> coord_warm_s=<t> coord_compiles=<n>
sweep_cold_s=<t> sweep_warm_s=<t> sweep_compiles=<n> sweep_vs_bare=<r>``.
Goals: one compilation of each program per width (5 and 3, whatever the parametrization,
rate or seed), the warm sweep no slower than the bare loop.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import compiles

from initcourse.training.data import batch_order, digits
from initcourse.width import coord_check, lr_sweep, mlp

COORD = dict(widths=(64, 128, 256, 512, 1024), steps=3, learning_rate=2**-6)
SWEEP = dict(widths=(32, 128, 512), learning_rates=2.0 ** -np.arange(11, 2, -1), steps=100, seeds=(0, 1))


NAMES: list[str] = []


def _named(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        NAMES.append(str(kwargs.get("fun_name")))


def programs(name: str) -> int:
    """Compilations of the chapter's program ``name`` so far (small helper programs, such as
    a key or an array's conversion, are counted apart)."""
    return NAMES.count(f"jit({name})")


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def bare_sweep() -> float:
    """The sweep's runs, one jitted optax step per width in a Python loop: final losses' sum."""
    data = digits()
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    total = 0.0
    for width in SWEEP["widths"]:
        knobs = mlp.knob_arrays("mup", "adam", width, mlp.BASE_WIDTH)

        @jax.jit
        def step(params, state, idx, lr, knobs=knobs):
            value, grads = jax.value_and_grad(mlp.loss)(params, x[idx], y[idx], knobs, "tanh")
            updates, state = optax.adam(lr).update(grads, state, params)
            return optax.apply_updates(params, updates), state, value

        for lr in SWEEP["learning_rates"]:
            for seed in SWEEP["seeds"]:
                params = mlp.init(jax.random.PRNGKey(seed), knobs, depth=2, width=width)
                state = optax.adam(lr).init(params)
                for idx in batch_order(seed, SWEEP["steps"], 32):
                    params, state, value = step(params, state, idx, jnp.float32(lr))
                total += float(value)
    return total


def main() -> None:
    compiles()
    jax.monitoring.register_event_duration_secs_listener(_named)
    _, coord_cold = timed(lambda: coord_check("sp", **COORD))
    _, coord_warm = timed(lambda: coord_check("mup", **COORD))
    coord_compiles = programs("_run")
    _, sweep_cold = timed(lambda: lr_sweep("sp", **SWEEP))
    warm = []
    for _ in range(2):
        _, seconds = timed(lambda: lr_sweep("mup", **SWEEP))
        warm.append(seconds)
    sweep_compiles = programs("_runs")
    helpers = len(NAMES) - coord_compiles - sweep_compiles
    sweep_warm = min(warm)
    bare_sweep()  # compiles the bare steps
    _, bare = timed(bare_sweep)
    runs = len(SWEEP["learning_rates"]) * len(SWEEP["seeds"])
    print(f"coordinate check, widths {COORD['widths']}: cold {coord_cold:.2f} s, warm (another "
          f"parametrization) {coord_warm:.2f} s; {coord_compiles} compilations of its program")
    print(f"sweep, widths {SWEEP['widths']} x {runs} runs x {SWEEP['steps']} steps: cold "
          f"{sweep_cold:.2f} s, warm {sweep_warm:.2f} s; {sweep_compiles} compilations of its program "
          f"over three sweeps; bare optax loop (compiled) {bare:.2f} s; {helpers} small helper "
          f"programs compiled (keys, conversions)")
    print(f"width: coord_cold_s={coord_cold:.2f} coord_warm_s={coord_warm:.2f} "
          f"coord_compiles={coord_compiles} sweep_cold_s={sweep_cold:.2f} sweep_warm_s={sweep_warm:.2f} "
          f"sweep_compiles={sweep_compiles} sweep_vs_bare={sweep_warm / bare:.2f}")


if __name__ == "__main__":
    main()
