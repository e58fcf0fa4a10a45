"""initcourse.train against independent references: a hand-written Flax + optax loop,
the Flax initializers themselves, scikit-learn's digits, and NumPy recomputations of the
diagnostics."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

import initcourse
from initcourse.training import data as training_data
from initcourse.training import engine as training_engine
from initcourse.training import runs as training

SMALL = dict(depth=4, width=32, batch=64)


class MLP(nn.Module):
    """The reference network, written with Flax layers (not initcourse's forward pass)."""

    depth: int
    width: int
    activation: str

    @nn.compact
    def __call__(self, x):
        act = initcourse.activations.FUNCTIONS[self.activation].jax
        for layer in range(self.depth):
            x = act(nn.Dense(self.width, name=f"hidden_{layer}")(x))
        return nn.Dense(10, name="out")(x)


def _flax_params(params, depth):
    """initcourse's params in the reference network's layout."""
    layers = {"hidden_0": params["first"]}
    for layer in range(1, depth):
        layers[f"hidden_{layer}"] = jax.tree.map(lambda a, i=layer - 1: a[i], params["hidden"])
    layers["out"] = params["out"]
    return {"params": layers}


def reference_loop(initializer, activation, *, depth, width, steps, batch, seed, tx, **init_kwargs):
    """Same initial params and batches; a plain Flax model and optax loop, one step at a time."""
    init = initcourse.get_initializer(initializer, **init_kwargs)
    params = _flax_params(training_data.init_params(init, depth=depth, width=width, seed=seed), depth)
    model = MLP(depth, width, activation)
    d = training_data.digits()
    order = training_data.batch_order(seed, steps, batch)

    def loss_fn(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

    @jax.jit
    def step(p, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss, updates

    state, losses = tx.init(params), []
    for rows in order:
        before = params
        params, state, loss, updates = step(params, state, d.x_train[rows], d.y_train[rows])
        losses.append(float(loss))
    kernel = ["hidden_0", *[f"hidden_{i}" for i in range(1, depth)]]
    ratio = [float(jnp.std(updates["params"][k]["kernel"]) / jnp.std(before["params"][k]["kernel"]))
             for k in kernel]
    accuracy = float(jnp.mean(jnp.argmax(model.apply(params, d.x_test), -1) == d.y_test))
    return np.array(losses), accuracy, np.array(ratio)


def test_digits_are_scikit_learns_scaled_and_split_once():
    from sklearn.datasets import load_digits

    ref = load_digits()
    d = training_data.digits()
    x = np.concatenate([d.x_train, d.x_test])
    y = np.concatenate([d.y_train, d.y_test])
    assert x.shape == (1797, 64) and d.x_test.shape == (360, 64)
    assert x.min() == -1.0 and x.max() == 1.0
    # Same images and labels as scikit-learn's, as a multiset of rows.
    ours = np.column_stack([x, y]).astype(np.float64)
    theirs = np.column_stack([ref.data / 8.0 - 1.0, ref.target])
    assert np.array_equal(ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])])
    assert np.array_equal(np.bincount(d.y_test), np.full(10, 36))
    assert training_data.digits() is d, "the split is fixed once"
    with pytest.raises(ValueError):
        d.x_train[0, 0] = 0.0  # read-only: a learner cannot corrupt the data of later runs


def test_batch_order_covers_each_epoch_without_repeats():
    order = training_data.batch_order(3, 30, 128)
    per_epoch = 1437 // 128
    assert order.shape == (30, 128)
    first_epoch = order[:per_epoch].ravel()
    assert np.unique(first_epoch).size == first_epoch.size
    assert not np.array_equal(order, training_data.batch_order(4, 30, 128))
    assert np.array_equal(order, training_data.batch_order(3, 30, 128))


@pytest.mark.parametrize("name, kwargs", [("he_normal", {}), ("normal", {"stddev": 0.2}),
                                          ("orthogonal", {})])
def test_initial_params_are_the_flax_initializers_draws(name, kwargs):
    init = initcourse.get_initializer(name, **kwargs)
    params = training_data.init_params(init, depth=3, width=16, seed=5)
    key = lambda layer: jax.random.fold_in(jax.random.PRNGKey(5), layer)  # noqa: E731
    assert np.array_equal(params["first"]["kernel"], init(key(0), (64, 16), jnp.float32))
    for layer in (1, 2):
        assert np.array_equal(params["hidden"]["kernel"][layer - 1], init(key(layer), (16, 16)))
    out = nn.initializers.lecun_normal()(key(3), (16, 10), jnp.float32)
    assert np.array_equal(params["out"]["kernel"], out)
    for bias in (params["first"]["bias"], params["hidden"]["bias"], params["out"]["bias"]):
        assert not np.any(bias)


@pytest.mark.parametrize("out_scale", [0.01, 0.0, 8.0])
def test_out_scale_multiplies_only_the_output_kernel(out_scale):
    init = initcourse.get_initializer("he_normal")
    plain = training_data.init_params(init, depth=3, width=16, seed=5)
    scaled = training_data.init_params(init, depth=3, width=16, seed=5, out_scale=out_scale)
    np.testing.assert_array_equal(scaled["out"]["kernel"], plain["out"]["kernel"] * np.float32(out_scale))
    for part in ("first", "hidden"):
        np.testing.assert_array_equal(scaled[part]["kernel"], plain[part]["kernel"])
    assert not np.any(scaled["out"]["bias"])


def test_a_zero_output_kernel_starts_at_ln_10_and_a_large_one_far_above():
    # Karpathy's check (makemore part 3): logits of exactly 0 give probability 1/10 to each
    # class, a loss of ln 10; a last layer 8 times lecun_normal (std 1 at width 64) starts far above.
    runs = initcourse.train_runs([{"initializer": "he_normal", "out_scale": s} for s in (0.0, 1.0, 8.0)],
                                 depth=3, width=64, batch=64, steps=1, learning_rate=0.01)
    zero, plain, large = (h.initial_loss for h in runs)
    assert zero == pytest.approx(math.log(10), abs=1e-6)
    assert large > 2 * math.log(10) and large > plain > zero
    assert [h.label for h in runs] == ["he_normal, out × 0", "he_normal", "he_normal, out × 8"]
    assert runs[0].config["out_scale"] == 0.0


@pytest.mark.parametrize("optimizer, activation", [("sgd", "relu"), ("adam", "tanh")])
def test_losses_match_a_hand_written_optax_loop(optimizer, activation):
    steps = 47  # not a multiple of RECORD_EVERY: the last chunk is partial
    lr = 0.05 if optimizer == "sgd" else 1e-3
    history = initcourse.train("he_normal", activation, **SMALL, steps=steps, optimizer=optimizer,
                               learning_rate=lr, seed=2)
    tx = optax.sgd(lr, momentum=0.9) if optimizer == "sgd" else optax.adam(lr)
    losses, accuracy, ratio = reference_loop("he_normal", activation, **SMALL, steps=steps, seed=2,
                                             tx=tx)
    assert history.loss.shape == (steps,)
    np.testing.assert_allclose(history.loss, losses, rtol=2e-5, atol=2e-6)
    assert losses[-1] < losses[0] - 0.2, "the reference itself must learn for this to mean anything"
    assert history.test_accuracy == pytest.approx(accuracy, abs=1 / 360 + 1e-9)
    np.testing.assert_allclose(history.update_ratio[-1], ratio, rtol=1e-3)
    assert history.diverged_at is None and history.steps_run == steps
    assert list(history.record_steps) == [0, 20, 40, 47]


def test_train_runs_equal_separate_train_calls():
    common = dict(SMALL, steps=20, learning_rate=0.02)
    together = initcourse.train_runs([{"initializer": "he_normal", "seed": 0},
                                      {"initializer": "normal", "stddev": 0.1, "seed": 1}], **common)
    alone = [initcourse.train("he_normal", **common, seed=0),
             initcourse.train("normal", **common, seed=1, stddev=0.1)]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_array_equal(a.loss, b.loss)
    assert [h.label for h in together] == ["he_normal", "normal(0.1)"]


def _numpy_forward(params, x, activation, depth):
    act = initcourse.activations.FUNCTIONS[activation].numpy
    kernels = [np.asarray(params["first"]["kernel"], np.float64)]
    kernels += [np.asarray(k, np.float64) for k in params["hidden"]["kernel"]]
    hs, h = [], np.asarray(x, np.float64)
    for kernel in kernels:
        h = act(h @ kernel)
        hs.append(h)
    return hs


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_diagnostics_at_initialization_match_numpy(activation):
    history = initcourse.train("glorot_normal", activation, **SMALL, steps=1, learning_rate=0.01,
                               gain=5 / 3, seed=4)
    init = initcourse.get_initializer("glorot_normal")
    params = training_data.init_params(init, depth=4, width=32, seed=4, gain=5 / 3)
    hs = _numpy_forward(params, training_data.digits().x_test, activation, 4)
    np.testing.assert_allclose(history.forward_std[0], [h.std() for h in hs], rtol=1e-4)
    if activation == "tanh":
        expected = [np.mean(np.abs(h) > 0.97) for h in hs]
        np.testing.assert_allclose(history.saturated[0], expected, atol=1 / (360 * 32))
        assert np.all(np.isnan(history.dead))
    else:
        expected = [np.mean(np.all(h <= 0, axis=0)) for h in hs]
        np.testing.assert_allclose(history.dead[0], expected)
        assert np.all(np.isnan(history.saturated))
    assert np.all(np.isnan(history.update_ratio[0])), "no update before the first step"
    assert history.label == "glorot_normal × 1.67"


def test_a_diverging_run_stops_and_says_where():
    history = initcourse.train("he_normal", **SMALL, steps=60, learning_rate=50.0)
    step = history.diverged_at
    assert step is not None and 0 < step < 60
    assert np.all(np.isfinite(history.loss[:step]))
    assert not np.isfinite(history.loss[step])
    assert np.all(np.isnan(history.loss[step + 1:]))
    assert history.steps_run == step + 1
    assert math.isnan(history.test_accuracy) and math.isnan(history.final_loss)
    assert f"diverged at step {step} of 60" in history.message


def test_runs_stop_early_once_all_diverged():
    runs = training.start_runs([{"initializer": "normal", "stddev": 0.5}], **SMALL, steps=400,
                               learning_rate=10.0)
    while not runs.finished:
        runs.advance()
    assert runs.done < 400, "a diverged run is not stepped to the end"


def test_changing_initializer_seed_or_learning_rate_does_not_recompile(compiles):
    common = dict(depth=5, width=24, batch=32)
    initcourse.train("he_normal", **common, steps=20, learning_rate=0.01)
    programs = training_engine.compiled_programs()
    with compiles() as seen:
        for name, kwargs in [("glorot_normal", {}), ("lecun_uniform", {"seed": 3}),
                             ("he_normal", {"learning_rate": 0.3, "momentum": 0.5}),
                             ("normal", {"stddev": 0.2}), ("he_normal", {"steps": 45})]:
            kwargs = {"steps": 20, "learning_rate": 0.01, **kwargs}
            initcourse.train(name, **common, **kwargs)
    training_programs = [n for n in seen.names if any(p in n for p in ("_chunk", "_probe", "_opt_init"))]
    assert training_programs == [], f"recompiled: {training_programs}"
    assert training_engine.compiled_programs() == programs
    initcourse.train("he_normal", **common, steps=20, learning_rate=0.01, optimizer="adam")
    assert training_engine.compiled_programs() > programs, "the counter sees a new program"


def test_lsuv_layers_end_with_unit_variance_within_tolerance():
    result = initcourse.lsuv("relu", depth=6, width=48, seed=1, tolerance=0.05)
    x = training_data.digits().x_train[training_data.batch_order(1, 1, 128)[0]]
    h = np.asarray(x, np.float64)
    for kernel in [result.first, *result.hidden]:
        z = h @ np.asarray(kernel, np.float64)
        assert abs(z.var() - 1.0) < 0.05
        h = np.maximum(z, 0.0)
    assert result.converged.all() and np.all(result.iterations >= 1)
    np.testing.assert_allclose(result.variances, [1.0] * 6, atol=0.05)
    # The start was orthogonal: each kernel is an orthogonal matrix times one scale.
    singular = np.linalg.svd(result.hidden[2], compute_uv=False)
    assert singular.max() / singular.min() == pytest.approx(1.0, abs=1e-4)


def test_lsuv_on_given_inputs_and_through_train():
    x = np.random.default_rng(0).uniform(-1, 1, size=(50, 64))
    result = initcourse.lsuv("tanh", depth=3, width=16, x=x)
    assert result.batch == 50 and result.converged.all()
    history = initcourse.train("lsuv", "tanh", depth=3, width=16, steps=1, learning_rate=0.01,
                               seed=0, batch=32)
    expected = initcourse.lsuv("tanh", depth=3, width=16, seed=0, batch=32)
    params = training_data.assemble(expected.first, expected.hidden, depth=3, width=16, seed=0)
    hs = _numpy_forward(params, training_data.digits().x_test, "tanh", 3)
    np.testing.assert_allclose(history.forward_std[0], [h.std() for h in hs], rtol=1e-4)
    assert history.label == "lsuv"


def test_a_flax_initializer_object_is_accepted():
    init = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
    a = initcourse.train(init, **SMALL, steps=5, learning_rate=0.01)
    b = initcourse.train("he_normal", **SMALL, steps=5, learning_rate=0.01)
    np.testing.assert_array_equal(a.loss, b.loss)  # he_normal is that variance scaling


@pytest.mark.parametrize("kwargs, error, words", [
    ({"initializer": "he"}, ValueError, ["initializer", "'he'", "he_normal", "lsuv"]),
    ({"initializer": nn.initializers.lecun_normal}, TypeError, ["initializer", "factory"]),
    ({"initializer": 3}, TypeError, ["initializer", "3"]),
    ({"activation": "Relu"}, ValueError, ["activation", "'Relu'"]),
    ({"depth": 0}, ValueError, ["depth", ">= 1", "0"]),
    ({"depth": 2.5}, ValueError, ["depth", "2.5"]),
    ({"width": "64"}, TypeError, ["width", "'64'"]),
    ({"steps": -1}, ValueError, ["steps", "-1"]),
    ({"learning_rate": 0}, ValueError, ["learning_rate", "0"]),
    ({"learning_rate": float("nan")}, ValueError, ["learning_rate", "nan"]),
    ({"momentum": 1.0}, ValueError, ["momentum", "[0, 1)", "1.0"]),
    ({"optimizer": "rmsprop"}, ValueError, ["optimizer", "'sgd'", "'rmsprop'"]),
    ({"batch": 5000}, ValueError, ["batch", "1437", "5000"]),
    ({"seed": 1.5}, ValueError, ["seed", "1.5"]),
    ({"stddev": 0.1}, ValueError, ["stddev", "'normal'", "'he_normal'"]),
    ({"initializer": "normal", "stddev": -1}, ValueError, ["stddev", "-1"]),
    ({"gain": 0}, ValueError, ["gain", "0"]),
    ({"out_scale": -0.01}, ValueError, ["out_scale", ">= 0", "-0.01"]),
    ({"tolerance": 0.1}, TypeError, ["tolerance", "lsuv"]),
    ({"lr": 0.1}, TypeError, ["'lr'"]),
    ({"depth": 200, "width": 1024}, ValueError, ["depth * width**2", "200", "1024"]),
])
def test_bad_arguments_get_clear_errors(kwargs, error, words):
    args = dict(initializer="he_normal", depth=2, width=8, steps=1, learning_rate=0.01)
    args.update(kwargs)
    with pytest.raises(error) as info:
        initcourse.train(**args)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


def test_train_runs_names_the_bad_run():
    with pytest.raises(ValueError, match=r"runs\[1\]: learning_rate"):
        initcourse.train_runs([{"initializer": "he_normal"},
                               {"initializer": "he_normal", "learning_rate": -1}],
                              depth=2, width=8, steps=1, learning_rate=0.01)
    with pytest.raises(TypeError, match="runs must be a non-empty list"):
        initcourse.train_runs("he_normal", depth=2, width=8, steps=1, learning_rate=0.01)
    with pytest.raises(TypeError, match="unknown argument 'depth'"):
        initcourse.train_runs([{"initializer": "he_normal", "depth": 3}], depth=2, width=8, steps=1,
                              learning_rate=0.01)


@pytest.mark.parametrize("runs", [[None], ["he_normal"], [{"initializer": "he_normal"}, 3]])
def test_a_run_that_is_not_a_dict_is_named_by_its_index(runs):
    index = next(i for i, r in enumerate(runs) if not isinstance(r, dict))
    with pytest.raises(TypeError, match=rf"runs\[{index}\] must be a dict of train's per-run"):
        initcourse.train_runs(runs, depth=2, width=8, steps=1, learning_rate=0.1)


@pytest.mark.parametrize("x", [[[1.0] * 64, [1.0] * 63], [[0.0] * 64, [[0.0]] * 64]])
def test_lsuv_names_a_ragged_x(x):
    with pytest.raises(ValueError, match="x must be an .* array of numbers; received a ragged"):
        initcourse.lsuv("relu", depth=2, width=8, x=x)


def test_a_custom_initializer_is_checked_in_training_too():
    def ignores(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, (2, 3), dtype) if shape != (2, 3) else jnp.zeros(shape)

    with pytest.raises(ValueError, match=r"initializer must return the shape it is asked for"):
        initcourse.train(ignores, depth=2, width=8, steps=1, learning_rate=0.1)


@pytest.mark.parametrize(("depth", "width", "words"), [
    (1000, 256, "depth must be <= 200"), (2, 4096, "width must be <= 1024"),
    (200, 1024, r"depth \* width\*\*2 must be at most 33,554,432")])
def test_lsuv_refuses_networks_train_cannot_build_before_drawing(depth, width, words):
    with pytest.raises(ValueError, match=words):
        initcourse.lsuv("relu", depth=depth, width=width)
