"""The registry of initializers the course teaches, with their theory.

Every notebook and explorer looks initializers up here, by their Flax names:

>>> expected_std("lecun_normal", fan_in=64, fan_out=64)
0.125

Each entry knows the Flax initializer, its distribution family and the standard
deviation it is designed to give for a kernel of shape ``(fan_in, fan_out)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate

#: The std of a standard normal truncated to (-2, 2). Flax divides by it so that a
#: truncated draw still has the intended variance.
TRUNCATED_NORMAL_STD = 0.87962566103423978

#: Flax's default stddev for ``nn.initializers.normal()``.
DEFAULT_NORMAL_STDDEV = 0.01

#: Distribution families; inside a family, initializers differ only by a scale factor
#: applied to the same unit-variance draws.
FAMILIES = ("truncated_normal", "uniform", "normal", "orthogonal", "constant")


@dataclass(frozen=True)
class InitializerSpec:
    """One initializer of the course.

    Attributes:
        name: the Flax name (``nn.initializers.<name>``).
        family: one of ``FAMILIES``: the shape of the distribution.
        rule: the variance rule in words, e.g. ``"1/fan_in"``.
        factory: ``True`` if Flax exposes a factory that must be called (``lecun_normal()``),
            ``False`` for a ready initializer (``zeros``).
        summary: one sentence for learners.
    """

    name: str
    family: str
    rule: str
    factory: bool
    summary: str
    _std: Callable[..., float]
    _make: Callable[..., Callable]

    def std(self, fan_in: int, fan_out: int, *, stddev: float | None = None) -> float:
        """Theoretical std of one weight of a ``(fan_in, fan_out)`` kernel."""
        return float(self._std(fan_in, fan_out, stddev))

    def initializer(self, *, stddev: float | None = None) -> Callable:
        """The Flax initializer ``(key, shape, dtype) -> Array`` (factories already called)."""
        return self._make(stddev)


def _normal_std(fan_in, fan_out, stddev):
    return DEFAULT_NORMAL_STDDEV if stddev is None else stddev


def _normal_make(stddev):
    return nn.initializers.normal(DEFAULT_NORMAL_STDDEV if stddev is None else stddev)


_SPECS = (
    InitializerSpec(
        "lecun_normal", "truncated_normal", "1/fan_in", True,
        "LeCun: variance 1/fan_in, from a normal truncated at ±2 std and rescaled.",
        lambda i, o, s: math.sqrt(1.0 / i), lambda s: nn.initializers.lecun_normal(),
    ),
    InitializerSpec(
        "lecun_uniform", "uniform", "1/fan_in", True,
        "LeCun with a uniform draw on ±√(3/fan_in).",
        lambda i, o, s: math.sqrt(1.0 / i), lambda s: nn.initializers.lecun_uniform(),
    ),
    InitializerSpec(
        "glorot_normal", "truncated_normal", "2/(fan_in + fan_out)", True,
        "Xavier/Glorot: variance 2/(fan_in + fan_out), balancing forward and backward.",
        lambda i, o, s: math.sqrt(2.0 / (i + o)), lambda s: nn.initializers.glorot_normal(),
    ),
    InitializerSpec(
        "glorot_uniform", "uniform", "2/(fan_in + fan_out)", True,
        "Xavier/Glorot with a uniform draw on ±√(6/(fan_in + fan_out)).",
        lambda i, o, s: math.sqrt(2.0 / (i + o)), lambda s: nn.initializers.glorot_uniform(),
    ),
    InitializerSpec(
        "he_normal", "truncated_normal", "2/fan_in", True,
        "He/Kaiming: variance 2/fan_in, making up for the half that ReLU zeroes.",
        lambda i, o, s: math.sqrt(2.0 / i), lambda s: nn.initializers.he_normal(),
    ),
    InitializerSpec(
        "he_uniform", "uniform", "2/fan_in", True,
        "He/Kaiming with a uniform draw on ±√(6/fan_in).",
        lambda i, o, s: math.sqrt(2.0 / i), lambda s: nn.initializers.he_uniform(),
    ),
    InitializerSpec(
        "normal", "normal", "stddev²", True,
        "A plain normal with a fixed stddev (Flax's default 0.01), blind to fan-in.",
        _normal_std, _normal_make,
    ),
    InitializerSpec(
        "orthogonal", "orthogonal", "1/max(fan_in, fan_out)", True,
        "A random orthogonal matrix: orthonormal columns (or rows), norm-preserving.",
        lambda i, o, s: math.sqrt(1.0 / max(i, o)), lambda s: nn.initializers.orthogonal(),
    ),
    InitializerSpec(
        "zeros", "constant", "0", False,
        "All zeros: the right start for biases, a dead end for kernels.",
        lambda i, o, s: 0.0, lambda s: nn.initializers.zeros,
    ),
    InitializerSpec(
        "ones", "constant", "0", False,
        "All ones: every unit computes the same thing.",
        lambda i, o, s: 0.0, lambda s: nn.initializers.ones,
    ),
)

#: name -> InitializerSpec, in teaching order.
INITIALIZERS: dict[str, InitializerSpec] = {spec.name: spec for spec in _SPECS}


def spec(name: str, *, argument: str = "name") -> InitializerSpec:
    """The registry entry for ``name`` (a clear error, naming ``argument``, lists the names)."""
    if not isinstance(name, str) and callable(name):
        raise TypeError(
            f"{argument} must be a registry name (one of {', '.join(map(repr, INITIALIZERS))}); "
            f"a Flax initializer is not accepted here, received {name!r}"
        )
    _validate.choice(argument, name, tuple(INITIALIZERS))
    return INITIALIZERS[name]


def _fans(fan_in, fan_out) -> tuple[int, int]:
    fan_in = _validate.integral("fan_in", fan_in, minimum=1)
    fan_out = fan_in if fan_out is None else _validate.integral("fan_out", fan_out, minimum=1)
    return fan_in, fan_out


def _stddev(name: str, stddev) -> float | None:
    if stddev is None:
        return None
    if name != "normal":
        raise ValueError(f"stddev only applies to 'normal'; received stddev={stddev!r} for {name!r}")
    return _validate.positive_real("stddev", stddev)


def expected_std(name: str, fan_in, fan_out=None, *, stddev: float | None = None) -> float:
    """Theoretical std of one weight of a ``(fan_in, fan_out)`` kernel drawn by ``name``.

    Arguments:
        name: a registry name, e.g. ``"lecun_normal"``.
        fan_in: number of inputs (kernel rows), >= 1.
        fan_out: number of outputs (kernel columns), >= 1; defaults to ``fan_in``.
        stddev: for ``"normal"`` only; defaults to Flax's 0.01.
    """
    entry = spec(name)
    fan_in, fan_out = _fans(fan_in, fan_out)
    return entry.std(fan_in, fan_out, stddev=_stddev(name, stddev))


def get_initializer(name: str, *, stddev: float | None = None) -> Callable:
    """The Flax initializer for ``name`` (factories are called for you)."""
    return spec(name).initializer(stddev=_stddev(name, stddev))


#: The largest kernel :func:`sample_kernel` draws: 2**26 weights (256 MiB in float32).
MAX_KERNEL_SIZE = 2**26


def check_initializer(init, argument: str = "initializer") -> Callable:
    """Check that ``init`` is a Flax initializer ``(key, shape, dtype) -> Array``.

    Catches the course's classic mistake, a factory passed without its ``()``
    (``lecun_normal`` instead of ``lecun_normal()``), with a message that says so. The check
    traces ``init`` abstractly on a tiny shape: nothing is drawn or compiled.
    """
    if not callable(init):
        raise TypeError(
            f"{argument} must be a registry name or a Flax initializer (key, shape, dtype) -> "
            f"Array; received {init!r}"
        )
    key = jax.random.PRNGKey(0)
    try:
        out = jax.eval_shape(lambda k: init(k, (2, 3), jnp.float32), key)
    except TypeError as error:
        try:
            made = init(key, (2, 3), jnp.float32)
        except Exception:  # noqa: BLE001 - reported below with the first error
            made = None
        if callable(made):
            raise TypeError(
                f"{argument} is an initializer factory, not an initializer: call it, e.g. "
                f"lecun_normal() rather than lecun_normal; received {init!r}"
            ) from None
        raise TypeError(
            f"{argument} must be a Flax initializer (key, shape, dtype) -> Array; calling it "
            f"failed with {type(error).__name__}: {error}"
        ) from None
    if getattr(out, "shape", None) != (2, 3):
        raise TypeError(
            f"{argument} must return an array of the requested shape: asked for (2, 3), got "
            f"{getattr(out, 'shape', type(out).__name__)}; received {init!r}"
        )
    return init


def sample_kernel(name, fan_in, fan_out=None, *, seed=0, stddev=None, dtype=jnp.float32) -> np.ndarray:
    """Draw a ``(fan_in, fan_out)`` kernel with the real Flax initializer; return it as numpy.

    ``name`` is a registry name or any Flax initializer ``(key, shape, dtype)``; at most
    ``MAX_KERNEL_SIZE`` weights.
    """
    fan_in, fan_out = _fans(fan_in, fan_out)
    if fan_in * fan_out > MAX_KERNEL_SIZE:
        raise ValueError(
            f"fan_in * fan_out must be at most {MAX_KERNEL_SIZE} weights; received fan_in="
            f"{fan_in}, fan_out={fan_out} ({fan_in * fan_out} weights)"
        )
    seed = _validate.seed(seed)
    if isinstance(name, str):
        init = get_initializer(name, stddev=stddev)
    else:
        init = check_initializer(name)
        if stddev is not None:
            raise ValueError(f"stddev only applies to the registry name 'normal'; received {stddev!r}")
    return np.asarray(init(jax.random.PRNGKey(seed), (fan_in, fan_out), dtype))


def measured_std(name, fan_in, fan_out=None, *, seed=0, stddev=None) -> float:
    """The empirical counterpart of :func:`expected_std`: sample a kernel, measure its std."""
    return float(np.std(sample_kernel(name, fan_in, fan_out, seed=seed, stddev=stddev), dtype=np.float64))


def truncation_bound(name: str, fan_in, fan_out=None) -> float | None:
    """The largest |weight| a truncated-normal initializer can draw (None if unbounded)."""
    entry = spec(name)
    if entry.family == "truncated_normal":
        return 2.0 * expected_std(name, fan_in, fan_out) / TRUNCATED_NORMAL_STD
    if entry.family == "uniform":
        return math.sqrt(3.0) * expected_std(name, fan_in, fan_out)
    return None


# -- unit-variance draws per family: the std is a multiplier, not a new sample -----------

def _unit_draw(family_index, key, shape):
    """Unit-variance draws of one family, the same numbers Flax's initializers scale."""
    def truncated(k):
        return jax.random.truncated_normal(k, -2.0, 2.0, shape, jnp.float32) / TRUNCATED_NORMAL_STD

    def uniform(k):
        return jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0) * math.sqrt(3.0)

    def normal(k):
        return jax.random.normal(k, shape, jnp.float32)

    def orthogonal(k):
        # Flax's orthogonal() on a square (n, n) kernel, scaled to unit variance.
        n = shape[-1]
        return nn.initializers.orthogonal()(k, shape, jnp.float32) * math.sqrt(n)

    def constant(k):
        return jnp.ones(shape, jnp.float32)

    return jax.lax.switch(family_index, [truncated, uniform, normal, orthogonal, constant], key)


@functools.cache
def family_index(family: str) -> int:
    return FAMILIES.index(family)


def unit_scale(name: str, fan_in: int, fan_out: int, *, stddev=None) -> float:
    """The factor that turns unit-variance draws of ``name``'s family into ``name``'s draws."""
    if name == "ones":
        return 1.0
    return expected_std(name, fan_in, fan_out, stddev=stddev)
