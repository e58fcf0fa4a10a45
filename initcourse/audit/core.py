"""``audit(model, *inputs)``: one forward and backward pass of a Flax model, Linen or NNX,
measured layer by layer (:class:`LayerRecord`, :class:`BlockRecord`), then judged by
:mod:`initcourse.audit.findings` and shown by :class:`~initcourse.audit.report.AuditReport`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from initcourse import _validate
from initcourse.audit import linen as linen_adapter
from initcourse.audit import moments
from initcourse.audit import nnx as nnx_adapter
from initcourse.audit.fan_in import Structure, implied_fan_in, structural_fan_in
from initcourse.audit.record import UNKNOWN, AuditBug, draw_response, join, probe_length

#: The pass runs once: LLVM's optimizations cost XLA more compile time than they save in
#: running it (about a sixth of the audit's compile for the benchmark's transformer).
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


@dataclass(frozen=True)
class LayerRecord:
    """One parametrized layer call, measured. Moments are over every element (samples and
    positions); None where the layer has no such quantity (an Embed's integer input).

    Attributes:
        path: the module's path, e.g. ``"attn/c_proj"``; ``param_path`` its kernel's
            parameter path (``"attn/c_proj/kernel"``), "" without a kernel.
        kind: the Flax class (``"Dense"``, ``"Einsum"``, ...); ``category``: ``"linear"``,
            ``"embed"``, ``"norm"``, ``"attention"`` or ``"not audited"``.
        call: the call's index in the forward pass (blocks and layers share the count).
        input_shape, output_shape, kernel_shape: shapes as met.
        input_second_moment: E[x^2] of the input; output_std, kernel_std: std of output
            and kernel; grad_std: std of dL/dkernel; output_grad_std: std of the gradient
            arriving at the output (the loss is sum(y * r), r ~ N(0, 1), so it is 1 at the
            model's output).
        fan_in_implied: what ``variance_scaling``'s default axes count on the kernel's
            shape (as the layer hands it to ``kernel_init``); fan_in_structural: what the
            contraction sums over (einsum equation, conv taps x channels per group);
            fan_in_measured: Var(out) / (E[w^2] E[x^2]), the gain of the draw.
        dead_fraction: share of input features zero on every sample; saturated_fraction:
            share of inputs beyond +-0.99 when they lie within [-1, 1]; from_input: the
            layer is fed a model input directly (those two are not checked then).
    """

    path: str
    kind: str
    category: str
    call: int
    param_path: str
    input_shape: tuple | None
    output_shape: tuple | None
    kernel_shape: tuple | None
    input_second_moment: float | None
    output_std: float | None
    kernel_std: float | None
    kernel_second_moment: float | None
    grad_std: float | None
    output_grad_std: float | None
    fan_in_implied: float | None
    fan_in_structural: float | None
    fan_in_measured: float | None
    dead_fraction: float | None
    saturated_fraction: float | None
    input_min: float | None
    from_input: bool
    finite: bool
    structure: Structure | None = None

    @property
    def audited(self) -> bool:
        return self.category != UNKNOWN

    @property
    def gain(self) -> float | None:
        """E[w^2] x the fan-in the layer sums over: the factor on the input's second moment."""
        if self.kernel_second_moment is None or self.fan_in_structural is None:
            return None
        return self.kernel_second_moment * self.fan_in_structural


@dataclass(frozen=True)
class BlockRecord:
    """A container's call mapping an array to one of the same shape (a residual block
    candidate). ``input_rms``/``output_rms``: root mean squares of the stream; ``skip``:
    E[y x] / E[x^2] (about 1 for y = x + f(x)); ``branch_ratio``: E[(y - x)^2] / E[x^2]."""

    path: str
    kind: str
    call: int
    shape: tuple
    input_rms: float
    output_rms: float
    skip: float
    branch_ratio: float

    @property
    def parent(self) -> str:
        return self.path.rpartition("/")[0]


def _flavour(model) -> str:
    if isinstance(model, nn.Module):
        return "linen"
    if isinstance(model, nnx.Module):
        return "nnx"
    hint = ""
    if isinstance(model, type) and issubclass(model, (nn.Module, nnx.Module)):
        hint = " (a class: pass an instance, e.g. MyModel(...))"
    raise TypeError("model must be a Flax module: a flax.linen.Module or a flax.nnx.Module"
                    f"{hint}; received {_validate.shown(model)}")


def _inputs(inputs) -> tuple:
    if not inputs:
        raise TypeError("inputs: audit(model, *inputs) needs at least one input array (a "
                        "batch of the model's inputs); received none")
    checked = []
    for i, value in enumerate(inputs):
        if not isinstance(value, (jax.Array, np.ndarray)):
            raise TypeError(f"inputs[{i}] must be a JAX or NumPy array; received "
                            f"{_validate.shown(value)}")
        if value.dtype.kind not in "biuf" and not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"inputs[{i}] must hold numbers; received an array of dtype "
                            f"{value.dtype}")
        if value.size == 0:
            raise ValueError(f"inputs[{i}] must not be empty (the audit measures statistics over "
                             f"its entries); received shape {tuple(value.shape)}")
        if value.dtype.kind == "f" or jnp.issubdtype(value.dtype, jnp.floating):
            finite = np.isfinite(np.asarray(value, np.float64))
            if not finite.all():
                raise ValueError(f"inputs[{i}] must hold finite numbers (NaN or inf in the input "
                                 f"would be measured as the model's fault); received "
                                 f"{int((~finite).sum()):,} of {value.size:,} entries non-finite")
        checked.append(jnp.asarray(value))
    return tuple(checked)


def _described(inputs) -> str:
    return ", ".join(f"{x.dtype}{list(x.shape)}" for x in inputs)


def audit(model, *inputs, seed=0, max_memory_mb=2048):
    """Audit the initialization of a Flax model from one forward and backward pass.

    Arguments:
        model: a ``flax.linen.Module`` (initialized here with ``seed`` on ``inputs``, the
            same parameters as ``model.init(jax.random.key(seed), *inputs)``) or a
            ``flax.nnx.Module`` (audited as built, on a copy: it is not changed).
        *inputs: the arrays the model is called on, e.g. one ``(batch, features)`` batch;
            the moments are taken over every sample and position, so a few dozen samples
            are enough.
        seed: a whole number, 0 to 2**32 - 1: the Linen init and the random response r of
            the loss sum(y * r) whose gradient the backward pass carries (drawn by NumPy:
            :func:`~initcourse.audit.record.draw_response`).
        max_memory_mb: the bound on XLA's estimate of the pass's memory; above it the
            audit raises ``MemoryError`` before running anything.

    Returns an :class:`~initcourse.audit.AuditReport`: ``layers`` (one record per
    parametrized layer call), ``findings`` (``fan-in-mismatch``, ``vanishing``,
    ``exploding``, ``residual-growth``, ``dead-relu``, ``saturated-tanh``, each with its
    parameter path) and ``notes`` (``not-variance-preserving``: a kernel whose std does not
    keep variance at its width, which is GPT-2's design under pre-LN and so only a note;
    ``not-audited``: layers of a kind the audit does not know, listed, never guessed).
    """
    from initcourse.audit.findings import judge
    from initcourse.audit.report import AuditReport

    seed = _validate.seed(seed)
    max_memory_mb = _validate.positive_real("max_memory_mb", max_memory_mb)
    flavour = _flavour(model)
    inputs = _inputs(inputs)
    layers, blocks = audit_measurements(model, inputs, seed=seed, max_memory_mb=max_memory_mb)
    findings, notes = judge(layers, blocks)
    return AuditReport(type(model).__name__, flavour, seed, layers, blocks, findings, notes)


def audit_measurements(model, inputs, *, seed: int, max_memory_mb: float):
    """Run the audit's forward and backward pass; ``(layers, blocks)`` as records.

    One jitted program holds the pass (traced once: the probe vector is sized from the
    init's or the graph's module calls) and returns the layers' tensors. Around it, on
    the host and far cheaper than compiling them: the Linen init (``lazy_init``), the
    response r (:func:`~initcourse.audit.record.draw_response`) and the statistics
    (:mod:`~initcourse.audit.moments`)."""
    flavour = _flavour(model)
    key = jax.random.key(seed)
    response_key = jax.random.fold_in(key, 3)
    try:
        if flavour == "linen":
            run, holder = linen_adapter.audit_function(model)
            variables, calls, shapes = linen_adapter.initialize(model, key, inputs)
            noise = draw_response(shapes, seed)

            def arguments(probes):
                return (variables, key, probes, noise, response_key, *inputs)
        else:
            run, holder, params, rest, calls = nnx_adapter.audit_function(model)
            noise = draw_response(nnx_adapter.output_shapes(model, inputs), seed)

            def arguments(probes):
                return (params, rest, probes, noise, response_key, *inputs)

        n_probes = probe_length(calls)
        while True:  # the probe vector needs one entry per tapped layer output
            probes = jnp.zeros((n_probes,), jnp.float32)
            lowered = jax.jit(run).lower(*arguments(probes))
            needed = holder["recorder"].needed_probes()
            if needed <= n_probes:
                break
            n_probes = needed
    except AuditBug as bug:
        raise bug.__cause__ from None
    except Exception as exc:
        raise ValueError(f"inputs: {type(model).__name__}'s forward pass failed on "
                         f"inputs {_described(inputs)}: {type(exc).__name__}: "
                         f"{_first_line(exc)}") from exc
    try:
        compiled = lowered.compile(compiler_options=COMPILER_OPTIONS)
    except jax.errors.JaxRuntimeError:  # an XLA that does not know the option
        compiled = lowered.compile()
    _check_memory(compiled, model, inputs, max_memory_mb)
    arrays, kernel_grads, probe_grads = jax.device_get(compiled(*arguments(probes)))
    recorder = holder["recorder"]
    layers = tuple(_layer_record(s, moments.layer(s, arrays), kernel_grads.get(s.call),
                                 probe_grads) for s in recorder.layers)
    blocks = tuple(BlockRecord(s.path, s.kind, s.call, s.input_shape,
                               *moments.block(s, arrays)) for s in recorder.blocks)
    return layers, blocks


def _check_memory(compiled, model, inputs, max_memory_mb: float) -> None:
    analysis = compiled.memory_analysis()
    if analysis is None:
        return
    need = (analysis.temp_size_in_bytes + analysis.argument_size_in_bytes
            + analysis.output_size_in_bytes) / 2**20
    if need > max_memory_mb:
        raise MemoryError(
            f"max_memory_mb: one forward and backward pass of {type(model).__name__} on "
            f"inputs {_described(inputs)} needs about {need:,.0f} MB (XLA's estimate), above "
            f"max_memory_mb={max_memory_mb:g}; pass fewer samples, or raise max_memory_mb")


def _number(stats: dict, name: str) -> float | None:
    value = stats.get(name)
    return None if value is None else float(value)


def _layer_record(seen, stats, kernel_grad, probe_grads) -> LayerRecord:
    structure = seen.structure
    implied = implied_fan_in(structure) if structure else None
    structural = structural_fan_in(structure) if structure else None
    x2, w2 = _number(stats, "input_second_moment"), _number(stats, "kernel_second_moment")
    lin2 = _number(stats, "linear_second_moment")
    measured = None
    if x2 and w2 and lin2 is not None and math.isfinite(lin2) and x2 * w2 > 0:
        measured = lin2 / (w2 * x2)
    out_grad = None
    if seen.probe is not None and seen.probe < probe_grads.shape[0]:
        second = float(probe_grads[seen.probe])  # NaN or inf: the gradient overflowed
        out_grad = math.sqrt(max(second, 0.0)) if math.isfinite(second) else math.inf
    return LayerRecord(
        path=seen.path, kind=seen.kind, category=seen.category, call=seen.call,
        param_path=join(seen.path, seen.kernel_name) if seen.kernel_name else "",
        input_shape=seen.input_shape, output_shape=seen.output_shape,
        kernel_shape=structure.kernel_shape if structure else None,
        input_second_moment=x2, output_std=_number(stats, "output_std"),
        kernel_std=_number(stats, "kernel_std"), kernel_second_moment=w2,
        grad_std=None if kernel_grad is None else moments.std(kernel_grad),
        output_grad_std=out_grad, fan_in_implied=implied, fan_in_structural=structural,
        fan_in_measured=measured, dead_fraction=_number(stats, "dead_fraction"),
        saturated_fraction=_number(stats, "saturated_fraction"),
        input_min=_number(stats, "input_min"), from_input=seen.from_input,
        finite=bool(stats.get("output_finite", True)), structure=structure)


def _first_line(error: BaseException, limit: int = 300) -> str:
    """The error's first line, at most ``limit`` characters: Flax's messages can quote whole
    arrays, which would bury the reason (the full error stays chained as the cause)."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."
