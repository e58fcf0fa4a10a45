"""The answer key of the course's exercise: a Dense layer with explicit initializers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from initcourse import _validate


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
        x: 1-D numeric array, shape ``(n_in,)``.
        features: a whole number >= 1, possibly passed as a float.

    Returns:
        a 1-D float32 array of shape ``(features,)``.
    """
    seed = _validate.seed(seed)
    features = _validate.integral("features", features, minimum=1)
    _validate.vector("x", x)
    x = jnp.asarray(x)
    model = LecunDense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x)
    return model.apply(params, x)
