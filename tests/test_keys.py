"""initcourse.keys against real Flax: the keys it rebuilds are the ones Flax uses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from flax import nnx

from initcourse.keys import linen_param_key, nnx_param_key, param_paths, same_params

init = nn.initializers
X = jnp.linspace(-1.0, 1.0, 5)


class Inline(nn.Module):
    features: int = 3

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features, bias_init=init.normal(1.0))(x)


class Outer(nn.Module):
    @nn.compact
    def __call__(self, x):
        return Inline(name="block")(nn.Dense(4, name="first")(x))


def _equal(a, b) -> bool:
    return bool(jnp.array_equal(a, b))


@pytest.mark.parametrize("make_key", [jax.random.key, jax.random.PRNGKey], ids=["typed", "raw"])
@pytest.mark.parametrize("seed", [0, 42, 2**31 + 5])
def test_linen_kernel_and_bias_keys_are_rebuilt(make_key, seed):
    key = make_key(seed)
    bare = nn.Dense(3, bias_init=init.normal(1.0)).init(key, X)["params"]
    assert _equal(bare["kernel"], init.lecun_normal()(linen_param_key(key), (5, 3)))
    assert _equal(bare["bias"], init.normal(1.0)(linen_param_key(key, count=2), (3,)))
    inline = Inline().init(key, X)["params"]["Dense_0"]
    assert _equal(inline["kernel"], init.lecun_normal()(linen_param_key(key, "Dense_0"), (5, 3)))
    assert _equal(inline["bias"], init.normal(1.0)(linen_param_key(key, "Dense_0", count=2), (3,)))


def test_linen_nested_paths():
    key = jax.random.key(7)
    params = Outer().init(key, X)["params"]
    assert _equal(params["first"]["kernel"],
                  init.lecun_normal()(linen_param_key(key, "first"), (5, 4)))
    assert _equal(params["block"]["Dense_0"]["kernel"],
                  init.lecun_normal()(linen_param_key(key, "block", "Dense_0"), (4, 3)))
    # a wrong path gives another key, hence other numbers
    assert not _equal(params["block"]["Dense_0"]["kernel"],
                      init.lecun_normal()(linen_param_key(key, "Dense_0"), (4, 3)))


def test_linen_key_keeps_the_kind_of_key():
    assert linen_param_key(jax.random.PRNGKey(0), "a").dtype == jnp.uint32
    assert jnp.issubdtype(linen_param_key(jax.random.key(0), "a").dtype, jax.dtypes.prng_key)


@pytest.mark.parametrize("bad, error, words", [
    (42, TypeError, "key must be a JAX key"),
    (jnp.zeros((3,), jnp.uint32), TypeError, "key must be a JAX key"),
    (jax.random.split(jax.random.key(0)), ValueError, "single key"),
])
def test_linen_key_rejects_non_keys(bad, error, words):
    with pytest.raises(error, match=words):
        linen_param_key(bad, "Dense_0")


def test_linen_key_rejects_bad_path_and_count():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="position 1"):
        linen_param_key(key, "Dense_0", 3)
    with pytest.raises(ValueError, match="count must be >= 1"):
        linen_param_key(key, "Dense_0", count=0)
    with pytest.raises(ValueError, match="whole number"):
        linen_param_key(key, count=1.5)


@pytest.mark.parametrize("seed", [0, 42, 42.0])
def test_nnx_keys_count_up_from_zero(seed):
    rngs = nnx.Rngs(int(seed))
    first = nnx.Linear(5, 4, bias_init=init.normal(1.0), rngs=rngs)
    second = nnx.Linear(4, 3, rngs=rngs)
    assert _equal(first.kernel[...], init.lecun_normal()(nnx_param_key(seed, 0), (5, 4)))
    assert _equal(first.bias[...], init.normal(1.0)(nnx_param_key(seed, 1), (4,)))
    assert _equal(second.kernel[...], init.lecun_normal()(nnx_param_key(seed, 2), (4, 3)))


def test_nnx_key_accepts_keys_and_rejects_bad_seeds():
    same = [nnx_param_key(s, 1) for s in (5, jax.random.key(5), jax.random.PRNGKey(5))]
    data = [np.asarray(jax.random.key_data(k)) for k in same]
    assert all(np.array_equal(data[0], d) for d in data[1:])
    with pytest.raises(ValueError, match="seed must be a whole number"):
        nnx_param_key(4.5, 0)
    with pytest.raises(ValueError, match="index must be >= 0"):
        nnx_param_key(0, -1)
    with pytest.raises(TypeError, match="seed must be a number, not a bool"):
        nnx_param_key(True, 0)


def test_param_paths_of_linen_and_nnx_trees():
    linen = param_paths(Inline().init(jax.random.key(0), X))
    assert {k: v.shape for k, v in linen.items()} == {
        "params/Dense_0/bias": (3,), "params/Dense_0/kernel": (5, 3)}
    state = nnx.state(nnx.Linear(5, 3, rngs=nnx.Rngs(0)), nnx.Param)
    assert {k: v.shape for k, v in param_paths(state).items()} == {
        "bias": (3,), "kernel": (5, 3)}


def test_same_params_compares_paths_shapes_dtypes_and_bits():
    a = {"params": {"kernel": jnp.ones((2, 2)), "bias": jnp.zeros(2)}}
    assert same_params(a, {"params": {"bias": jnp.zeros(2), "kernel": jnp.ones((2, 2))}})
    assert not same_params(a, {"params": {"kernel": jnp.ones((2, 2))}})
    assert not same_params(a, {"params": {"kernel": jnp.ones((2, 2)), "bias": -jnp.zeros(2)}})
    assert not same_params(a, {"params": {"kernel": jnp.ones((2, 2), jnp.bfloat16),
                                          "bias": jnp.zeros(2)}})
    assert not same_params(a, {"params": {"kernel": jnp.ones((1, 4)), "bias": jnp.zeros(2)}})
    assert not same_params(a, {"other": {"kernel": jnp.ones((2, 2)), "bias": jnp.zeros(2)}})
    nan = {"w": jnp.array([jnp.nan])}
    assert same_params(nan, {"w": jnp.array([jnp.nan])})
