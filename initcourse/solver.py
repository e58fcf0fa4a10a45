"""The answer keys of the course's two exercises.

- Exercise 1, a Dense layer with explicit initializers: :class:`LecunDense` and :func:`solve`
  (Flax Linen), :func:`solve_nnx` (Flax NNX).
- Exercise 2, a custom initializer: :func:`lecun_normal_init`, ``lecun_normal()`` rebuilt
  from ``jax.random`` alone.

Nothing else in the package imports this module when ``initcourse`` is imported: the checks
load it when they run, so that grading can replace it by a stub.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from initcourse.arguments import initializer_arguments, solve_arguments


class LecunDense(nn.Module):
    """A Dense layer with a ``lecun_normal()`` kernel and a zero bias.

    Attributes:
        features: number of outputs.
    """

    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(
            self.features,
            kernel_init=nn.initializers.lecun_normal(),
            bias_init=nn.initializers.zeros,
        )(x)


def solve(seed, x, features) -> jax.Array:
    """Initialise ``LecunDense(int(features))`` from ``PRNGKey(int(seed))`` and apply it to ``x``.

    Arguments:
        seed: a whole number, usually passed as a float (``42.0``).
        x: 1-D numeric array, shape ``(fan_in,)``.
        features: a whole number >= 1, possibly passed as a float.

    Returns:
        a 1-D float32 array of shape ``(features,)``.
    """
    seed, x, features = solve_arguments(seed, x, features)  # clear errors for bad arguments
    model = LecunDense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x)
    return model.apply(params, x)


def solve_nnx(seed, x, features) -> jax.Array:
    """The same layer written with Flax NNX: ``nnx.Linear`` drawn from ``nnx.Rngs(int(seed))``.

    Same arguments and result as :func:`solve`; the numbers differ from Linen's, because NNX
    draws its keys from a counter rather than from the module's path.
    """
    seed, x, features = solve_arguments(seed, x, features)  # clear errors for bad arguments
    layer = nnx.Linear(
        x.shape[0],
        features,
        kernel_init=nnx.initializers.lecun_normal(),
        bias_init=nnx.initializers.zeros,
        rngs=nnx.Rngs(seed),
    )
    return layer(x)


def lecun_normal_init(key, shape, dtype=jnp.float32) -> jax.Array:
    """``nn.initializers.lecun_normal()`` from ``jax.random`` alone, equal bit for bit.

    A standard normal cut at -2 and 2 has std 0.87962566103423978: dividing by it makes the
    variance ``1 / fan_in``, where ``fan_in`` is every axis but the last (a conv kernel's
    receptive field times its input channels).

    Arguments:
        key: a JAX key (``jax.random.key(n)`` or ``jax.random.PRNGKey(n)``).
        shape: the kernel's shape, at least 2-D, e.g. ``(fan_in, features)`` or
            ``(3, 3, in_channels, out_channels)``.
        dtype: a float dtype.

    Returns:
        an array of ``shape`` and ``dtype``.
    """
    key, shape, dtype = initializer_arguments(key, shape, dtype)  # clear errors
    fan_in = math.prod(shape[:-1])
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(0.87962566103423978, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std
