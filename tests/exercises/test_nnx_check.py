"""The NNX variant of exercise 1: the answer key against an independently written NNX recipe,
and `check(solve, api="nnx")` with the cross-API mistake in both directions."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from solutions import load, timeout

import initcourse

CORRECT, WRONG = load("correct"), load("wrong")


def nnx_recipe(seed, x, features):
    """The NNX layer as Flax's documentation writes it, not as the package does."""
    layer = nnx.Linear(
        in_features=x.shape[-1],
        out_features=int(features),
        kernel_init=nnx.initializers.variance_scaling(1.0, "fan_in", "truncated_normal"),
        bias_init=nnx.initializers.constant(0.0),
        rngs=nnx.Rngs(params=int(seed)),
    )
    return layer(x)


def nnx_default_stream(seed, x, features):
    """`nnx.Rngs(default=seed)` and nnx.Linear's default initializers: the same numbers."""
    return nnx.Linear(x.shape[-1], int(features), rngs=nnx.Rngs(default=int(seed)))(x)


def nnx_shifted_seed(seed, x, features):
    return nnx_recipe(int(seed) + 1, x, features)


def nnx_glorot(seed, x, features):
    layer = nnx.Linear(x.shape[-1], int(features), rngs=nnx.Rngs(int(seed)),
                       kernel_init=nnx.initializers.glorot_normal())
    return layer(x)


def nnx_fixed_seed(seed, x, features):
    return nnx_recipe(0, x, features)


def nnx_extra_draw(seed, x, features):
    """Draws a key from the Rngs for something else first."""
    rngs = nnx.Rngs(int(seed))
    rngs.params()
    return nnx.Linear(x.shape[-1], int(features), rngs=rngs)(x)


def _check(solve, **kwargs):
    return initcourse.check(solve, timeout=timeout(solve), **kwargs)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 30), features=st.integers(1, 30),
       data_seed=st.integers(0, 1000))
def test_solve_nnx_equals_the_recipe(seed, n_in, features, data_seed):
    x = jax.random.normal(jax.random.PRNGKey(data_seed), (n_in,))
    got = initcourse.solve_nnx(float(seed), x, float(features))
    assert got.shape == (features,) and got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(nnx_recipe(seed, x, features)))


def test_nnx_and_linen_draw_different_numbers_from_one_seed():
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    assert not np.allclose(initcourse.solve_nnx(3, x, 4), initcourse.solve(3, x, 4))


@pytest.mark.parametrize("solve", [nnx_recipe, nnx_default_stream])
def test_nnx_solutions_pass_the_nnx_check(solve):
    report = _check(solve, api="nnx")
    assert report.passed, report.message
    assert report.exercise == "solve (nnx)" and report.to_dict()["exercise"] == "solve (nnx)"


def test_an_nnx_solution_checked_as_linen_is_told_it_is_the_other_api():
    report = _check(nnx_recipe)
    assert report.mistakes == ("other-api",), report.message
    assert 'api="nnx"' in report.message and "layer is right" in report.message


def test_a_linen_solution_checked_as_nnx_is_told_it_is_the_other_api():
    report = _check(CORRECT["textbook"], api="nnx")
    assert report.mistakes == ("other-api",), report.message
    assert "Linen" in report.message


@pytest.mark.parametrize(("solve", "codes", "words"), [
    (nnx_shifted_seed, ("rng-stream",), "`nnx.Rngs(int(seed) + 1)`"),
    (nnx_extra_draw, ("rng-stream",), "gave 1 key(s) away"),
    (nnx_glorot, ("kernel:glorot",), "std"),
    (nnx_fixed_seed, ("seed-ignored",), "give the same output"),
])
def test_nnx_mistakes_are_named(solve, codes, words):
    report = _check(solve, api="nnx")
    assert report.mistakes == codes, report.message
    assert words in report.message


@pytest.mark.parametrize(("name", "path"), [
    ("hand_written_dense", "`params/kernel`"),
    ("bias_drawn_first", "creates its `bias` before its `kernel`"),
    ("setup_style", "`params/dense/kernel`"),
    ("extra_wrapper", "`params/MyDense_0/Dense_0/kernel`"),
    ("split_key", "split with `jax.random.split`"),
    ("shifted_seed", "`PRNGKey(int(seed) + 1)`"),
])
def test_a_right_layer_from_another_stream_is_told_which_path_or_key(name, path):
    report = _check(WRONG[name])
    assert report.mistakes == ("rng-stream",)
    assert "the layer is right" in report.message and path in report.message, report.message


def test_an_unknown_path_still_says_the_layer_is_right():
    message = _check(WRONG["unusual_name"]).message
    assert "the layer is right" in message and "not one of the usual paths" in message


def test_api_is_checked():
    with pytest.raises(ValueError, match="api must be 'linen' or 'nnx'"):
        initcourse.check(CORRECT["textbook"], api="torch")
