"""gradient_stats: per-layer weight gradients against a hand-written Flax network, and the
laws notebook 02 teaches with them. Three shapes in all: one compilation each."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from initcourse import gradient_stats, layer_stats
from initcourse.activations import FUNCTIONS
from initcourse.initializers import get_initializer


class _MLP(nn.Module):
    depth: int
    width: int
    activation: str

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = FUNCTIONS[self.activation].jax(nn.Dense(self.width, use_bias=False)(x))
        return x


def _reference(name, activation, depth, width, batch, seed, stddev=None):
    """std of dL/dW_l per layer with real nn.Dense layers and jax.grad over their params."""
    init = get_initializer(name, stddev=stddev)
    k_w, k_x, k_r = jax.random.split(jax.random.PRNGKey(seed), 3)
    keys = jax.random.split(k_w, depth)
    x = jax.random.normal(k_x, (batch, width))
    r = jax.random.normal(k_r, (batch, width))
    model = _MLP(depth, width, activation)
    params = {"params": {f"Dense_{i}": {"kernel": init(keys[i], (width, width), jnp.float32)}
                         for i in range(depth)}}
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, x) * r))(params)["params"]
    return np.array([np.std(np.asarray(grads[f"Dense_{i}"]["kernel"], np.float64))
                     for i in range(depth)])


@pytest.mark.parametrize("name, activation, stddev", [
    ("he_normal", "relu", None), ("lecun_normal", "tanh", None),
    ("glorot_uniform", "sigmoid", None), ("normal", "gelu", 0.2),
])
def test_weight_gradients_match_real_flax_layers(name, activation, stddev):
    stats = gradient_stats(name, activation, 6, 32, batch=16, seed=3, stddev=stddev)
    reference = _reference(name, activation, 6, 32, 16, 3, stddev)
    np.testing.assert_allclose(stats.weight_std, reference, rtol=1e-4)


def test_activation_gradients_and_forward_are_layer_stats():
    # the same network, inputs and loss as layer_stats: its backward and forward std
    grads = gradient_stats("lecun_normal", "tanh", 6, 32, batch=16, seed=1)
    stats = layer_stats("lecun_normal", "tanh", 6, 32, batch=16, seed=1)
    np.testing.assert_allclose(grads.activation_std, stats.backward_std, rtol=1e-4)
    np.testing.assert_allclose(grads.forward_std, stats.forward_std, rtol=1e-4)
    np.testing.assert_allclose(grads.input_std[1:], grads.forward_std[:-1], rtol=1e-6)


def test_vanishing_activation_gradients_leave_weight_gradients_level():
    # Glorot & Bengio 2010, eq. 14: the input grows down the stack as fast as delta shrinks
    g = gradient_stats("normal", "relu", 20, 64, batch=16, seed=0, stddev=0.01)
    assert g.activation_std[0] / g.activation_std[-1] < 1e-15
    assert g.weight_std.max() / g.weight_std.min() < 2


def test_sigmoid_first_layers_learn_slowest():
    g = gradient_stats("glorot_normal", "sigmoid", 20, 64, batch=16, seed=0)
    assert g.weight_std[0] / g.weight_std[-1] < 1e-4
    assert np.all(np.diff(np.log(g.weight_std)) > 0)


def test_tiny_gradients_are_measured_not_flushed():
    # squares of 1e-24 would underflow float32: the std is taken on rescaled values
    g = gradient_stats("normal", "relu", 20, 64, batch=16, seed=0, stddev=0.01)
    assert np.all(g.weight_std > 0) and g.weight_std.max() < 1e-20


def test_a_flax_initializer_is_accepted_and_named():
    g = gradient_stats(nn.initializers.orthogonal(), "linear", 6, 32, batch=16)
    assert g.initializer.startswith("orthogonal")
    assert g.weight_std.shape == (6,) and g.depth == 6 and g.batch == 16


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(activation="swish"), ValueError, "activation must be one of .* received 'swish'"),
    (dict(depth=0), ValueError, "depth must be >= 1; received 0"),
    (dict(width=2.5), ValueError, "width must be a whole number"),
    (dict(batch=1), ValueError, "batch must be >= 2"),
    (dict(seed="0"), TypeError, "seed must be a real number"),
    (dict(initializer="lecun_normal", stddev=0.1), ValueError, "stddev only applies"),
    (dict(initializer=nn.initializers.lecun_normal), TypeError, "factory"),
    (dict(initializer=nn.initializers.zeros, stddev=0.1), ValueError, "stddev only applies"),
    (dict(depth=1000, width=1024), ValueError, "depth=1000, width=1024, batch=4 would need"),
])
def test_bad_arguments_get_clear_errors(kwargs, error, match):
    args = dict(initializer="he_normal", activation="relu", depth=2, width=8, batch=4)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        gradient_stats(**args)
