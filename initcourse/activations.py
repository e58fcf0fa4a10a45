"""The activations the course compares: one table, for JAX and for NumPy.

Each entry holds the function for JAX (what the networks use, ``flax.linen``'s own
definitions) and a float64 NumPy version of the function and its slope ``phi'`` for the
theory: ``float(FUNCTIONS["relu"].slope(np.array(2.0)))`` is 1.0. :data:`ACTIVATIONS` is
the tuple of their names (the face's ``initcourse.ACTIVATIONS``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

_GELU_C = math.sqrt(2.0 / math.pi)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _gelu(z):
    # Flax's nn.gelu is the tanh approximation (approximate=True by default).
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + 0.044715 * z**3)))


def _gelu_slope(z):
    t = np.tanh(_GELU_C * (z + 0.044715 * z**3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * _GELU_C * (1.0 + 3 * 0.044715 * z**2)


@dataclass(frozen=True)
class Activation:
    """One activation of the course: its ``name``, the elementwise ``jax`` function, the
    same function in ``numpy`` (float64 theory) and its derivative ``slope`` in NumPy."""

    name: str
    jax: Callable[[jax.Array], jax.Array]
    numpy: Callable[[np.ndarray], np.ndarray]
    slope: Callable[[np.ndarray], np.ndarray]


#: name -> Activation, in the course's order.
FUNCTIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", lambda z: z, lambda z: z, np.ones_like),
        Activation("relu", jax.nn.relu, lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
        Activation("tanh", jnp.tanh, np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
        Activation("sigmoid", jax.nn.sigmoid, _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
        Activation("gelu", nn.gelu, _gelu, _gelu_slope),
        # phi(0) = ln 2: an output offset that does not shrink with the input (notebook 02).
        # Its slope is the sigmoid, written with tanh: no overflow for very negative z.
        Activation("softplus", jax.nn.softplus, lambda z: np.logaddexp(0.0, z),
                   lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))),
    )
}

#: The activations' names, in the course's order: what an ``activation`` argument accepts.
ACTIVATIONS: tuple[str, ...] = tuple(FUNCTIONS)
