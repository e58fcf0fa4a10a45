"""The registry of initializers the course teaches, as data, and the theory derived from it.

Each entry is the recipe Flax itself uses: ``variance_scaling(scale, mode, distribution)``
for the LeCun, Glorot and He initializers, a fixed ``stddev`` for ``normal``, a ``scale``
for ``orthogonal``, a value for the constants. The theoretical std, the variance rule
in words and the Flax initializer are all derived from the recipe:

>>> expected_std("lecun_normal", fan_in=64, fan_out=64)
0.125
"""

from __future__ import annotations

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

#: Distribution families; inside a family, initializers differ only by a multiplier
#: applied to the same unit-variance draws (:func:`unit_draw`).
FAMILIES = ("truncated_normal", "uniform", "normal", "orthogonal", "constant")

#: The largest kernel :func:`sample_kernel` draws: 2**26 weights (256 MiB in float32).
MAX_KERNEL_SIZE = 2**26

@dataclass(frozen=True)
class InitializerSpec:
    """One initializer of the course: Flax's recipe for ``nn.initializers.<name>``.

    ``family`` (one of ``FAMILIES``) is the distribution of the draws; ``scale`` is
    ``variance_scaling``'s scale (LeCun and Glorot 1, He 2), ``normal``'s stddev,
    ``orthogonal``'s scale or the constant's value; ``mode`` is ``variance_scaling``'s
    (``"fan_in"``, ``"fan_avg"``) or None; ``summary`` is one sentence for learners.
    """

    name: str
    family: str
    scale: float
    mode: str | None
    summary: str

    @property
    def factory(self) -> bool:
        """True if Flax exposes a factory to call (``lecun_normal()``), False for a ready
        initializer (``zeros``)."""
        return self.family != "constant"

    @property
    def rule(self) -> str:
        """The variance rule in words, e.g. ``"1/fan_in"``."""
        if self.mode == "fan_in":
            return f"{self.scale:g}/fan_in"
        if self.mode == "fan_avg":
            return f"{2 * self.scale:g}/(fan_in + fan_out)"
        if self.family == "constant":
            return f"constant {self.scale:g}"
        return {"normal": "stddev²", "orthogonal": "1/max(fan_in, fan_out)"}[self.family]

    def std(self, fan_in: int, fan_out: int, *, stddev: float | None = None) -> float:
        """Theoretical std of one weight of a ``(fan_in, fan_out)`` kernel."""
        if self.mode is not None:
            fans = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2
            return math.sqrt(self.scale / fans)
        if self.family == "normal":
            return self.scale if stddev is None else stddev
        if self.family == "orthogonal":
            return self.scale / math.sqrt(max(fan_in, fan_out))
        return 0.0

    def multiplier(self, fan_in: int, fan_out: int, *, stddev: float | None = None) -> float:
        """What turns :func:`unit_draw` of this family into this initializer's draws."""
        return self.scale if self.family == "constant" else self.std(fan_in, fan_out, stddev=stddev)

    def formula(self, fan_in: int, fan_out: int) -> str:
        """The std written out for these fans, e.g. ``"1/√64"`` or ``"√(2/(64+32))"``."""
        if self.mode is not None:
            fans = f"{fan_in}" if self.mode == "fan_in" else f"({fan_in}+{fan_out})"
            top = self.scale * (2 if self.mode == "fan_avg" else 1)
            return f"1/√{fans}" if top == 1 else f"√({top:g}/{fans})"
        if self.family == "normal":
            return f"{self.scale:g}, whatever fan_in"
        if self.family == "orthogonal":
            return f"1/√{max(fan_in, fan_out)}"
        return "0, every weight equal"

    def initializer(self, *, stddev: float | None = None) -> Callable:
        """The Flax initializer ``(key, shape, dtype) -> Array`` built from the recipe."""
        if self.mode is not None:
            return nn.initializers.variance_scaling(self.scale, self.mode, self.family)
        if self.family == "normal":
            return nn.initializers.normal(self.scale if stddev is None else stddev)
        if self.family == "orthogonal":
            return nn.initializers.orthogonal(self.scale)
        return getattr(nn.initializers, self.name)  # zeros, ones: ready callables


#: name -> InitializerSpec, in teaching order.
INITIALIZERS: dict[str, InitializerSpec] = {
    spec.name: spec
    for spec in (
        InitializerSpec("lecun_normal", "truncated_normal", 1.0, "fan_in",
                        "LeCun: variance 1/fan_in; a normal cut at ±2, divided by 0.8796 (cut at 2.27 std)."),
        InitializerSpec("lecun_uniform", "uniform", 1.0, "fan_in",
                        "LeCun with a uniform draw on ±√(3/fan_in)."),
        InitializerSpec("glorot_normal", "truncated_normal", 1.0, "fan_avg",
                        "Xavier/Glorot: variance 2/(fan_in + fan_out), balancing forward and "
                        "backward."),
        InitializerSpec("glorot_uniform", "uniform", 1.0, "fan_avg",
                        "Xavier/Glorot with a uniform draw on ±√(6/(fan_in + fan_out))."),
        InitializerSpec("he_normal", "truncated_normal", 2.0, "fan_in",
                        "He/Kaiming: variance 2/fan_in, making up for the half that ReLU zeroes."),
        InitializerSpec("he_uniform", "uniform", 2.0, "fan_in",
                        "He/Kaiming with a uniform draw on ±√(6/fan_in)."),
        InitializerSpec("normal", "normal", DEFAULT_NORMAL_STDDEV, None,
                        "A plain normal with a fixed stddev (Flax's default 0.01), blind to "
                        "fan-in."),
        InitializerSpec("orthogonal", "orthogonal", 1.0, None,
                        "A random orthogonal matrix: orthonormal columns (or rows), "
                        "norm-preserving."),
        InitializerSpec("zeros", "constant", 0.0, None,
                        "All zeros: right for biases; a dead end for hidden kernels (all units stay equal)."),
        InitializerSpec("ones", "constant", 1.0, None,
                        "All ones: every unit computes the same thing."),
    )
}


def spec(initializer, argument: str = "initializer", *, also=()) -> InitializerSpec:
    """The registry entry named ``initializer``; a clear error names ``argument`` and lists
    the names (with ``also``, other names the caller accepts, such as ``"lsuv"``)."""
    if not isinstance(initializer, str) and callable(initializer):
        raise TypeError(
            f"{argument} must be a registry name (one of "
            f"{', '.join(map(repr, INITIALIZERS))}); a Flax initializer is not accepted "
            f"here, received {initializer!r}"
        )
    name = _validate.choice(argument, initializer, (*INITIALIZERS, *also))
    return INITIALIZERS[name]


@dataclass(frozen=True)
class Resolved:
    """An initializer argument resolved: its ``name`` (or the callable's ``__qualname__``),
    registry ``spec`` (None for another Flax initializer), Flax initializer ``init`` and
    checked ``stddev`` (``"normal"`` only, else None)."""

    name: str
    spec: InitializerSpec | None
    init: Callable
    stddev: float | None


def resolve(initializer, *, stddev=None, argument: str = "initializer", also=()) -> Resolved:
    """A registry name or any Flax initializer ``(key, shape, dtype) -> Array``, checked:
    the one place that turns an ``initializer`` argument into an initializer, so every
    function refuses the same mistakes with the same words. ``argument`` is how errors
    name it (``"runs[1]: initializer"``), ``stddev``'s name follows it; ``also`` lists other
    names the caller handles itself (for the error's list, as :func:`spec`)."""
    if isinstance(initializer, Resolved) and stddev is None:
        return initializer  # resolved already: one route, not two
    stddev_name = argument.removesuffix("initializer") + "stddev"
    if isinstance(initializer, str):
        entry = spec(initializer, argument, also=also)
        if stddev is not None:
            if entry.family != "normal":
                raise ValueError(f"{stddev_name} only applies to initializer='normal'; "
                                 f"received {stddev_name}={stddev!r} for {initializer!r}")
            stddev = _validate.positive_real(stddev_name, stddev, maximum=1e6)
        return Resolved(entry.name, entry, entry.initializer(stddev=stddev), stddev)
    if stddev is not None:
        raise ValueError(f"{stddev_name} only applies to initializer='normal'; received "
                         f"{stddev_name}={stddev!r} for {initializer!r}")
    init = check_callable(initializer, argument)
    return Resolved(getattr(init, "__qualname__", repr(init)), None, init, None)


def check_callable(init, argument: str = "initializer") -> Callable:
    """Check that ``init`` is a Flax initializer ``(key, shape, dtype) -> Array`` by tracing
    it on a tiny shape (nothing drawn or compiled); a factory passed without its ``()``
    (``lecun_normal``) gets a message that says so."""
    if not callable(init):
        raise TypeError(
            f"{argument} must be a registry name (one of {', '.join(map(repr, INITIALIZERS))}) "
            f"or a Flax initializer (key, shape, dtype) -> Array; received {init!r}"
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


#: The most work one call may spend on orthogonal draws, as ``min(fan)**2 * max(fan)``
#: summed over its kernels (a QR decomposition each): 2**35, about 1.5 s on the course's
#: 2-core machine (one 2048 x 2048 kernel takes 0.34 s there, 4096 x 4096 over 20 s).
ORTHOGONAL_BUDGET = 2**35


def orthogonal_cost(fan_in: int, fan_out: int, count: int = 1) -> int:
    """The work of ``count`` orthogonal ``(fan_in, fan_out)`` draws, in the units of
    :data:`ORTHOGONAL_BUDGET`."""
    return count * min(fan_in, fan_out) ** 2 * max(fan_in, fan_out)


def check_orthogonal_cost(fan_in: int, fan_out: int, count: int = 1, what: str = "") -> None:
    """Refuse ``count`` orthogonal draws that would exceed :data:`ORTHOGONAL_BUDGET`, with
    the estimate and the bound (before anything is drawn)."""
    cost = orthogonal_cost(fan_in, fan_out, count)
    if cost > ORTHOGONAL_BUDGET:
        raise ValueError(
            f"{what or 'the orthogonal draws'}: {count} orthogonal {fan_in} x {fan_out} kernel(s) "
            f"would cost about {cost / ORTHOGONAL_BUDGET:.1f}x the budget of one interactive call "
            f"(count * min(fan)**2 * max(fan) <= 2**35, about 1.5 s here; received "
            f"{cost:.3g}): use a smaller kernel, fewer layers or another initializer")


def checked(initializer: Resolved, argument: str = "initializer") -> Callable:
    """``initializer.init``, and for an initializer outside the registry one whose every
    result is checked: the shape and dtype it was asked for, and finite values (a custom
    initializer is traced once by :func:`check_callable`; one that ignores its ``shape``
    or draws NaN would otherwise be measured)."""
    if initializer.spec is not None:
        return initializer.init

    def init(key, shape, dtype=jnp.float32):
        out = initializer.init(key, shape, dtype)
        shape, dtype = tuple(shape), jnp.dtype(dtype)
        got = getattr(out, "shape", None)
        if got != shape:
            raise ValueError(f"{argument} must return the shape it is asked for: asked for "
                             f"{shape}, got {got if got is not None else type(out).__name__}; "
                             f"received {initializer.name}")
        if out.dtype != dtype:
            raise TypeError(f"{argument} must return the dtype it is asked for: asked for "
                            f"{dtype.name}, got {out.dtype}; received {initializer.name}")
        if not isinstance(out, jax.core.Tracer):
            bad = int(np.size(out) - np.count_nonzero(np.isfinite(np.asarray(out, np.float32))))
            if bad:
                raise ValueError(f"{argument} returned {bad} non-finite weights (NaN or inf) "
                                 f"of {np.size(out)}; received {initializer.name}")
        return out

    return init


def fans(fan_in, fan_out=None, *, maximum: int = MAX_KERNEL_SIZE) -> tuple[int, int]:
    """``fan_in`` and ``fan_out`` (default: ``fan_in``) checked: whole numbers in 1..maximum."""
    fan_in = _validate.integral("fan_in", fan_in, minimum=1, maximum=maximum)
    fan_out = fan_in if fan_out is None else _validate.integral(
        "fan_out", fan_out, minimum=1, maximum=maximum)
    return fan_in, fan_out


def expected_std(initializer, fan_in, fan_out=None, *, stddev=None) -> float:
    """Theoretical std of one weight of a ``(fan_in, fan_out)`` kernel drawn by ``initializer``.

    Arguments:
        initializer: a registry name, e.g. ``"lecun_normal"``.
        fan_in: number of inputs (kernel rows), 1 to ``MAX_KERNEL_SIZE``.
        fan_out: number of outputs (kernel columns), same range; defaults to ``fan_in``.
        stddev: for ``"normal"`` only, a number in (0, 1e6]; defaults to Flax's 0.01.
    """
    entry = spec(initializer)
    fan_in, fan_out = fans(fan_in, fan_out)
    return entry.std(fan_in, fan_out, stddev=resolve(initializer, stddev=stddev).stddev)


def get_initializer(initializer, *, stddev=None) -> Callable:
    """The Flax initializer for a registry name (factories are called for you)."""
    spec(initializer)
    return resolve(initializer, stddev=stddev).init


def sample_kernel(initializer, fan_in, fan_out=None, *, seed=0, stddev=None,
                  dtype=jnp.float32) -> np.ndarray:
    """Draw a ``(fan_in, fan_out)`` kernel (``MAX_KERNEL_SIZE`` weights at most) with the
    real Flax initializer (a registry name or any Flax initializer), as numpy.

    ``seed`` is 0 to 2**32 - 1; ``stddev`` for ``"normal"`` only; ``dtype`` float32,
    bfloat16 or float16 (float64 needs JAX's x64 mode).
    """
    fan_in, fan_out = fans(fan_in, fan_out)
    if fan_in * fan_out > MAX_KERNEL_SIZE:
        raise ValueError(
            f"fan_in * fan_out must be at most {MAX_KERNEL_SIZE} weights; received fan_in="
            f"{fan_in}, fan_out={fan_out} ({fan_in * fan_out} weights)"
        )
    seed = _validate.seed(seed)
    dtype = _validate.float_dtype("dtype", dtype)
    resolved = resolve(initializer, stddev=stddev)
    if resolved.spec is not None and resolved.spec.family == "orthogonal":
        check_orthogonal_cost(fan_in, fan_out, what="sample_kernel")
    init = checked(resolved)
    return np.asarray(init(jax.random.PRNGKey(seed), (fan_in, fan_out), dtype))


def measured_std(initializer, fan_in, fan_out=None, *, seed=0, stddev=None) -> float:
    """The std of a kernel drawn by :func:`sample_kernel` (two weights or more: one weight
    has a std of 0 whatever the initializer)."""
    fan_in, fan_out = fans(fan_in, fan_out)
    if fan_in * fan_out < 2:
        raise ValueError(
            "fan_in * fan_out must be at least 2: the std of a single weight is 0 whatever "
            f"the initializer; received fan_in={fan_in}, fan_out={fan_out}"
        )
    kernel = sample_kernel(initializer, fan_in, fan_out, seed=seed, stddev=stddev)
    return float(np.std(kernel, dtype=np.float64))


def truncation_bound(initializer, fan_in, fan_out=None) -> float | None:
    """The largest |weight| a truncated-normal or uniform initializer can draw (else None)."""
    bound = {"truncated_normal": 2.0 / TRUNCATED_NORMAL_STD, "uniform": math.sqrt(3.0)}
    factor = bound.get(spec(initializer).family)
    return None if factor is None else factor * expected_std(initializer, fan_in, fan_out)


def unit_draw(family: int, key, shape: tuple[int, int]) -> jax.Array:
    """Unit-variance float32 draws of ``FAMILIES[family]``: the numbers Flax's initializers
    of that family scale (constants: ones). ``family`` may be a traced integer."""

    def truncated(k):
        return jax.random.truncated_normal(k, -2.0, 2.0, shape, jnp.float32) / TRUNCATED_NORMAL_STD

    def uniform(k):
        return jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0) * math.sqrt(3.0)

    def normal(k):
        return jax.random.normal(k, shape, jnp.float32)

    def orthogonal(k):  # Flax's orthogonal() on a square kernel, scaled to unit variance
        return nn.initializers.orthogonal()(k, shape, jnp.float32) * math.sqrt(shape[-1])

    def constant(k):
        return jnp.ones(shape, jnp.float32)

    return jax.lax.switch(family, [truncated, uniform, normal, orthogonal, constant], key)
