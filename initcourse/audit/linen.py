"""Linen: the layers met in a forward pass, through ``nn.intercept_methods``.

Every module's ``__call__`` passes through :func:`interceptor`; it runs the module as it
is (nothing re-implemented), then hands its input, output and parameters to the
:class:`~initcourse.audit.record.Recorder`.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from initcourse.audit.fan_in import Structure
from initcourse.audit.record import (
    ATTENTION,
    EMBED,
    LINEAR,
    NORM,
    UNKNOWN,
    AuditBug,
    Recorder,
    collect,
    float_shapes,
    product,
    response,
)

_NORMS = (nn.LayerNorm, nn.BatchNorm, nn.RMSNorm, nn.GroupNorm, nn.InstanceNorm)


def _tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def classify(module: nn.Module, x, params: dict):
    """``(category, structure)`` of a Linen module called on ``x`` with its own
    ``params`` (None: a container without parameters of its own)."""
    kernel = params.get("kernel")
    if isinstance(module, nn.MultiHeadDotProductAttention):
        return ATTENTION, None
    if isinstance(module, _NORMS):
        return NORM, None
    if isinstance(module, nn.Embed):
        return EMBED, Structure("embed", tuple(params["embedding"].shape))
    if kernel is None:
        return (UNKNOWN, None) if params else (None, None)
    shape = tuple(kernel.shape)
    if isinstance(module, nn.Dense):
        return LINEAR, Structure("dense", shape)
    if isinstance(module, nn.DenseGeneral):
        return LINEAR, Structure("general", shape, n_batch=len(_tuple(module.batch_dims)),
                                 n_in=len(_tuple(module.axis)))
    if isinstance(module, nn.Einsum):
        return LINEAR, Structure("einsum", shape, equation=module.einsum_str)
    if isinstance(module, nn.Conv):
        return LINEAR, Structure("conv", shape, in_features=x.shape[-1],
                                 dilation=product(module.input_dilation, len(shape) - 2))
    if isinstance(module, nn.ConvTranspose):
        return LINEAR, Structure("conv_transpose", shape, in_features=x.shape[-1],
                                 dilation=product(module.strides, len(shape) - 2))
    return UNKNOWN, None


def own_params(module: nn.Module) -> dict:
    """The module's own parameters (its children's are nested dicts, left out)."""
    params = module.variables.get("params", {})
    return {name: value for name, value in params.items() if isinstance(value, jax.Array)}


def interceptor(recorder: Recorder):
    """The function ``nn.intercept_methods`` calls around each module method."""

    def intercept(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        if context.method_name != "__call__":
            return y
        try:
            return _observe(recorder, context.module, args, kwargs, y)
        except Exception as exc:
            raise AuditBug(f"initcourse.audit failed on {context.module.path}") from exc

    return intercept


def _observe(recorder, module, args, kwargs, y):
    """Hand one module call to the recorder; return its output, tapped."""
    x = args[0] if args else next(iter(kwargs.values()), None)
    params = own_params(module)
    category, structure = classify(module, x, params)
    path = "/".join(str(p) for p in module.path)
    kind = type(module).__name__
    if category is None:
        recorder.block(path, kind, x, y)
        return y
    kernel = params.get("embedding") if category == EMBED else params.get("kernel")
    return recorder.layer(path, kind, category, x, y, kernel=kernel,
                          bias=params.get("bias"), structure=structure,
                          kernel_name="embedding" if category == EMBED else "kernel")


def initialize(model: nn.Module, key, inputs) -> tuple[dict, int, tuple]:
    """``(variables, calls, out_shapes)``: the variables ``model.init`` gives with ``key``
    (params) and a key folded from it (dropout), how many module calls the init made (at
    least the layers the audit's pass taps, so the probe vector is sized once) and the
    shapes of the output's float leaves.

    Run outside jit, because XLA compiles an init (a random draw per parameter) far
    slower than it runs; and lazily (``lazy_init``: the inputs' shapes only, no forward
    computation) unless a variable depends on the inputs' values."""
    calls, outputs = [0], []

    def count(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            calls[0] += 1
            if not context.module.path:
                outputs.append(y)  # the root's call: the model's output
        return y

    rngs = {"params": key, "dropout": jax.random.fold_in(key, 1)}
    with nn.intercept_methods(count):
        try:
            variables = model.lazy_init(rngs, *(jax.ShapeDtypeStruct(x.shape, x.dtype)
                                                for x in inputs))
        except Exception:  # an init that reads the inputs' values: run it on them
            calls[0], outputs[:] = 0, []
            variables = model.init(rngs, *inputs)
    return variables, calls[0], float_shapes(outputs[-1]) if outputs else ()


def audit_function(model: nn.Module):
    """``(run, holder)``: ``run(variables, key, probes, noise, response_key, *inputs)``
    runs one forward and backward pass of ``model`` with ``variables`` (from
    :func:`initialize`) under interception; it returns the kept tensors
    (``Recorder.arrays``), the kernels' gradients by call and the probes' gradients.
    ``holder["recorder"]`` is the last trace's recorder."""
    holder = {}

    def run(variables, key, probes, noise, response_key, *inputs):
        params = variables["params"]
        others = {k: v for k, v in variables.items() if k != "params"}
        recorder = Recorder(inputs, probes)
        holder["recorder"] = recorder

        def loss(params, probes):
            recorder.probes = probes
            with nn.intercept_methods(interceptor(recorder)):
                out, _ = model.apply({"params": params, **others}, *inputs,
                                     rngs={"dropout": jax.random.fold_in(key, 2)},
                                     mutable=list(others))
            return response(out, noise, response_key), collect(recorder)

        (_, arrays), (grads, probe_grads) = jax.value_and_grad(
            loss, argnums=(0, 1), has_aux=True)(params, probes)
        kernel_grads = {}
        for seen in recorder.layers:
            if seen.kernel_name:
                leaf = _lookup(grads, seen.path.split("/") + [seen.kernel_name])
                if leaf is not None:
                    kernel_grads[seen.call] = leaf
        return arrays, kernel_grads, probe_grads

    return run, holder


def _lookup(tree, keys):
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree
