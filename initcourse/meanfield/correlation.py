"""Two inputs through a real Flax stack: their length and correlation, layer by layer.

The experiment that :mod:`initcourse.meanfield.maps` predicts. Each layer is a real
``flax.linen.Dense`` whose kernel is ``normal(sqrt(sigma_w2 / width))`` and bias
``normal(sqrt(sigma_b2))`` (Flax's ``nn.initializers.normal(stddev)``), followed by the
activation. Pairs of inputs with a chosen correlation ``c0`` and mean square ``q0`` go
through it; at every layer we measure the pre-activations' mean square ``q_l`` and the
correlation ``c_l`` of each pair.

A :class:`PairStack` draws the layers once, at unit scale, and owns them: ``sigma_w2``,
``sigma_b2``, the activation, the depth and ``q0`` are runtime inputs (the kernels are
scaled, the depth a loop bound), so moving any of them never recompiles. Dropping the
object frees its layers.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate
from initcourse.activations import ACTIVATIONS, FUNCTIONS
from initcourse.meanfield.maps import MAX_VARIANCE, LayerCorrelations

__all__ = ["PAIR_CAPACITY", "PairStack", "pair_inputs"]

#: The deepest stack a :class:`PairStack` holds by default.
PAIR_CAPACITY = 100



def pair_inputs(key, width: int, c0: float, pairs: int) -> jax.Array:
    """``pairs`` pairs of inputs, shape ``(pairs, 2, width)``, mean square 1, correlation ``c0``.

    Exactly: ``|x|^2 / width = 1`` for each and ``x_a . x_b / |x_a||x_b| = c0`` for each pair.
    """
    a, b = jax.random.normal(key, (2, pairs, width), jnp.float32)
    a = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
    b = b - jnp.sum(a * b, axis=-1, keepdims=True) * a
    b = b / jnp.linalg.norm(b, axis=-1, keepdims=True)
    second = c0 * a + math.sqrt(max(0.0, 1.0 - c0 * c0)) * b
    return jnp.stack([a, second], axis=1) * math.sqrt(width)


def _dense(width: int) -> nn.Dense:
    init = nn.initializers.normal(1.0)
    return nn.Dense(width, kernel_init=init, bias_init=init)


@functools.partial(jax.jit, static_argnames=("width", "depth"))
def _draw(key, *, width: int, depth: int):
    keys = jax.random.split(key, depth)
    dense = _dense(width)
    return jax.vmap(lambda k: dense.init(k, jnp.zeros((1, width), jnp.float32))["params"])(keys)


@jax.jit
def _measure(params, x, weight_std, bias_std, act, depth):
    """Per layer: the mean square of the pre-activations and each pair's correlation.

    Shapes: ``params`` kernels ``(max_depth, width, width)``, biases ``(max_depth, width)``;
    ``x`` ``(pairs, 2, width)``. The loop runs ``depth`` times (NaN above it).
    """
    width = x.shape[-1]
    dense = _dense(width)
    branches = [FUNCTIONS[name].jax for name in ACTIVATIONS]
    nan = jnp.full(params["kernel"].shape[:1], jnp.nan, jnp.float32)

    def layer(index, state):
        h, q, c = state
        unit = jax.tree.map(lambda a: a[index], params)
        scaled = {"kernel": unit["kernel"] * weight_std, "bias": unit["bias"] * bias_std}
        z = dense.apply({"params": scaled}, h)
        # Scaled by the largest entry first: a vanishing signal (1e-30, say) would
        # underflow when squared and read as 0/0.
        top = jnp.max(jnp.abs(z), axis=-1, keepdims=True)
        unit = z / jnp.where(top > 0, top, 1.0)
        norms = jnp.sqrt(jnp.sum(unit * unit, axis=-1))
        corr = jnp.sum(unit[:, 0] * unit[:, 1], axis=-1) / (norms[:, 0] * norms[:, 1])
        return (jax.lax.switch(act, branches, z), q.at[index].set(jnp.mean(z * z)),
                c.at[index].set(jnp.mean(corr)))

    _, q, c = jax.lax.fori_loop(0, depth, layer, (x, nan, nan))
    return q, c


class PairStack:
    """A stack of ``max_depth`` real ``nn.Dense`` layers of ``width`` units, drawn once.

    Arguments:
        width: units per layer (and input size), 2 to 2048.
        seed: draws the layers (``jax.random.PRNGKey(seed)``, one key per layer) and the
            input pairs.
        pairs: how many input pairs are averaged, 1 to 256.
        max_depth: layers held, 1 to 1000; :meth:`measure` uses the first ``depth``.

    Memory: ``max_depth * width * (width + 1)`` float32 numbers (26 MB at 100 x 256).
    """

    def __init__(self, width=256, *, seed=0, pairs=16, max_depth=PAIR_CAPACITY):
        self.width = _validate.integral("width", width, minimum=2, maximum=2048)
        self.seed = _validate.seed(seed)
        self.pairs = _validate.integral("pairs", pairs, minimum=1, maximum=256)
        self.max_depth = _validate.integral("max_depth", max_depth, minimum=1, maximum=1000)
        if self.max_depth * self.width * self.width > 2**27:
            raise ValueError(
                f"max_depth * width**2 must be at most {2**27} (512 MiB of float32 kernels); "
                f"received max_depth={self.max_depth}, width={self.width}"
            )
        k_layers, self._k_inputs = jax.random.split(jax.random.PRNGKey(self.seed))
        self.params = _draw(k_layers, width=self.width, depth=self.max_depth)
        self._inputs: dict[float, jax.Array] = {}

    def inputs(self, c0: float) -> jax.Array:
        """The input pairs for correlation ``c0``, shape ``(pairs, 2, width)``, mean square 1."""
        if c0 not in self._inputs:
            self._inputs = {c0: pair_inputs(self._k_inputs, self.width, c0, self.pairs)}
        return self._inputs[c0]

    def measure(self, activation: str, sigma_w2, sigma_b2, depth, *, c0=0.5, q0=1.0):
        """Push the pairs through the first ``depth`` layers; measure ``q_l`` and ``c_l``.

        Arguments:
            activation: a name of ``initcourse.ACTIVATIONS``.
            sigma_w2, sigma_b2: the kernel's variance times ``width``, the bias variance.
            depth: 1 to ``max_depth``.
            c0: the correlation of each input pair, in [-1, 1].
            q0: the inputs' mean square ``|x|^2 / width``, > 0.

        Returns a :class:`~initcourse.meanfield.maps.LayerCorrelations` with ``q`` and ``c`` of
        shape ``(depth,)`` (``c`` averaged over the pairs), the measured counterpart of
        :func:`initcourse.meanfield.maps.correlation_by_layer`.
        """
        activation = _validate.choice("activation", activation, ACTIVATIONS)
        sigma_w2 = _validate.positive_real("sigma_w2", sigma_w2, maximum=MAX_VARIANCE)
        sigma_b2 = _validate.positive_real("sigma_b2", sigma_b2, allow_zero=True, maximum=MAX_VARIANCE)
        depth = _validate.integral("depth", depth, minimum=1, maximum=self.max_depth)
        c0 = _validate.real("c0", c0, minimum=-1.0, maximum=1.0)
        q0 = _validate.positive_real("q0", q0, maximum=MAX_VARIANCE)
        x = self.inputs(c0) * jnp.float32(math.sqrt(q0))
        q, c = _measure(
            self.params, x, jnp.float32(math.sqrt(sigma_w2 / self.width)),
            jnp.float32(math.sqrt(sigma_b2)), jnp.int32(ACTIVATIONS.index(activation)),
            jnp.int32(depth),
        )
        return LayerCorrelations(q=np.asarray(q, np.float64)[:depth],
                                 c=np.asarray(c, np.float64)[:depth])
