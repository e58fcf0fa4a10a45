"""Fan-ins two ways: what ``variance_scaling`` counts from a kernel's shape, and what the
layer's contraction really sums over (from the einsum equation or the conv's structure).

A :class:`Structure` describes a layer as these functions need it; the Linen and NNX
adapters build one from the module's attributes, so the arithmetic lives here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Structure:
    """What fixes a layer's fan-ins.

    Attributes:
        rule: ``"dense"`` (kernel ``(in, out)``), ``"general"`` (DenseGeneral/LinearGeneral,
            kernel ``batch + in + out``), ``"einsum"``, ``"conv"``, ``"conv_transpose"``,
            ``"embed"`` (a look-up, no sum).
        kernel_shape: the kernel's shape.
        n_batch, n_in: ``"general"`` only: how many leading kernel axes are batch axes (not
            summed) and how many are contracted.
        equation: ``"einsum"`` only, e.g. ``"nta,hab->nthb"`` (input, kernel -> output).
        in_features: convolutions only: the input's channels (its last axis).
        dilation: convolutions: the product of ``input_dilation`` (a dilated input has zeros
            between its samples, so each output sums over fewer real inputs); for
            ``conv_transpose``, the product of ``strides``, for the same reason.
    """

    rule: str
    kernel_shape: tuple[int, ...]
    n_batch: int = 0
    n_in: int = 1
    equation: str = ""
    in_features: int = 0
    dilation: int = 1


def variance_scaling_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()) -> tuple[float, float]:
    """``(fan_in, fan_out)`` as ``jax.nn.initializers.variance_scaling`` computes them for
    ``shape``: every axis outside ``in_axis``/``out_axis``/``batch_axis`` counts as
    receptive field and multiplies both."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])

    def size(axes):
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return math.prod(shape[a] for a in axes)

    in_size, out_size, batch_size = size(in_axis), size(out_axis), size(batch_axis)
    receptive = math.prod(shape) / (in_size * out_size * batch_size)
    return float(in_size * receptive), float(out_size * receptive)


def einsum_axes(equation: str, kernel_shape) -> dict[str, tuple[int, ...]]:
    """The kernel's axes by role in ``equation`` (``"input,kernel->output"``):
    ``contracted`` (not in the output: summed), ``shared`` (in input, kernel and output:
    a batch axis of the kernel) and ``out`` (in the kernel and the output only).

    >>> einsum_axes("nta,hab->nthb", (8, 64, 64))
    {'contracted': (1,), 'shared': (), 'out': (0, 2)}
    """
    inputs, output = equation.replace(" ", "").split("->")
    lhs, kernel = inputs.split(",")
    kernel = kernel.replace("...", "")
    if len(kernel) != len(kernel_shape):
        raise ValueError(f"equation {equation!r} does not match kernel shape {kernel_shape}")
    roles = {"contracted": [], "shared": [], "out": []}
    for axis, letter in enumerate(kernel):
        if letter not in output:
            roles["contracted"].append(axis)
        elif letter in lhs:
            roles["shared"].append(axis)
        else:
            roles["out"].append(axis)
    return {role: tuple(axes) for role, axes in roles.items()}


def implied_fan_in(structure: Structure) -> float | None:
    """The fan-in ``variance_scaling``'s default axes (``in_axis=-2``, ``out_axis=-1``)
    count on the shape the layer hands its ``kernel_init``; None for a look-up."""
    shape = structure.kernel_shape
    if structure.rule == "embed":
        return None
    if structure.rule == "general":
        # DenseGeneral/LinearGeneral flatten the kernel to (batch * in, out) before calling
        # kernel_init: the batch axes are multiplied into the fan-in.
        return float(math.prod(shape[: structure.n_batch + structure.n_in]))
    return variance_scaling_fans(shape)[0]


def structural_fan_in(structure: Structure) -> float | None:
    """How many inputs each output really sums over (per kernel draw): the contracted axes
    of the einsum, the in_features of a dense map, taps x channels of a conv group."""
    shape, rule = structure.kernel_shape, structure.rule
    if rule == "embed":
        return 1.0  # a row is looked up, nothing is summed
    if rule == "dense":
        return float(shape[0])
    if rule == "general":
        return float(math.prod(shape[structure.n_batch: structure.n_batch + structure.n_in]))
    if rule == "einsum":
        axes = einsum_axes(structure.equation, shape)["contracted"]
        return float(math.prod(shape[a] for a in axes))
    if rule in ("conv", "conv_transpose"):
        taps = math.prod(shape[:-2])
        per_group = shape[-2] if rule == "conv" else structure.in_features
        return taps * per_group / structure.dilation
    raise ValueError(f"unknown rule {rule!r}")


def fixing_axes(structure: Structure) -> str:
    """The ``variance_scaling`` arguments that count this kernel's fan-in right, as code
    (``""`` when axes cannot fix it: DenseGeneral/LinearGeneral flatten the kernel first)."""
    if structure.rule != "einsum":
        return ""
    roles = einsum_axes(structure.equation, structure.kernel_shape)

    def axes(t):
        return str(t[0]) if len(t) == 1 else str(tuple(t))

    text = f"in_axis={axes(roles['contracted'])}, out_axis={axes(roles['out'])}"
    if roles["shared"]:
        text += f", batch_axis={roles['shared']}"
    return text
