"""The hidden inputs of exercise 1's check: the cases ``solve`` must match and the probes.

``seed=None`` gives the fixed :data:`CASES` (what the notebooks store); an int ``seed`` draws
new ones of the same design (:func:`draw_cases`), so a grading run cannot be precomputed and
can still be reproduced from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Case:
    """One hidden case: the arguments passed to ``solve``, as a learner would meet them."""

    seed: float | int
    x: tuple[float, ...]
    features: float | int

    @property
    def fan_in(self) -> int:
        return len(self.x)

    def call_text(self, *, int_seed: bool = False, int_features: bool = False) -> str:
        """The call, as code a learner can paste into a cell."""
        seed, _, features = self.args(int_seed=int_seed, int_features=int_features)
        values = ", ".join(repr(v) for v in self.x)
        return f"solve({seed!r}, jnp.array([{values}]), {features!r})"

    def args(self, *, int_seed: bool = False, int_features: bool = False) -> tuple:
        """``(seed, x, features)`` with ``x`` a float32 JAX array of shape ``(fan_in,)``."""
        seed = int(self.seed) if int_seed else self.seed
        features = int(self.features) if int_features else self.features
        return seed, jnp.asarray(np.asarray(self.x, np.float32)), features


@dataclass(frozen=True)
class Probes:
    """The inputs of the layer probes: two seeds and a fixed ``x`` of length
    :data:`PROBE_FAN_IN` (read-only)."""

    seeds: tuple[int, int]
    x: np.ndarray


def _spread(n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(np.linspace(-1.5, 2.0, n), 3))


#: Float and int seeds, len(x) of 1 and more, features of 1 and more (as floats and ints),
#: and fan_in != fan_out. The last two repeat the first case's `x` and `features` with another
#: seed, and its seed with another `x` and `features`: a solve that caches its params by
#: `features` or by `seed` fails one of them.
CASES: tuple[Case, ...] = (
    Case(42.0, _spread(5), 3.0),
    Case(0.0, (0.7,), 4.0),
    Case(7, _spread(8), 1),
    Case(1234.0, _spread(12), 16.0),
    Case(3.0, _spread(6), 2),
    Case(5.0, _spread(5), 3.0),
    Case(42.0, _spread(7), 5),
)

# The probe layer: fan_in != fan_out so that Glorot's and LeCun's stds differ (Glorot's is
# 0.41 of LeCun's). Reading the kernel takes fan_in + 1 calls; its 6144 weights pin the std
# down to about 0.7%, enough to tell lecun_normal() from a truncated normal that was not
# rescaled (0.88 of LeCun's std).
PROBE_FAN_IN, PROBE_FEATURES = 24, 256


def _read_only(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float32)
    values.flags.writeable = False
    return values


#: The fixed probes (``seed=None``): a mixed-sign input with magnitudes near 1.
PROBES = Probes((3, 4), _read_only(np.random.default_rng(20_240_601).normal(size=PROBE_FAN_IN)))


def _x(rng: np.random.Generator, n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(rng.uniform(-2.0, 2.0, n), 3))


def draw_cases(seed: int) -> tuple[tuple[Case, ...], Probes]:
    """Cases and probes of the same design as :data:`CASES` and :data:`PROBES`, drawn from
    ``seed``: float and int seeds, a length-1 ``x``, ``features`` 1, float and int
    ``features``, and the two repeats that catch params cached by shape or by seed."""
    rng = np.random.default_rng([20_261_129, seed])
    seeds = [int(s) for s in rng.choice(2**31 - 1, size=7, replace=False)]
    fan_ins = [int(n) for n in rng.integers(2, 17, size=5)]
    features = [int(n) for n in rng.integers(2, 17, size=5)]
    first = Case(float(seeds[0]), _x(rng, fan_ins[0]), float(features[0]))
    cases = (
        first,
        Case(float(seeds[1]), _x(rng, 1), float(features[1])),
        Case(seeds[2], _x(rng, fan_ins[1]), 1),
        Case(float(seeds[3]), _x(rng, fan_ins[2]), float(features[2])),
        Case(float(seeds[4]), _x(rng, fan_ins[3]), features[3]),
        Case(float(seeds[5]), first.x, first.features),
        Case(first.seed, _x(rng, fan_ins[4]), features[4] if features[4] != features[0]
             else features[4] % 16 + 1),
    )
    probes = Probes((seeds[6], seeds[6] + 1), _read_only(rng.normal(size=PROBE_FAN_IN)))
    return cases, probes
