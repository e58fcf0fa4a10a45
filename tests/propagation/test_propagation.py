"""Signal propagation through deep MLPs: layer_stats against an independent Flax reference
and against the laws the course teaches."""


import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from initcourse import layer_stats, predicted_stats
from initcourse.initializers import get_initializer
from initcourse.propagation.engine import ACTIVATIONS

ACT = {"linear": lambda z: z, "relu": nn.relu, "tanh": nn.tanh, "sigmoid": nn.sigmoid, "gelu": nn.gelu}


class _MLP(nn.Module):
    """depth square Dense layers, zero biases: the network layer_stats describes."""

    depth: int
    width: int
    activation: str
    kernel_init: object

    @nn.compact
    def __call__(self, x):
        outputs = []
        for _ in range(self.depth):
            x = ACT[self.activation](nn.Dense(self.width, kernel_init=self.kernel_init)(x))
            outputs.append(x)
        return outputs


def _reference(init, activation, depth, width, batch, seed):
    """Forward/backward stds from real Flax layers, with the same random draws."""
    k_w, k_x, k_r = jax.random.split(jax.random.PRNGKey(seed), 3)
    keys = jax.random.split(k_w, depth)
    x = jax.random.normal(k_x, (batch, width))
    r = jax.random.normal(k_r, (batch, width))
    model = _MLP(depth, width, activation, init)
    params = model.init(jax.random.PRNGKey(0), x)
    for layer in range(depth):  # put the draws in the layers' kernels
        kernel = init(keys[layer], (width, width), jnp.float32)
        params["params"][f"Dense_{layer}"]["kernel"] = kernel

    outputs = model.apply(params, x)

    def loss_from(layer, h):
        h_next = h
        for later in range(layer + 1, depth):
            dense = params["params"][f"Dense_{later}"]
            h_next = ACT[activation](h_next @ dense["kernel"] + dense["bias"])
        return jnp.sum(h_next * r)

    grads = [jax.grad(loss_from, argnums=1)(layer, outputs[layer]) for layer in range(depth)]
    return (
        np.array([float(jnp.std(h)) for h in outputs]),
        np.array([float(jnp.std(g)) for g in grads]),
    )


@pytest.mark.parametrize(
    "name, activation",
    [("lecun_normal", "tanh"), ("he_uniform", "relu"), ("glorot_normal", "gelu"),
     ("orthogonal", "sigmoid"), ("normal", "linear")],
)
def test_layer_stats_equals_real_flax_layers(name, activation):
    depth, width, batch, seed = 6, 24, 32, 5
    stats = layer_stats(name, activation, depth, width, batch=batch, seed=seed)
    forward, backward = _reference(get_initializer(name), activation, depth, width, batch, seed)
    np.testing.assert_allclose(stats.forward_std, forward, rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(stats.backward_std, backward, rtol=2e-4, atol=1e-7)


def test_any_flax_initializer_is_accepted():
    init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")
    stats = layer_stats(init, "tanh", 4, 16, batch=16, seed=2)
    forward, backward = _reference(init, "tanh", 4, 16, 16, 2)
    np.testing.assert_allclose(stats.forward_std, forward, rtol=2e-4)
    np.testing.assert_allclose(stats.backward_std, backward, rtol=2e-4)
    # Same draws as the registry's lecun_normal.
    by_name = layer_stats("lecun_normal", "tanh", 4, 16, batch=16, seed=2)
    np.testing.assert_allclose(stats.forward_std, by_name.forward_std, rtol=2e-5)


DEPTH, WIDTH, BATCH = 30, 256, 256


def _per_layer_variance_ratio(std):
    return float(np.exp(np.mean(np.diff(np.log(std**2)))))


def test_linear_lecun_keeps_the_signal():
    stats = layer_stats("lecun_normal", "linear", DEPTH, WIDTH, batch=BATCH)
    assert stats.forward_std.shape == stats.backward_std.shape == (DEPTH,)
    assert np.all((stats.forward_std > 0.6) & (stats.forward_std < 1.6))
    assert np.all((stats.backward_std > 0.6) & (stats.backward_std < 1.6))
    assert _per_layer_variance_ratio(stats.forward_std) == pytest.approx(1.0, abs=0.03)


def test_relu_he_keeps_the_signal():
    stats = layer_stats("he_normal", "relu", DEPTH, WIDTH, batch=BATCH)
    assert _per_layer_variance_ratio(stats.forward_std) == pytest.approx(1.0, abs=0.03)
    assert _per_layer_variance_ratio(stats.backward_std) == pytest.approx(1.0, abs=0.03)
    # std of relu(z) for z ~ N(0, 2): sqrt(2 * (1/2 - 1/(2 pi))) = 0.8256.
    assert np.median(stats.forward_std) == pytest.approx(0.8256, rel=0.1)


def test_relu_glorot_halves_the_variance_at_every_layer():
    stats = layer_stats("glorot_normal", "relu", DEPTH, WIDTH, batch=BATCH)
    ratios = np.diff(np.log2(stats.forward_std**2))
    assert np.mean(ratios) == pytest.approx(-1.0, abs=0.05)
    assert np.all((ratios > -1.5) & (ratios < -0.5))
    # Going down, the gradient halves too.
    assert _per_layer_variance_ratio(stats.backward_std) == pytest.approx(2.0, rel=0.05)


def test_small_normal_vanishes_and_large_normal_explodes():
    small = layer_stats("normal", "linear", 10, 64, batch=64)
    large = layer_stats("normal", "linear", 10, 64, batch=64, stddev=0.5)
    assert small.forward_std[-1] < 1e-5
    assert large.forward_std[-1] > 1e5


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("name", ["lecun_normal", "he_normal", "glorot_uniform"])
def test_mean_field_theory_predicts_wide_layers(name, activation):
    depth = 12
    stats = layer_stats(name, activation, depth, 512, batch=256, seed=1)
    forward, backward = predicted_stats(name, activation, depth, 512)
    # Finite width: each layer's squared norm gain fluctuates by about sqrt(2 / width) (a
    # chi-square with `width` degrees of freedom), the fluctuations compound down the stack:
    # after l layers the std is off by about sqrt(l / (2 width)). Allow three of those.
    layers = np.arange(1, depth + 1)
    rtol = 0.03 + 3 * np.sqrt(layers / (2 * 512))
    assert np.all(np.abs(stats.forward_std / forward - 1) <= rtol)
    assert np.all(np.abs(stats.backward_std / backward - 1) <= rtol[::-1])


def test_no_theory_for_constant_initializers():
    assert predicted_stats("zeros", "relu", 3, 8) is None
    assert predicted_stats("ones", "tanh", 3, 8) is None


def test_one_compilation_per_shape(compiles):
    with compiles() as seen:
        layer_stats("lecun_normal", "relu", 7, 40, batch=16)
        first = len(seen)
        for seed, (name, activation) in enumerate(
            [("he_normal", "relu"), ("glorot_uniform", "tanh"), ("normal", "gelu"),
             ("orthogonal", "linear"), ("zeros", "sigmoid"), ("ones", "relu"),
             ("lecun_uniform", "tanh")]
        ):
            layer_stats(name, activation, 7, 40, batch=16, seed=seed)
        layer_stats("normal", "relu", 7, 40, batch=16, stddev=0.3)
    assert first <= 1
    assert len(seen) == first


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(initializer="xavier"), ValueError, "initializer must be one of"),
        (dict(initializer=3), TypeError, "initializer must be a registry name"),
        (dict(activation="softmax"), ValueError, "activation must be one of 'linear'"),
        (dict(depth=0), ValueError, "depth must be >= 1"),
        (dict(depth=2.5), ValueError, "depth must be a whole number"),
        (dict(width="64"), TypeError, "width must be a real number"),
        (dict(batch=1), ValueError, "batch must be >= 2"),
        (dict(seed=float("nan")), ValueError, "seed must be finite"),
        (dict(initializer="he_normal", stddev=0.1), ValueError, "stddev only applies"),
        (dict(batch=10**12), ValueError, "batch must be <= 65536"),
        (dict(depth=1000, width=8192), ValueError,
         "depth=1000, width=8192, batch=256 would need about 258.9 GiB, more than the 2 GiB"),
        (dict(depth=1, width=4096, batch=65536), ValueError, "would need about 9.3 GiB"),
        (dict(seed=2**64), ValueError, "seed must be <= 4294967295"),
        (dict(seed=2**32), ValueError, "seed must be <= 4294967295"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(depth=10**400), ValueError, "depth must be <= 1000"),
        (dict(width=-(10**400)), ValueError, "width must be >= 1"),
        (dict(initializer="normal", stddev=10**400), ValueError, "stddev must be a finite number"),
        (dict(initializer="normal", stddev=1e300), ValueError, "stddev must be a finite number"),
        (dict(initializer=nn.initializers.lecun_normal), TypeError,
         "initializer is an initializer factory, not an initializer: call it"),
        (dict(initializer=lambda key: 0), TypeError, "initializer must be a Flax initializer"),
    ],
)
def test_bad_input(kwargs, error, message):
    args = dict(initializer="lecun_normal", activation="relu", depth=3, width=8)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        layer_stats(**args)


def test_a_vanishing_signal_is_measured_not_rounded_to_zero():
    """Stds far below 1e-19 (whose squares underflow float32) still follow the theory."""
    stats = layer_stats("normal", "relu", 30, 256, batch=256)
    forward, backward = predicted_stats("normal", "relu", 30, 256)
    assert stats.forward_std[-1] < 1e-25 and stats.backward_std[0] < 1e-25
    assert np.all(stats.forward_std > 0) and np.all(stats.backward_std > 0)
    np.testing.assert_allclose(np.log10(stats.forward_std), np.log10(forward), atol=0.3)
    np.testing.assert_allclose(np.log10(stats.backward_std), np.log10(backward), atol=0.3)


def test_predicted_stats_names_its_argument():
    with pytest.raises(TypeError, match="initializer must be a registry name .* not accepted"):
        predicted_stats(nn.initializers.lecun_normal(), "relu", 3, 8)


def test_a_failed_run_leaves_nothing_broken_behind(monkeypatch):
    """A run that fails (out of memory, say) must not poison the next call at that shape."""
    from initcourse.propagation import engine as propagation

    layer_stats("he_normal", "relu", 3, 8, batch=4)  # caches the kernels of this shape

    def fail(*args, **kwargs):
        raise MemoryError("out of memory")

    real = propagation._engine
    monkeypatch.setattr(propagation, "_engine", fail)
    with pytest.raises(MemoryError):
        layer_stats("he_normal", "relu", 3, 8, batch=4, seed=1)
    monkeypatch.setattr(propagation, "_engine", real)
    again = layer_stats("he_normal", "relu", 3, 8, batch=4, seed=1)
    fresh = layer_stats("he_normal", "relu", 3, 8, batch=4, seed=1)
    np.testing.assert_array_equal(again.forward_std, fresh.forward_std)


def _live_bytes() -> int:
    return sum(a.nbytes for a in jax.live_arrays())


def test_a_depth_sweep_compiles_once_and_keeps_one_stack(compiles):
    """Issue 16, 1: every depth 1..100 at one width shares one compilation, and what stays
    in memory is one stack of 100 kernels (the old code kept one stack per depth)."""
    layer_stats("he_normal", "relu", 1, 48, batch=8)
    before = _live_bytes()
    with compiles() as seen:
        for depth in range(1, 101):
            stats = layer_stats("he_normal", "relu", depth, 48, batch=8)
    assert len(seen) == 0
    assert stats.forward_std.shape == (100,)
    assert _live_bytes() - before <= 4 * 100 * 48 * 48  # the 100 layers drawn so far


def test_kept_kernels_stay_within_the_budget():
    """Issue 16, 1: whatever the widths visited, layer_stats keeps at most CACHE_BUDGET."""
    from initcourse.propagation.engine import CACHE_BUDGET, retained_bytes

    for width in (1024, 512, 256, 1024, 128):
        layer_stats("lecun_normal", "linear", 1, width, batch=2)
        assert retained_bytes() <= CACHE_BUDGET
    assert retained_bytes() >= 4 * 100 * 1024 * 1024  # the last widths' stacks are kept


def test_a_new_initializer_object_compiles_nothing(compiles):
    """Issue 16, 2: compilations are keyed on shapes, not on the initializer object."""
    first = layer_stats(nn.initializers.normal(0.1), "relu", 10, 32, batch=8)
    with compiles() as seen:
        for _ in range(3):
            again = layer_stats(nn.initializers.normal(0.1), "relu", 10, 32, batch=8)
    assert len(seen) == 0
    np.testing.assert_array_equal(first.forward_std, again.forward_std)


@pytest.mark.parametrize(("depth", "width", "batch"), [(1000, 512, 256), (4, 8192, 256)])
def test_the_memory_estimate_bounds_what_xla_allocates(depth, width, batch):
    """Issue 16, 5: the estimate that refuses a shape is at least XLA's own analysis."""
    from initcourse.propagation.engine import _engine, capacity, memory_estimate

    layers = capacity(depth, width)[0]
    args = (jax.ShapeDtypeStruct((layers, width, width), jnp.float32), jnp.int32(0),
            jax.random.PRNGKey(0), jnp.int32(0), jnp.float32(1.0), jnp.int32(1), jnp.int32(depth))
    m = _engine.lower(*args, batch=batch, keep=False).compile().memory_analysis()
    xla = (m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes
           - m.alias_size_in_bytes)
    assert xla <= memory_estimate(layers, width, batch) <= 1.1 * xla


@pytest.mark.parametrize(("name", "activation", "stddev"), [
    ("normal", "linear", 1e6), ("normal", "relu", 1e4), ("normal", "gelu", 1e5),
    ("ones", "linear", None)])
def test_an_explosion_is_inf_never_nan(name, activation, stddev):
    """Overflowed layers read inf (forward and backward), in the measurement and in the
    theory; the regime says exploding."""
    stats = layer_stats(name, activation, 30, 64, batch=16, stddev=stddev)
    for series in (stats.forward_std, stats.backward_std):
        assert not np.any(np.isnan(series)), series
    assert np.isinf(stats.forward_std[-1])
    theory = predicted_stats(name, activation, 30, 64, stddev=stddev)
    if theory is not None:  # float64: past float32's range (or inf), never NaN
        assert not np.any(np.isnan(theory[0]))
        assert theory[0][-1] > np.finfo(np.float32).max


def test_a_custom_initializer_that_ignores_its_shape_is_refused_by_layer_stats():
    def ignores(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, (2, 3), dtype) if shape != (2, 3) else jnp.zeros(shape)

    with pytest.raises(ValueError, match=r"initializer must return the shape it is asked for: "
                                         r"asked for \(16, 16\), got \(2, 3\)"):
        layer_stats(ignores, "relu", 3, 16, batch=4)
