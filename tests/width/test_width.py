"""initcourse.width: the parametrizations' table, coord_check and lr_sweep, and the
chapter's network against the same network written in Flax with optax.multi_transform."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

import initcourse
from initcourse.training.data import digits
from initcourse.width import coord_check, lr_sweep, mlp, parametrization_table, scales

WIDTHS = (32, 64, 128, 256, 512)


@pytest.mark.parametrize("seed", [0, 1])
def test_coord_check_slopes_tell_sp_from_mup(seed):
    """Under SP the hidden layer's and the logits' updates grow with the width (Adam: about
    like the width); under muP they do not; NTK sits between. The input layer (its fan-in
    is the 64 pixels, fixed) moves the same at every width in all three."""
    slopes = {p: coord_check(p, widths=WIDTHS, steps=3, seed=seed).slopes()
              for p in ("sp", "ntk", "mup")}
    assert np.all(slopes["sp"][1:] > 0.4), slopes
    assert np.all(np.abs(slopes["mup"]) < 0.15), slopes
    ntk = slopes["ntk"][1:]
    assert np.all((slopes["mup"][1:] + 0.1 < ntk) & (ntk < slopes["sp"][1:] - 0.1)), slopes
    assert all(abs(s[0]) < 0.15 for s in slopes.values()), slopes


def test_coord_check_result_and_base_width():
    sp = coord_check("sp", widths=(64, 16, 32), steps=2, depth=3)
    mup = coord_check("mup", widths=(16, 32, 64), steps=2, depth=3)
    assert sp.widths == (16, 32, 64) and sp.delta.shape == (3, 4) and sp.by_step.shape == (3, 2, 4)
    assert sp.layers == ("hidden 1", "hidden 2", "hidden 3", "logits")
    np.testing.assert_array_equal(sp.delta, sp.by_step[:, -1])
    # At the base width (64) the parametrizations are one and the same network.
    np.testing.assert_allclose(sp.delta[-1], mup.delta[-1], rtol=1e-6)
    np.testing.assert_allclose(sp.initial[-1], mup.initial[-1], rtol=1e-6)
    # muP's readout starts smaller on wider nets (variance 1/(fan_in m)), SP's does not.
    assert mup.initial[0, -1] > 1.5 * mup.initial[-1, -1]
    assert sp.growth().shape == (4,)


def test_sgd_table_and_coord_check():
    """muP under SGD: the input layer's (and the input and hidden biases') rate grows like
    m, the output kernel's falls like 1/m, the hidden rate and the output bias's stay; its
    coordinate check is flat too (the output bias at m times the rate made the logits grow,
    slope 0.17 on widths 64-4096)."""
    s = scales("mup", "sgd", 256, 64)
    assert s["input"][2] == pytest.approx(4) and s["output"][2] == pytest.approx(0.25)
    assert s["hidden"][2] == pytest.approx(1) and s["output"][0] == pytest.approx(0.5)
    knobs = mlp.knob_arrays("mup", "sgd", 256, 64)
    factors = mlp.lr_factors(mlp.init(jax.random.PRNGKey(0), knobs, depth=2, width=256), knobs)
    assert float(factors["output"]["bias"]) == 1 and float(factors["hidden"]["bias"]) == 4
    for seed in (0, 1):
        slopes = coord_check("mup", widths=(64, 256, 1024), optimizer="sgd", learning_rate=0.1,
                             seed=seed).slopes()
        assert np.all(np.abs(slopes) < 0.1), slopes
    text = parametrization_table("sgd")
    assert "mup" in text and "1/m" in text and "√m" in parametrization_table("adam")


def test_lr_sweep_grid_divergence_and_one_compilation_per_width(compiles):
    rates = (2.0**-8, 2.0**-5, 2.0**-2, 2.0**0)
    with compiles() as c:
        sweep = lr_sweep("sp", widths=(16, 48), learning_rates=rates, steps=30, seeds=(0, 1))
    assert c.names.count("jit(_runs)") == 2, c.names  # one per width
    assert sweep.loss.shape == (2, 4, 2) and sweep.curves.shape == (2, 4, 2, 30)
    assert sweep.diverged_at.shape == (2, 4, 2)
    gone = sweep.diverged_at >= 0
    assert gone[:, -1].all(), sweep.diverged_at  # a rate of 1 with Adam blows the net up
    assert np.isnan(sweep.loss[gone]).all() and np.isfinite(sweep.loss[~gone]).all()
    for w, r, s in zip(*np.nonzero(gone), strict=True):
        step = sweep.diverged_at[w, r, s]
        curve = sweep.curves[w, r, s]
        assert not np.isfinite(curve[step]) or curve[step] > 10 * math.log(10)
        assert np.all(curve[:step] <= 10 * math.log(10))
    assert np.all(np.isin(sweep.best_lr, rates))
    with compiles() as c:  # other rates, other seeds, another parametrization: no compilation
        lr_sweep("mup", widths=(16, 48), learning_rates=(0.1, 0.2, 0.3, 0.4), steps=30, seeds=(7, 8))
    assert "jit(_runs)" not in c.names, c.names


def test_best_rate_moves_under_sp_and_stays_under_mup():
    """The transfer, small: SP's best rate falls as the net widens, muP's stays within one
    step of the factor-2 grid (the notebook measures it at widths 32 to 512)."""
    rates = 2.0 ** -np.arange(11, 2, -1)
    sp = lr_sweep("sp", widths=(32, 512), learning_rates=rates, steps=100, seeds=(0, 1))
    mup = lr_sweep("mup", widths=(32, 512), learning_rates=rates, steps=100, seeds=(0, 1))
    sp_shift = sp.best_log2_lr()[0] - sp.best_log2_lr()[1]
    mup_spread = abs(mup.best_log2_lr()[0] - mup.best_log2_lr()[1])
    assert sp_shift >= 2 and mup_spread <= 1, (sp.best_log2_lr(), mup.best_log2_lr())
    assert sp.best_log2_lr(by_seed=True).shape == (2, 2)


def test_vertex_reads_between_grid_points():
    rates = 2.0 ** -np.arange(6, 0, -1)
    s = lr_sweep("sp", widths=(8, 16), learning_rates=rates, steps=2, seeds=(0,))
    log_rates = np.log2(rates)
    fake = np.exp((log_rates + 3.25) ** 2)[None, :, None] * np.ones((2, 1, 1))
    object.__setattr__(s, "loss", fake)
    np.testing.assert_allclose(s.best_log2_lr(), [-3.25, -3.25])
    np.testing.assert_allclose(s.best_lr, [2.0**-3, 2.0**-3])


def test_the_network_is_flax_with_optax_multi_transform():
    """The chapter's program against a muP MLP written the way a learner would in Flax:
    Linen Dense layers (lecun_normal; the readout variance_scaling(1/m, "fan_in")) and
    optax.multi_transform with Adam at eta (input kernel, every bias) and eta/m (hidden and
    output kernels). The same params take the same three steps in both."""
    width, base, lr = 256, 64, 2.0**-6
    m = width / base

    class MuMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(width, kernel_init=nn.initializers.lecun_normal(), name="input")(x)
            h = nn.Dense(width, kernel_init=nn.initializers.lecun_normal(), name="hidden")(jnp.tanh(h))
            readout = nn.initializers.variance_scaling(1 / m, "fan_in", "truncated_normal")
            return nn.Dense(10, kernel_init=readout, name="output")(jnp.tanh(h))

    data = digits()
    x, y = jnp.asarray(data.x_train[:64]), jnp.asarray(data.y_train[:64])
    params = MuMLP().init(jax.random.PRNGKey(3), x)["params"]
    labels = {k: {"kernel": k if k != "input" else "fast", "bias": "fast"} for k in params}
    tx = optax.multi_transform({"fast": optax.adam(lr), "hidden": optax.adam(lr / m),
                                "output": optax.adam(lr / m)}, labels)
    state = tx.init(params)
    knobs = mlp.knob_arrays("mup", "adam", width, base)
    ours = {"input": params["input"], "output": params["output"],
            "hidden": jax.tree.map(lambda a: a[None], params["hidden"])}
    ours_state = mlp.optimizer("adam").init(ours)
    for _ in range(3):
        def loss(p):
            logits = MuMLP().apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        ours, ours_state, _ = mlp.step(ours, ours_state, x, y, knobs, lr, opt="adam", activation="tanh")
    for kind in ("input", "hidden", "output"):
        theirs = jax.tree.map(lambda a: a[None], params[kind]) if kind == "hidden" else params[kind]
        for leaf in ("kernel", "bias"):
            np.testing.assert_allclose(ours[kind][leaf], theirs[leaf], rtol=2e-5, atol=2e-6)
    # The readout's initial std is Flax's variance_scaling(1/m) one: 1/sqrt(fan_in m).
    wide = mlp.knob_arrays("mup", "adam", 1024, base)
    drawn = mlp.init(jax.random.PRNGKey(0), wide, depth=2, width=1024)
    assert float(jnp.std(drawn["output"]["kernel"])) == pytest.approx(
        1 / math.sqrt(1024 * 1024 / 64), rel=0.05)


def test_sweep_flags_and_overflow_read_as_inf():
    sweep = lr_sweep("sp", widths=(8, 16), learning_rates=(0.01, 0.1), steps=3, seeds=(0,))
    with pytest.raises(TypeError, match="test must be True or False; received 'yes'"):
        sweep.mean_loss(test="yes")
    with pytest.raises(TypeError, match="by_seed must be True or False; received None"):
        sweep.best_log2_lr(by_seed=None)
    # A linear stack at learning rate 10 under plain SGD overflows: inf, never NaN.
    blown = coord_check("sp", widths=(64, 128), steps=50, optimizer="sgd", learning_rate=10,
                        depth=8, activation="linear", base_width=8, batch=4)
    assert not np.isnan(blown.delta).any() and np.isinf(blown.delta).any(), blown.delta


def test_the_face_exports_the_chapter():
    assert initcourse.coord_check is coord_check and initcourse.lr_sweep is lr_sweep
    assert "mup" in initcourse.parametrization_table()


@pytest.mark.parametrize("call, error, words", [
    (lambda: coord_check("mup", widths=(1, 64)), ValueError, "widths\\[0\\] must be >= 2; received 1"),
    (lambda: coord_check("mup", widths=(64, 64)), ValueError, "at least two different widths"),
    (lambda: coord_check("mup", widths=64), TypeError, "widths must be a sequence"),
    (lambda: coord_check("mup", widths="64"), TypeError, "widths must be a sequence"),
    (lambda: coord_check("mup", steps=0), ValueError, "steps must be >= 1; received 0"),
    (lambda: coord_check("mup", steps=2.5), ValueError, "steps must be a whole number"),
    (lambda: coord_check("muP"), ValueError,
     "parametrization must be one of 'sp', 'ntk', 'mup'; received 'muP'"),
    (lambda: coord_check("sp", optimizer="adamw"), ValueError, "optimizer must be one of"),
    (lambda: coord_check("sp", learning_rate=float("nan")), ValueError, "learning_rate"),
    (lambda: coord_check("sp", learning_rate=0), ValueError, "learning_rate"),
    (lambda: coord_check("sp", activation="gelu"), ValueError, "activation must be one of"),
    (lambda: coord_check("sp", widths=(2048, 4096), steps=50, depth=8), ValueError,
     "above the bound of 268,435,456"),
    (lambda: coord_check("sp", widths=(1024, 2048, 4096), steps=20, depth=4), ValueError,
     "above the bound"),
    (lambda: scales("mup", "adam", "x", 64), TypeError, "width must be a real number; received .x."),
    (lambda: scales("mup", "adam", 0, 64), ValueError, "width must be >= 1; received 0"),
    (lambda: scales("mup", "adam", 256, 10**400), ValueError, "base_width must be <="),
    (lambda: scales("mup", "adam", 3.5, 64), ValueError, "width must be a whole number"),
    (lambda: lr_sweep("sp", widths=(8, 16), seed=0, seeds=(0, 1, 2)), ValueError,
     "seed or seeds, not both"),
    (lambda: coord_check("sp", seed=-1), ValueError, "seed"),
    (lambda: lr_sweep("sp", widths=(8, 16), learning_rates=()), ValueError, "1 to 24 rates"),
    (lambda: lr_sweep("sp", widths=(8, 16), learning_rates=0.1), TypeError,
     "learning_rates must be a sequence"),
    (lambda: lr_sweep("sp", widths=(8, 16), learning_rates=(0.1, -1)), ValueError, "learning_rates\\[1\\]"),
    (lambda: lr_sweep("sp", widths=(8, 16), steps=0), ValueError, "steps must be >= 1"),
    (lambda: lr_sweep("sp", widths=(8, 16), seeds=()), ValueError, "seeds must hold 1 to 8"),
    (lambda: lr_sweep("sp", widths=(8, 16), seeds=(0, "1")), TypeError, "seeds\\[1\\]"),
    (lambda: lr_sweep("sp", widths=(1, 16)), ValueError, "widths\\[0\\]"),
    (lambda: lr_sweep("sp", widths=(2048, 4096), steps=2000), ValueError, "above the bound"),
])
def test_bad_arguments_are_refused_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call()
