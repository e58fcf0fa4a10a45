"""What the audit measures inside the traced forward pass, shared by the Linen and NNX
adapters: each layer's statistics as traced scalars, and a tap on its output through
which the backward pass reports the std of the gradient arriving there.

The adapters find the layers (Linen's method interception, NNX's module graph) and call
:meth:`Recorder.layer` or :meth:`Recorder.block` with the module's tensors; the recorder
keeps the static facts (path, kind, shapes, structure) in Python and the measurements
as traced values that the audit's jitted function returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from initcourse.audit.fan_in import Structure

#: Layer categories: a linear map with a kernel (its fan-in is checked), a look-up, a
#: norm, an attention module (its inner projections are layers of their own), and a
#: module with parameters the audit does not know (listed, never guessed).
LINEAR, EMBED, NORM, ATTENTION, UNKNOWN = "linear", "embed", "norm", "attention", "not audited"


class AuditBug(RuntimeError):
    """An error of the audit's own code, not of the learner's model or inputs."""


@jax.custom_vjp
def tap(y, probe):
    """The identity on ``y``; the gradient with respect to the scalar ``probe`` is the
    mean square of the gradient arriving at ``y`` (a readout of the backward pass)."""
    return y


def _tap_fwd(y, probe):
    return y, None


def _tap_bwd(_, g):
    return g, jnp.mean(jnp.square(g.astype(jnp.float32)))


tap.defvjp(_tap_fwd, _tap_bwd)


@dataclass
class Seen:
    """A layer call seen while tracing: its static facts (``stats`` holds traced scalars,
    replaced by floats once the audit ran)."""

    path: str
    kind: str
    category: str
    call: int
    input_shape: tuple | None
    output_shape: tuple | None
    structure: Structure | None = None
    kernel_name: str = ""
    probe: int | None = None
    from_input: bool = False
    stats: dict = field(default_factory=dict)


def _float_array(value) -> bool:
    return isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating)


def _mean_square(value) -> jax.Array:
    return jnp.mean(jnp.square(value.astype(jnp.float32)))


class Recorder:
    """Collects layer and block calls during one trace.

    Arguments:
        inputs: the model's inputs as traced (a layer fed one of them directly is not
            checked for dead or saturated inputs: that is the learner's data).
        probes: a traced float32 vector, one entry per tapped layer output.
    """

    def __init__(self, inputs, probes):
        self.input_ids = {id(x) for x in inputs}
        self.probes = probes
        self.layers: list[Seen] = []
        self.blocks: list[Seen] = []
        self.taps = 0
        self.calls = 0

    def _next_call(self) -> int:
        self.calls += 1
        return self.calls - 1

    def layer(self, path, kind, category, x, y, *, kernel=None, bias=None, scale=None,
              structure=None, kernel_name="kernel"):
        """Record one parametrized layer call and return ``y`` tapped for its gradient."""
        seen = Seen(path, kind, category, self._next_call(),
                    tuple(x.shape) if isinstance(x, jax.Array) else None,
                    tuple(y.shape) if isinstance(y, jax.Array) else None,
                    structure, kernel_name if kernel is not None else "",
                    from_input=id(x) in self.input_ids)
        stats = seen.stats
        if _float_array(x):
            stats["input_second_moment"] = _mean_square(x)
            if not seen.from_input and x.ndim >= 2:
                # A feature that is zero on every sample and position is a dead ReLU unit
                # of the layer before; inputs within [-1, 1] that sit at +-0.99 are a
                # saturated tanh's.
                flat = x.reshape(-1, x.shape[-1]).astype(jnp.float32)
                stats["dead_fraction"] = jnp.mean(jnp.all(flat == 0, axis=0))
                bounded = jnp.max(jnp.abs(flat)) <= 1.0
                stats["saturated_fraction"] = jnp.where(
                    bounded, jnp.mean(jnp.abs(flat) > 0.99), 0.0)
                stats["input_min"] = jnp.min(flat)
        if _float_array(y):
            stats["output_std"] = jnp.std(y.astype(jnp.float32))
            stats["output_finite"] = jnp.all(jnp.isfinite(y))
        if kernel is not None:
            stats["kernel_std"] = jnp.std(kernel.astype(jnp.float32))
            stats["kernel_second_moment"] = _mean_square(kernel)
            if _float_array(y) and category == LINEAR:
                stats["linear_second_moment"] = self._linear_part(y, bias)
        if scale is not None:
            stats["scale_std"] = jnp.std(scale.astype(jnp.float32))
        self.layers.append(seen)
        if _float_array(y) and self.probes is not None:
            seen.probe = self.taps
            self.taps += 1
            if seen.probe < self.probes.shape[0]:
                return tap(y, self.probes[seen.probe])
        return y

    @staticmethod
    def _linear_part(y, bias):
        """E[(y - bias)^2], the second moment of the kernel's part of the output. A bias
        that does not broadcast on the output's trailing axes (LinearGeneral's batch
        axes) is taken out on average, E[y^2] - E[b^2], exact for the usual zero bias."""
        if bias is None:
            return _mean_square(y)
        bias = bias.astype(jnp.float32)
        trailing = y.shape[y.ndim - bias.ndim:] if bias.ndim <= y.ndim else None
        if trailing is not None and all(b in (1, t) for b, t in zip(bias.shape, trailing,
                                                                     strict=True)):
            return _mean_square(y.astype(jnp.float32) - bias)
        return _mean_square(y) - _mean_square(bias)

    def block(self, path, kind, x, y):
        """Record a container's call when it maps an array to one of the same shape: a
        residual block candidate. ``skip`` = E[y x] / E[x^2] is about 1 for y = x + f(x)
        with f(x) uncorrelated with x, and about 0 for a plain layer."""
        if not (_float_array(x) and _float_array(y) and x.shape == y.shape) or not path:
            return
        seen = Seen(path, kind, "block", self._next_call(), tuple(x.shape), tuple(y.shape))
        x32, y32 = x.astype(jnp.float32), y.astype(jnp.float32)
        x2 = _mean_square(x32)
        seen.stats = {"input_std": jnp.sqrt(x2), "output_std": jnp.sqrt(_mean_square(y32)),
                      "skip": jnp.mean(x32 * y32) / x2,
                      "branch_ratio": _mean_square(y32 - x32) / x2}
        self.blocks.append(seen)

    def needed_probes(self) -> int:
        """The probe vector's length this trace needed (a power of two, at least 64)."""
        return max(64, 2 ** math.ceil(math.log2(max(self.taps, 1))))


def response(out, key) -> jax.Array:
    """The loss sum(y * r) over the output's float leaves, r standard normal: the gradient
    arriving at the output has std 1."""
    total = jnp.float32(0.0)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(out)):
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating):
            r = jax.random.normal(jax.random.fold_in(key, i), leaf.shape, jnp.float32)
            total = total + jnp.sum(leaf.astype(jnp.float32) * r)
    return total


def collect(recorder: Recorder):
    """The traced measurements, by call index: (layer stats, block stats)."""
    return ({s.call: s.stats for s in recorder.layers},
            {s.call: s.stats for s in recorder.blocks})


def product(value, ndim: int) -> int:
    """The product of a conv's per-axis factor (strides, dilation): None is 1, an int
    applies to each of the ``ndim`` spatial axes."""
    if value is None:
        return 1
    if isinstance(value, int):
        return value ** ndim
    return math.prod(value)


def join(path: str, name: str) -> str:
    """A parameter's path: ``join("attn/c_proj", "kernel")``; a root module's is ``name``."""
    return f"{path}/{name}" if path else name
