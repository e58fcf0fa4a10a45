"""The exercise's answer key against the hand-written Flax recipe."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import initcourse
from initcourse import LecunDense, solve


def _recipe(seed, x, features):
    """What the exercise asks for, from Flax's parts rather than from a module: the kernel
    ``lecun_normal()`` draws with the key Linen derives for ``params/Dense_0/kernel`` (Flax's
    own key rule, ``LazyRng``), a zero bias, and the affine map."""
    from flax.core.scope import LazyRng

    key = LazyRng.create(jax.random.PRNGKey(int(seed)), "Dense_0", 1).as_jax_rng()
    kernel = nn.initializers.lecun_normal()(key, (x.shape[0], int(features)))
    return x @ kernel + jnp.zeros(int(features))


def test_solver_is_exported_at_top_level():
    assert initcourse.solve is solve
    assert initcourse.LecunDense is LecunDense


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_in=st.integers(1, 40),
    features=st.integers(1, 40),
    data_seed=st.integers(0, 1000),
)
def test_solve_equals_the_recipe(seed, n_in, features, data_seed):
    x = jax.random.normal(jax.random.PRNGKey(data_seed), (n_in,))
    got = solve(float(seed), x, float(features))
    want = _recipe(seed, x, features)
    assert got.shape == (features,)
    assert got.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_seed_matters_and_same_seed_repeats():
    x = jnp.linspace(-1.0, 1.0, 8)
    a, b, c = solve(1.0, x, 4), solve(1.0, x, 4), solve(2.0, x, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_kernel_is_lecun_normal_and_bias_zero():
    params = LecunDense(features=256).init(jax.random.PRNGKey(0), jnp.ones((1024,)))
    kernel = np.asarray(params["params"]["Dense_0"]["kernel"])
    bias = np.asarray(params["params"]["Dense_0"]["bias"])
    assert kernel.shape == (1024, 256)
    assert np.all(bias == 0)
    # 262144 draws: the std's relative standard error is about 1/sqrt(2 n) = 0.0014.
    assert kernel.std() == pytest.approx(1 / math.sqrt(1024), rel=0.01)
    assert np.abs(kernel).max() <= 2 / 0.87962566103423978 / math.sqrt(1024) + 1e-6


@pytest.mark.parametrize(
    "seed, message",
    [
        (3.5, "seed must be a whole number"),
        (float("nan"), "seed must be finite"),
        (float("inf"), "seed must be finite"),
        (True, "seed must be a number, not a bool"),
        ("3", "seed must be a real number"),
        (None, "seed must be a real number"),
        (jnp.array([1.0, 2.0]), "seed must be a real number"),
        (2.0**64, "seed must be <= 4294967295"),
        (2**32, "seed must be <= 4294967295"),
        (-1, "seed must be >= 0"),
    ],
)
def test_bad_seed(seed, message):
    with pytest.raises((TypeError, ValueError), match=message) as info:
        solve(seed, jnp.ones(3), 2)
    assert "received" in str(info.value)


@pytest.mark.parametrize(
    "features, message",
    [
        (0, "features must be >= 1"),
        (-2.0, "features must be >= 1"),
        (2.5, "features must be a whole number"),
        (float("nan"), "features must be finite"),
        (False, "features must be a number, not a bool"),
        ("4", "features must be a real number"),
    ],
)
def test_bad_features(features, message):
    with pytest.raises((TypeError, ValueError), match=message):
        solve(0.0, jnp.ones(3), features)


@pytest.mark.parametrize(
    "x, message",
    [
        (jnp.ones((2, 3)), "x must be 1-D, got shape \\(2, 3\\)"),
        (jnp.ones(()), "x must be 1-D"),
        (jnp.ones((0,)), "x must not be empty"),
        (np.array(["a", "b"]), "x must hold numbers"),
        (jnp.array([True, False]), "x must hold numbers"),
        (jnp.array([1.0, jnp.nan]), "x must hold only finite values"),
        (np.array([1.0, np.inf]), "x must hold only finite values"),
        ("abc", "x must be a 1-D numeric array"),
        (None, "x must be a 1-D numeric array"),
    ],
)
def test_bad_x(x, message):
    with pytest.raises((TypeError, ValueError), match=message):
        solve(0.0, x, 2)


def test_integral_values_are_accepted_in_every_numeric_form():
    x = jnp.arange(5.0)
    want = _recipe(7, x, 3)
    for seed in (7, 7.0, np.float32(7), np.int64(7), jnp.array(7.0)):
        for features in (3, 3.0, np.int32(3)):
            np.testing.assert_array_equal(solve(seed, x, features), want)


def test_numpy_and_list_inputs_give_the_same_answer():
    values = [0.5, -1.0, 2.0]
    want = solve(0.0, jnp.array(values), 4)
    np.testing.assert_array_equal(solve(0.0, np.array(values, dtype=np.float32), 4), want)
    np.testing.assert_array_equal(solve(0.0, values, 4), want)
