"""What the audit keeps from the traced forward pass, shared by the Linen and NNX adapters:
each layer's tensors (input, output, kernel, bias), and a tap on its output through which
the backward pass reports the mean square of the gradient arriving there.

The adapters find the layers (Linen's method interception, NNX's module graph) and call
:meth:`Recorder.layer` or :meth:`Recorder.block` with the module's tensors; the recorder
keeps the static facts (path, kind, shapes, structure) in Python and the tensors as
outputs of the audit's jitted function. The statistics are taken from them on the host
(:mod:`~initcourse.audit.moments`): a reduction per statistic and layer inside the
program made XLA's compile, not the pass, the audit's cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

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
    """A layer call seen while tracing: its static facts, and in ``slots`` the index in
    :attr:`Recorder.arrays` of each tensor kept (``"x"``, ``"y"``, ``"kernel"``,
    ``"bias"``; absent where the call has none, or a non-float one)."""

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
    slots: dict = field(default_factory=dict)


def _float_array(value) -> bool:
    return isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating)


class Recorder:
    """Collects layer and block calls during one trace.

    Arguments:
        inputs: the model's inputs as traced (a layer fed one of them directly is not
            checked for dead or saturated inputs: that is the learner's data).
        probes: a traced float32 vector, one entry per tapped layer output.

    ``arrays`` holds the tensors kept, each once (a layer's output is the next one's
    input); the audit's jitted function returns them.
    """

    def __init__(self, inputs, probes):
        self.input_ids = {id(x) for x in inputs}
        self.probes = probes
        self.layers: list[Seen] = []
        self.blocks: list[Seen] = []
        self.arrays: list[jax.Array] = []
        self.slot_of: dict[int, int] = {}  # id of a traced array -> its index in arrays
        self.aliases: list[jax.Array] = []
        self.taps = 0
        self.calls = 0

    def _next_call(self) -> int:
        self.calls += 1
        return self.calls - 1

    def keep(self, value) -> int:
        """The index of ``value`` in ``arrays`` (appended the first time it is met)."""
        if id(value) not in self.slot_of:
            self.slot_of[id(value)] = len(self.arrays)
            self.arrays.append(value)
        return self.slot_of[id(value)]

    def layer(self, path, kind, category, x, y, *, kernel=None, bias=None,
              structure=None, kernel_name="kernel"):
        """Record one parametrized layer call and return ``y`` tapped for its gradient."""
        seen = Seen(path, kind, category, self._next_call(),
                    tuple(x.shape) if isinstance(x, jax.Array) else None,
                    tuple(y.shape) if isinstance(y, jax.Array) else None,
                    structure, kernel_name if kernel is not None else "",
                    from_input=id(x) in self.input_ids)
        if _float_array(x):
            seen.slots["x"] = self.keep(x)
        if _float_array(y):
            seen.slots["y"] = self.keep(y)
        if kernel is not None:
            seen.slots["kernel"] = self.keep(kernel)
            if bias is not None and category == LINEAR:
                seen.slots["bias"] = self.keep(bias)
        self.layers.append(seen)
        if _float_array(y) and self.probes is not None:
            seen.probe = self.taps
            self.taps += 1
            if seen.probe < self.probes.shape[0]:
                tapped = tap(y, self.probes[seen.probe])
                # The same values: the next layer's input is kept as this slot. Holding
                # ``tapped`` keeps its id from being reused during the trace.
                self.slot_of[id(tapped)] = seen.slots["y"]
                self.aliases.append(tapped)
                return tapped
        return y

    def block(self, path, kind, x, y):
        """Record a container's call when it maps an array to one of the same shape: a
        residual block candidate (its statistics: :func:`~initcourse.audit.moments.block`)."""
        if not (_float_array(x) and _float_array(y) and x.shape == y.shape) or not path:
            return
        seen = Seen(path, kind, "block", self._next_call(), tuple(x.shape), tuple(y.shape))
        seen.slots = {"x": self.keep(x), "y": self.keep(y)}
        self.blocks.append(seen)

    def needed_probes(self) -> int:
        """The probe vector's length this trace needed."""
        return probe_length(self.taps)


def probe_length(taps: int) -> int:
    """A probe vector's length for ``taps`` tapped outputs: a power of two, at least 64
    (a few lengths, so that models of similar size share them)."""
    return max(64, 2 ** math.ceil(math.log2(max(taps, 1))))


def float_shapes(out) -> tuple[tuple[int, ...], ...]:
    """The shapes of the float leaves of a model's output ``out`` (arrays or abstract)."""
    return tuple(tuple(leaf.shape) for leaf in jax.tree_util.tree_leaves(out)
                 if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating))


def draw_response(shapes, seed: int) -> tuple[np.ndarray, ...]:
    """The loss's random response r, one standard normal float32 array per shape, drawn
    by NumPy on the host from ``seed``: drawn inside the jitted pass, JAX's threefry
    costs most of a second of compile time for each shape."""
    rng = np.random.default_rng([seed, 3])
    return tuple(rng.standard_normal(shape, dtype=np.float32) for shape in shapes)


def response(out, noise, key) -> jax.Array:
    """The loss sum(y * r) over the output's float leaves, r standard normal: the gradient
    arriving at the output has std 1. ``noise``: r per float leaf (:func:`draw_response`);
    where its shapes are not the output's, r is drawn here from ``key``."""
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(out)
              if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)]
    if tuple(tuple(leaf.shape) for leaf in leaves) != tuple(r.shape for r in noise):
        noise = [jax.random.normal(jax.random.fold_in(key, i), leaf.shape, jnp.float32)
                 for i, leaf in enumerate(leaves)]
    total = jnp.float32(0.0)
    for leaf, r in zip(leaves, noise, strict=True):
        total = total + jnp.sum(leaf.astype(jnp.float32) * r)
    return total


def collect(recorder: Recorder) -> list:
    """The tensors the host needs, as the jitted function returns them."""
    return list(recorder.arrays)


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
