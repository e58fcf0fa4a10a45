"""NNX: the layers met in a forward pass, through the module graph.

NNX has no method interception, so the audit walks the graph of a throwaway copy of the
model (``nnx.merge`` inside the traced function) and gives each module a subclass whose
``__call__`` runs the original one and reports to the
:class:`~initcourse.audit.record.Recorder`. The learner's model is never touched.
"""

from __future__ import annotations

import contextlib
import contextvars

import jax
from flax import nnx

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
    join,
    product,
    response,
)

_NORMS = (nnx.LayerNorm, nnx.BatchNorm, nnx.RMSNorm, nnx.GroupNorm, nnx.InstanceNorm)
# The recorder of the trace under way and the module paths, read by the subclasses.
_ACTIVE = contextvars.ContextVar("initcourse_audit_nnx", default=None)
_SUBCLASSES: dict[type, type] = {}


def own_params(module: nnx.Module) -> dict:
    """The module's own parameters (not its children's), as arrays."""
    return {name: value[...] for name, value in vars(module).items()
            if isinstance(value, nnx.Param)}


def classify(module: nnx.Module, x, params: dict):
    """``(category, structure)`` of an NNX module called on ``x`` (None: a container)."""
    kernel = params.get("kernel")
    if isinstance(module, nnx.MultiHeadAttention):
        return ATTENTION, None
    if isinstance(module, _NORMS):
        return NORM, None
    if isinstance(module, nnx.Embed):
        return EMBED, Structure("embed", tuple(params["embedding"].shape))
    if kernel is None:
        return (UNKNOWN, None) if params else (None, None)
    shape = tuple(kernel.shape)
    if isinstance(module, nnx.Linear):
        return LINEAR, Structure("dense", shape)
    if isinstance(module, nnx.LinearGeneral):
        return LINEAR, Structure("general", shape, n_batch=len(module.batch_axis),
                                 n_in=len(module.in_features))
    if isinstance(module, nnx.Einsum):
        return LINEAR, Structure("einsum", shape, equation=module.einsum_str)
    if isinstance(module, nnx.Conv):
        return LINEAR, Structure("conv", shape, in_features=x.shape[-1],
                                 dilation=product(module.input_dilation, len(shape) - 2))
    if isinstance(module, nnx.ConvTranspose):
        return LINEAR, Structure("conv_transpose", shape, in_features=x.shape[-1],
                                 dilation=product(module.strides, len(shape) - 2))
    return UNKNOWN, None


def _observe(module, args, kwargs, y):
    recorder, paths = _ACTIVE.get()
    path = paths.get(id(module), "")
    x = args[0] if args else next(iter(kwargs.values()), None)
    params = own_params(module)
    category, structure = classify(module, x, params)
    kind = type(module).__mro__[1].__name__  # the class before the audit's subclass
    if category is None:
        recorder.block(path, kind, x, y)
        return y
    name = "embedding" if category == EMBED else "kernel"
    return recorder.layer(path, kind, category, x, y, kernel=params.get(name),
                          bias=params.get("bias"), structure=structure,
                          kernel_name=name if name in params else "")


def _audited(cls: type) -> type:
    """A subclass of ``cls`` whose ``__call__`` reports each call (one per class, kept:
    NNX registers every Module subclass)."""
    if cls not in _SUBCLASSES:
        def __call__(self, *args, **kwargs):
            y = cls.__call__(self, *args, **kwargs)
            if _ACTIVE.get() is None:
                return y
            try:
                return _observe(self, args, kwargs, y)
            except Exception as exc:
                raise AuditBug(f"initcourse.audit failed on {type(self).__name__}") from exc

        _SUBCLASSES[cls] = type(cls)(f"Audited{cls.__name__}", (cls,),
                                     {"__call__": __call__, "__module__": __name__})
    return _SUBCLASSES[cls]


def _callable(cls: type) -> bool:
    return any("__call__" in vars(k) for k in cls.__mro__ if k is not object)


@contextlib.contextmanager
def recording(model: nnx.Module, recorder: Recorder):
    """Within the block, every submodule of ``model`` (a throwaway copy) reports its calls."""
    nodes = [(path, node) for path, node in nnx.iter_graph(model)
             if isinstance(node, nnx.Module) and _callable(type(node))]
    paths = {id(node): "/".join(str(p) for p in path) for path, node in nodes}
    originals = [(node, type(node)) for _, node in nodes]
    token = _ACTIVE.set((recorder, paths))
    for node, cls in originals:
        object.__setattr__(node, "__class__", _audited(cls))
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        for node, cls in originals:
            object.__setattr__(node, "__class__", cls)


def audit_function(model: nnx.Module):
    """``(run, holder, params, rest, calls)``: ``run(params, rest, probes, noise,
    response_key, *inputs)`` runs one forward and backward pass of a copy of ``model``
    and returns the kept tensors (``Recorder.arrays``), the kernels' gradients by call
    and the probes' gradients; ``holder["recorder"]`` is the last trace's recorder.
    ``calls``: the callable modules in the graph (the layers the pass taps, unless one
    is called twice)."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    calls = sum(isinstance(node, nnx.Module) and _callable(type(node))
                for _, node in nnx.iter_graph(model))
    holder = {}

    def run(params, rest, probes, noise, response_key, *inputs):
        recorder = Recorder(inputs, probes)
        holder["recorder"] = recorder

        def loss(params, probes):
            recorder.probes = probes
            copy = nnx.merge(graphdef, params, rest)
            with recording(copy, recorder):
                out = copy(*inputs)
            return response(out, noise, response_key), collect(recorder)

        (_, arrays), (grads, probe_grads) = jax.value_and_grad(
            loss, argnums=(0, 1), has_aux=True)(params, probes)
        flat = {"/".join(str(p) for p in path): v[...] for path, v in nnx.to_flat_state(grads)}
        kernel_grads = {}
        for seen in recorder.layers:
            leaf = flat.get(join(seen.path, seen.kernel_name)) if seen.kernel_name else None
            if leaf is not None:
                kernel_grads[seen.call] = leaf
        return arrays, kernel_grads, probe_grads

    return run, holder, params, rest, calls


def output_shapes(model: nnx.Module, inputs) -> tuple:
    """The shapes of the float leaves of ``model(*inputs)``, traced abstractly (a copy:
    the model's state is not changed)."""
    graphdef, state = nnx.split(model)
    return float_shapes(jax.eval_shape(lambda s, *xs: nnx.merge(graphdef, s)(*xs),
                                       state, *inputs))
