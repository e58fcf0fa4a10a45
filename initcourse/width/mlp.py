"""The network of the width chapter and its training step, written once for
:func:`~initcourse.width.coord_check` and :func:`~initcourse.width.lr_sweep`.

An MLP on the course's digits: 64 pixels, ``depth`` hidden layers of ``width`` units, 10
classes. Its params::

    {"input":  {"kernel": (64, width),            "bias": (width,)},
     "hidden": {"kernel": (depth-1, width, width), "bias": (depth-1, width)},
     "output": {"kernel": (width, 10),             "bias": (10,)}}

Each layer computes ``h = multiplier * (x @ kernel) + bias``; its kernel is drawn with
``lecun_normal()`` (the course's variance ``1/fan_in``) times the parametrization's
factor, its bias starts at zero. The three knobs of every layer (std factor, multiplier,
learning-rate factor) are *inputs* of the compiled programs, not constants in them: SP,
NTK and muP, and every learning rate and seed, share one compilation per shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from initcourse.activations import FUNCTIONS
from initcourse.training.data import CLASSES, FEATURES
from initcourse.width.parametrizations import KINDS, scales

#: The width at which every parametrization is the standard one (Tensor Programs V's base).
BASE_WIDTH = 64
#: XLA's CPU backend at optimization level 1: these small programs compile in about 1 s
#: instead of 4 to 7 s at the default level, and run as fast (measured here on the sweep at
#: widths 32 and 512: 1.3 and 1.1 s to compile, against 7.4 and 3.9 s).
COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def knob_arrays(parametrization: str, optimizer: str, width: int, base_width: int) -> dict:
    """``{kind: float32 array [std factor, multiplier, lr factor]}``, the program's input."""
    return {kind: jnp.asarray(v, jnp.float32)
            for kind, v in scales(parametrization, optimizer, width, base_width).items()}


def init(key, knobs: dict, *, depth: int, width: int) -> dict:
    """The initial params (layout above): layer ``l`` draws from ``fold_in(key, l)``,
    hidden layers ``0 .. depth-1``, the output layer ``depth``."""
    lecun = nn.initializers.lecun_normal()

    def draw(layer, shape, kind):
        return lecun(jax.random.fold_in(key, layer), shape, jnp.float32) * knobs[kind][0]

    hidden = [draw(layer, (width, width), "hidden") for layer in range(1, depth)]
    return {
        "input": {"kernel": draw(0, (FEATURES, width), "input"), "bias": jnp.zeros(width)},
        "hidden": {"kernel": jnp.stack(hidden) if hidden else jnp.zeros((0, width, width)),
                   "bias": jnp.zeros((depth - 1, width))},
        "output": {"kernel": draw(depth, (width, CLASSES), "output"), "bias": jnp.zeros(CLASSES)},
    }


def forward(params, x, knobs: dict, activation: str):
    """``(logits (n, 10), pre-activations [(n, width)] * depth + [logits])``."""
    act = FUNCTIONS[activation].jax
    h = knobs["input"][1] * (x @ params["input"]["kernel"]) + params["input"]["bias"]

    def layer(h, kernel_bias):
        kernel, bias = kernel_bias
        nxt = knobs["hidden"][1] * (act(h) @ kernel) + bias
        return nxt, nxt

    last, hidden = jax.lax.scan(layer, h, (params["hidden"]["kernel"], params["hidden"]["bias"]))
    logits = knobs["output"][1] * (act(last) @ params["output"]["kernel"]) + params["output"]["bias"]
    return logits, [h, *hidden, logits]


def loss(params, x, y, knobs: dict, activation: str):
    """Mean softmax cross-entropy of the batch."""
    logits, _ = forward(params, x, knobs, activation)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def lr_factors(params, knobs: dict) -> dict:
    """The learning-rate factor of every leaf: a kernel its kind's; the input and hidden
    biases the input kind's (Tensor Programs V, Table 3: "input weights & all biases", whose
    SGD rate is their fan_out, the width); the output bias 1 (its fan_out is the 10 classes,
    which no width changes; ``mup``'s ``MuSGD`` leaves such parameters unscaled too)."""
    bias = knobs["input"][2]
    factors = {kind: {"kernel": knobs[kind][2], "bias": bias} for kind in KINDS}
    factors["output"]["bias"] = jnp.ones_like(bias)
    return factors


def optimizer(name: str):
    """The direction of an update: Adam's (``optax.scale_by_adam``) or the gradient."""
    return optax.scale_by_adam() if name == "adam" else optax.identity()


def step(params, opt_state, x, y, knobs, lr, *, opt: str, activation: str):
    """One training step at rate ``lr`` times each layer's factor: ``(params, state, loss)``."""
    value, grads = jax.value_and_grad(loss)(params, x, y, knobs, activation)
    direction, opt_state = optimizer(opt).update(grads, opt_state, params)
    factors = lr_factors(params, knobs)
    params = jax.tree.map(lambda p, d, f: p - lr * f * d, params, direction, factors)
    return params, opt_state, value


def weights(depth: int, width: int) -> int:
    """The number of params of the network."""
    return FEATURES * width + (depth - 1) * width * width + width * CLASSES + depth * width + CLASSES


def flops_per_step(depth: int, width: int, batch: int) -> float:
    """About how many floating-point operations one training step costs (forward and
    backward: 6 per weight and example)."""
    return 6.0 * batch * weights(depth, width)
