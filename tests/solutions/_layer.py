"""The pieces the corpus's solutions share: a Dense layer whose parts can be swapped."""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import linen as nn


class Layer(nn.Module):
    """One ``nn.Dense`` inside an ``@nn.compact`` module, like the reference, with its
    initializers (and an optional activation) as attributes."""

    features: int
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros
    activation: Callable | None = None

    @nn.compact
    def __call__(self, x):
        y = nn.Dense(self.features, kernel_init=self.kernel_init, bias_init=self.bias_init)(x)
        return y if self.activation is None else self.activation(y)


def init_apply(model: nn.Module, seed, x):
    """``model.apply(model.init(PRNGKey(int(seed)), x), x)``: the reference's recipe."""
    params = model.init(jax.random.PRNGKey(int(seed)), x)
    return model.apply(params, x)
