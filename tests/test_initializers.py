"""The initializer registry's theory against sampling with the real Flax initializers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import initcourse
from initcourse import initializers as inits
from initcourse.initializers import INITIALIZERS, expected_std, measured_std, sample_kernel
from initcourse.keys import linen_param_key

RANDOM = [name for name, spec in INITIALIZERS.items() if spec.family != "constant"]

# What Flax exposes under each name, written out independently of the registry.
FLAX = {
    "lecun_normal": nn.initializers.lecun_normal(),
    "lecun_uniform": nn.initializers.lecun_uniform(),
    "glorot_normal": nn.initializers.glorot_normal(),
    "glorot_uniform": nn.initializers.glorot_uniform(),
    "he_normal": nn.initializers.he_normal(),
    "he_uniform": nn.initializers.he_uniform(),
    "normal": nn.initializers.normal(),
    "orthogonal": nn.initializers.orthogonal(),
    "zeros": nn.initializers.zeros,
    "ones": nn.initializers.ones,
}


def test_registry_holds_the_course_initializers_in_teaching_order():
    assert list(INITIALIZERS) == list(FLAX)
    assert initcourse.INITIALIZERS is INITIALIZERS


def test_worked_examples():
    assert expected_std("lecun_normal", 64) == 0.125
    assert expected_std("lecun_normal", 64, 64) == 0.125
    assert expected_std("lecun_normal", 256, 10) == 0.0625
    assert expected_std("glorot_uniform", 100, 300) == pytest.approx(math.sqrt(2 / 400))
    assert expected_std("he_normal", 50, 7) == pytest.approx(0.2)
    assert expected_std("normal", 4096, 4096) == 0.01
    assert expected_std("normal", 64, stddev=0.05) == 0.05
    assert expected_std("orthogonal", 16, 64) == 0.125
    assert expected_std("zeros", 3, 3) == 0.0


@pytest.mark.parametrize("name", list(FLAX))
def test_registry_hands_out_the_flax_initializer(name):
    key = jax.random.PRNGKey(3)
    got = inits.get_initializer(name)(key, (17, 5), jnp.float32)
    want = FLAX[name](key, (17, 5), jnp.float32)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def _tolerance(n: int) -> float:
    # The sample std of n draws has a relative standard error of sqrt((kurtosis - 1) / (4 n)).
    # Kurtosis is 3 for a normal and below it for the truncated normal and the uniform, so
    # 6 standard errors of the normal case bound every family here.
    return 6 * math.sqrt(2 / (4 * n))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(RANDOM),
    fan_in=st.integers(8, 2048),
    fan_out=st.integers(8, 512),
    seed=st.integers(0, 10_000),
)
def test_measured_std_matches_theory(name, fan_in, fan_out, seed):
    n = fan_in * fan_out
    want = expected_std(name, fan_in, fan_out)
    got = measured_std(name, fan_in, fan_out, seed=seed)
    assert got == pytest.approx(want, rel=_tolerance(n))


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_constant_initializers_have_no_spread(name):
    kernel = sample_kernel(name, 30, 20)
    assert kernel.std() == expected_std(name, 30, 20) == 0.0
    assert np.all(kernel == (1.0 if name == "ones" else 0.0))


def test_normal_with_other_stddev():
    assert measured_std("normal", 512, 512, stddev=0.2) == pytest.approx(0.2, rel=_tolerance(512**2))


@pytest.mark.parametrize("name", ["lecun_normal", "glorot_normal", "he_normal"])
def test_truncated_normal_bound(name):
    """Flax truncates at ±2 std before rescaling by 1/0.8796: |w| <= 2.274 * std."""
    kernel = sample_kernel(name, 1024, 512, seed=1)
    bound = inits.truncation_bound(name, 1024, 512)
    assert bound == pytest.approx(2 / 0.87962566103423978 * expected_std(name, 1024, 512))
    assert np.abs(kernel).max() <= bound * (1 + 1e-6)
    # With half a million draws the largest one comes close to the bound.
    assert np.abs(kernel).max() > 0.99 * bound


def test_truncated_normal_std_constant():
    # Var of N(0, 1) truncated to (-2, 2): 1 - 2 * 2 * pdf(2) / (cdf(2) - cdf(-2)).
    pdf = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert inits.TRUNCATED_NORMAL_STD == pytest.approx(math.sqrt(1 - 4 * pdf / mass), rel=1e-12)


@pytest.mark.parametrize("name", ["lecun_uniform", "he_uniform"])
def test_uniform_bound(name):
    kernel = sample_kernel(name, 256, 256, seed=2)
    bound = inits.truncation_bound(name, 256, 256)
    assert bound == pytest.approx(math.sqrt(3) * expected_std(name, 256, 256))
    assert bound * 0.99 < np.abs(kernel).max() <= bound


@pytest.mark.parametrize("name", list(FLAX))
def test_unit_draws_times_scale_are_the_flax_draws(name):
    """The std is a multiplier: unit draws of a family, scaled, equal Flax's own draws."""
    spec = INITIALIZERS[name]
    key = jax.random.PRNGKey(11)
    width = 48
    unit = inits.unit_draw(inits.FAMILIES.index(spec.family), key, (width, width))
    got = np.asarray(unit) * spec.multiplier(width, width)
    want = np.asarray(FLAX[name](key, (width, width), jnp.float32))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: expected_std("xavier", 4, 4), ValueError,
         "initializer must be one of 'lecun_normal'"),
        (lambda: expected_std("lecun_normal", 0, 4), ValueError, "fan_in must be >= 1"),
        (lambda: expected_std("lecun_normal", 4.5, 4), ValueError, "fan_in must be a whole number"),
        (lambda: expected_std("lecun_normal", 4, "8"), TypeError, "fan_out must be a real number"),
        (lambda: expected_std("lecun_normal", 4, stddev=0.1), ValueError, "stddev only applies"),
        (lambda: expected_std("normal", 4, stddev=-1.0), ValueError, "stddev must be a finite"),
        (lambda: sample_kernel(42, 4, 4), TypeError, "initializer must be a registry name"),
        (lambda: measured_std("he_normal", 4, 4, seed=0.5), ValueError, "seed must be a whole"),
        (lambda: measured_std("he_normal", 4, 4, seed=2**70), ValueError, "seed must be <="),
        (lambda: measured_std("lecun_normal", 10**6, 10**6), ValueError,
         "fan_in \\* fan_out must be at most 67108864"),
        (lambda: sample_kernel(nn.initializers.lecun_normal, 4, 4), TypeError,
         "initializer factory, not an initializer"),
        (lambda: sample_kernel(lambda key: 0, 4, 4), TypeError, "must be a Flax initializer"),
        (lambda: expected_std(nn.initializers.lecun_normal(), 4), TypeError,
         "initializer must be a registry name .* not accepted here"),
        # Issue 16, 11: numbers beyond float's range are out of range, not an OverflowError.
        (lambda: expected_std("lecun_normal", 10**400), ValueError, "fan_in must be <= 67108864"),
        (lambda: sample_kernel("lecun_normal", 4, 10**400), ValueError, "fan_out must be <="),
        (lambda: measured_std("lecun_normal", 4, seed=10**400), ValueError, "seed must be <="),
        (lambda: expected_std("normal", 4, stddev=10**400), ValueError, "stddev must be a finite"),
        (lambda: expected_std("normal", 4, stddev=1e300), ValueError, "stddev must be a finite"),
        # Issue 16, 14: one seed range, 0 to 2**32 - 1, where PRNGKey folds nothing.
        (lambda: sample_kernel("lecun_normal", 4, seed=2**32), ValueError,
         "seed must be <= 4294967295"),
        (lambda: measured_std("lecun_normal", 4, seed=-(2**63)), ValueError, "seed must be >= 0"),
        # Issue 16, 15: dtypes JAX cannot draw in are refused, naming the argument.
        (lambda: sample_kernel("lecun_normal", 4, dtype=np.int32), TypeError,
         "dtype must be a floating dtype"),
        (lambda: sample_kernel("lecun_normal", 4, dtype="banana"), TypeError,
         "dtype must be a floating dtype"),
        (lambda: sample_kernel("lecun_normal", 4, dtype=None), TypeError,
         "dtype must be a floating dtype"),
        (lambda: sample_kernel("lecun_normal", 4, dtype=np.float64), ValueError,
         "dtype=float64 needs JAX's 64-bit mode"),
        # Issue 16, 16: one weight has no sample std.
        (lambda: measured_std("lecun_normal", 1), ValueError,
         "fan_in \\* fan_out must be at least 2: the std of a single weight is 0"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_largest_seed_is_its_own():
    """Issue 16, 14: the top of the seed range draws its own numbers, not seed 0's."""
    top = sample_kernel("lecun_normal", 8, seed=2**32 - 1)
    assert not np.array_equal(top, sample_kernel("lecun_normal", 8, seed=0))


def test_zero_d_arrays_and_other_float_dtypes_are_accepted():
    """Issue 16, 15: a 0-d array for stddev (as np.float32(0.2) or jnp.array(0.2)) is a number,
    and bfloat16 kernels are drawn in bfloat16."""
    for stddev in (np.array(0.2), jnp.array(0.2), np.float32(0.2)):
        assert expected_std("normal", 8, stddev=stddev) == pytest.approx(0.2)
    kernel = sample_kernel("lecun_normal", 8, 4, dtype=jnp.bfloat16)
    assert kernel.dtype == jnp.bfloat16 and kernel.shape == (8, 4)


def test_the_registry_is_flax_recipe():
    """The registry is data: variance_scaling(scale, mode, distribution) is each named Flax
    initializer, and the rule in words follows from the recipe."""
    for name, spec in INITIALIZERS.items():
        if spec.mode is not None:
            recipe = nn.initializers.variance_scaling(spec.scale, spec.mode, spec.family)
            key = jax.random.PRNGKey(5)
            np.testing.assert_array_equal(recipe(key, (9, 7)), FLAX[name](key, (9, 7)))
    assert [spec.rule for spec in INITIALIZERS.values()] == [
        "1/fan_in", "1/fan_in", "2/(fan_in + fan_out)", "2/(fan_in + fan_out)", "2/fan_in",
        "2/fan_in", "stddev²", "1/max(fan_in, fan_out)", "constant 0", "constant 1"]


@pytest.mark.parametrize("name", ["normal", "lecun_normal"])
def test_the_contrast_example_dense_draws_the_registry_kernel(name):
    """Notebook 07's contrast, an ``nn.Dense(64)`` on 64 inputs: its kernel is the registry's
    initializer called with the key Flax derives for it, and its std the registry's theory
    (4096 weights: the std's standard error is about 1.1 %)."""
    key = jax.random.PRNGKey(0)
    dense = nn.Dense(64, kernel_init=initcourse.get_initializer(name))
    kernel = dense.init(key, jnp.ones((64,)))["params"]["kernel"]
    np.testing.assert_array_equal(kernel, FLAX[name](linen_param_key(key), (64, 64), jnp.float32))
    assert float(jnp.std(kernel)) == pytest.approx(expected_std(name, 64), rel=0.05)


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", jnp.float8_e4m3fn])
@pytest.mark.parametrize("name", ["he_normal", "lecun_normal", "orthogonal"])
def test_float8_cannot_hold_a_kernel_and_is_refused(name, dtype):
    with pytest.raises(TypeError, match="dtype must be float16, bfloat16 or float32 .* float8"):
        sample_kernel(name, 16, 8, dtype=dtype)


def _ignores_shape(key, shape, dtype=jnp.float32):
    return jax.random.normal(key, (2, 3), dtype)


def _ignores_dtype(key, shape, dtype=jnp.float32):
    return jax.random.normal(key, shape, jnp.float32)


def _draws_nan(key, shape, dtype=jnp.float32):
    return jnp.full(shape, jnp.nan, dtype)


def _nan_when_large(key, shape, dtype=jnp.float32):  # right at (2, 3), where it is traced
    w = jax.random.normal(key, shape, dtype)
    return w if shape[0] * shape[1] <= 6 else w.at[0, 0].set(jnp.inf)


@pytest.mark.parametrize(("init", "error", "words"), [
    (_ignores_shape, ValueError,
     r"must return the shape it is asked for: asked for \(64, 32\), got \(2, 3\)"),
    (_draws_nan, ValueError, "returned 2048 non-finite weights"),
    (_nan_when_large, ValueError, "returned 1 non-finite weights .* of 2048"),
])
def test_a_custom_initializer_is_checked_on_every_call(init, error, words):
    with pytest.raises(error, match=words):
        sample_kernel(init, 64, 32)


def test_a_custom_initializer_must_keep_the_dtype():
    with pytest.raises(TypeError, match="asked for bfloat16, got float32"):
        sample_kernel(_ignores_dtype, 8, 4, dtype=jnp.bfloat16)
    assert sample_kernel(_ignores_dtype, 8, 4).dtype == np.float32  # float32 asked: fine


def test_orthogonal_draws_past_the_budget_are_refused_before_drawing():
    from initcourse.initializers import ORTHOGONAL_BUDGET, orthogonal_cost

    assert orthogonal_cost(2048, 2048) <= ORTHOGONAL_BUDGET < orthogonal_cost(4096, 4096)
    for shape in ((4096, 4096), (8192, 8192), (4096, 8192)):
        with pytest.raises(ValueError, match=r"sample_kernel: 1 orthogonal .* budget .* 2\*\*35"):
            sample_kernel("orthogonal", *shape)
    assert sample_kernel("orthogonal", 8192, 2).shape == (8192, 2)  # thin: cheap, allowed
    with pytest.raises(ValueError, match=r"depth=1000, width=1024: 1000 orthogonal"):
        initcourse.layer_stats("orthogonal", "relu", 1000, 1024, batch=2)
