"""residual_stats: against a hand-written Flax residual stack (same kernels, same input),
and against the variance recursions notebook 12 teaches."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from initcourse.residual import fixup_scale, predicted_residual, residual_stats
from initcourse.residual import stack as stack_module

WIDTH, BATCH = 128, 128


class _Stack(nn.Module):
    depth: int
    norm: str | None
    scale: float

    @nn.compact
    def __call__(self, x):
        for layer in range(self.depth):
            u = nn.LayerNorm(epsilon=1e-6, name=f"ln_{layer}")(x) if self.norm == "pre" else x
            h = nn.relu(nn.Dense(WIDTH, use_bias=False, name=f"w1_{layer}")(u))
            x = x + self.scale * nn.Dense(WIDTH, use_bias=False, name=f"w2_{layer}")(h)
            if self.norm == "post":
                x = nn.LayerNorm(epsilon=1e-6, name=f"post_{layer}")(x)
        self.sow("intermediates", "stream", x)
        return nn.LayerNorm(epsilon=1e-6, name="ln_f")(x) if self.norm == "pre" else x


@pytest.mark.parametrize("norm", [None, "pre", "post"])
def test_matches_a_flax_stack_with_the_same_kernels(norm):
    depth, seed, scale = 6, 3, 0.7
    got = residual_stats("he_normal", depth=depth, width=WIDTH, norm=norm, branch_scale=scale,
                         seed=seed, batch=BATCH)
    resolved = stack_module.resolve("he_normal")
    w1, w2, m1, m2 = stack_module._kernels(resolved, seed, stack_module.capacity_for(depth), WIDTH, depth)
    params = {}
    for layer in range(depth):
        params[f"w1_{layer}"] = {"kernel": w1[layer] * m1}
        params[f"w2_{layer}"] = {"kernel": w2[layer] * m2}
        for name in (f"ln_{layer}", f"post_{layer}", "ln_f"):
            params[name] = {"scale": jnp.ones(WIDTH), "bias": jnp.zeros(WIDTH)}
    model = _Stack(depth, norm, scale)
    k_x, k_r = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 1))
    x = jax.random.normal(k_x, (BATCH, WIDTH))
    r = jax.random.normal(k_r, (BATCH, WIDTH))
    used = {k: v for k, v in params.items() if not k.startswith(("ln_", "post_"))
            or (k.startswith("ln_") and norm == "pre") or (k.startswith("post_") and norm == "post")}
    out, state = model.apply({"params": used}, x, mutable=["intermediates"])
    stream = state["intermediates"]["stream"][0]
    np.testing.assert_allclose(got.stream_std[-1], np.std(np.asarray(stream, np.float64)), rtol=2e-4)
    _, pull = jax.vjp(lambda x: model.apply({"params": used}, x), x)
    np.testing.assert_allclose(got.grad_std[0], np.std(np.asarray(pull(r)[0], np.float64)), rtol=2e-4)
    grads = jax.grad(lambda p: jnp.sum(model.apply({"params": p}, x) * r))(used)
    np.testing.assert_allclose(
        got.weight_grad_std,
        [np.std(np.asarray(grads[f"w2_{i}"]["kernel"], np.float64)) for i in range(depth)],
        rtol=2e-3)


def test_he_relu_without_norm_triples_the_variance_per_block_both_ways():
    got = residual_stats("he_normal", depth=10, width=512, seed=0)
    forward = np.log(got.stream_std[-1] ** 2 / got.stream_std[0] ** 2) / 10
    backward = np.log(got.grad_std[0] ** 2 / got.grad_std[-1] ** 2) / 10
    assert abs(forward - math.log(3)) < 0.05 and abs(backward - math.log(3)) < 0.05
    want = predicted_residual("he_normal", depth=10, width=512)
    np.testing.assert_allclose(want["stream_std"], 3.0 ** (np.arange(11) / 2), rtol=1e-6)


def test_pre_ln_grows_linearly_and_post_ln_stays_at_one():
    # One network's stream wanders about the expectation (relu's positive mean makes each
    # branch add a direction shared by every row, and their sum drifts): +-20% at depth 24
    # for one draw, within 10% on average over three.
    depth, seeds = 24, (0, 1, 2)
    pre = [residual_stats("he_normal", depth=depth, width=256, norm="pre", seed=s) for s in seeds]
    q = np.array([p.stream_std ** 2 for p in pre]) / (1 + 2 * np.arange(depth + 1))
    assert np.all(np.abs(q - 1) < 0.2) and np.all(np.abs(q.mean(axis=0) - 1) < 0.1)
    # The gradient's second moment telescopes: G_0 / G_L = q_L / q_0 = 1 + 2L.
    g = np.array([p.grad_std[0] ** 2 / p.grad_std[-1] ** 2 for p in pre]) / (1 + 2 * depth)
    assert np.all(np.abs(g - 1) < 0.2) and abs(g.mean() - 1) < 0.15
    post = residual_stats("he_normal", depth=depth, width=256, norm="post")
    np.testing.assert_allclose(post.stream_std[1:], 1.0, atol=1e-3)
    # Post-LN: forward and backward gains of a ReLU branch agree, so dL/dx_l neither grows
    # nor shrinks in expectation (one draw wanders within +-20%).
    assert np.all(np.abs(post.grad_std / post.grad_std[-1] - 1) < 0.25)


def test_predicted_matches_measured_for_every_norm_and_activation():
    for activation in ("relu", "tanh", "gelu"):
        for norm in (None, "pre", "post"):
            got = residual_stats("he_normal", depth=8, width=512, norm=norm, activation=activation,
                                 branch_scale=0.5)
            want = predicted_residual("he_normal", depth=8, width=512, norm=norm,
                                      activation=activation, branch_scale=0.5)
            np.testing.assert_allclose(got.stream_std, want["stream_std"], rtol=0.08,
                                       err_msg=f"{activation}, norm={norm}")
            np.testing.assert_allclose(got.grad_std / got.grad_std[-1], want["grad_std"],
                                       rtol=0.12, err_msg=f"{activation}, norm={norm}")


def test_zero_init_last_keeps_the_stream_and_still_gives_the_last_kernels_a_gradient():
    got = residual_stats("he_normal", depth=12, width=128, zero_init_last=True)
    np.testing.assert_allclose(got.stream_std, got.stream_std[0], rtol=1e-6)
    np.testing.assert_allclose(got.grad_std, got.grad_std[-1], rtol=1e-6)
    assert np.all(got.branch_std == 0)
    assert np.all(got.weight_grad_std > 1)  # dL/dW2 = h^T r: the first step moves W2


def test_branch_scale_one_over_sqrt_depth_bounds_the_growth_by_e():
    for depth in (16, 64):
        got = residual_stats("he_normal", depth=depth, width=256, branch_scale=1 / math.sqrt(depth))
        assert abs(got.growth ** 2 / (1 + 2 / depth) ** depth - 1) < 0.15
        assert got.growth ** 2 < math.e ** 2 * 1.15
    assert fixup_scale(16) == pytest.approx(0.25) and fixup_scale(16, 3) == pytest.approx(0.5)


def test_depths_within_a_capacity_share_one_compilation(compiles):
    residual_stats("he_normal", depth=20, width=64, batch=32)
    with compiles() as c:
        for depth in (21, 40, 64):
            for norm in (None, "pre", "post"):
                residual_stats("he_normal", depth=depth, width=64, batch=32, norm=norm,
                               branch_scale=0.3, activation="tanh")
    assert len(c) == 0, c.names


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"depth": 0}, "depth must be"),
    ({"depth": 501}, "depth must be"),
    ({"width": 1.5}, "width must be"),
    ({"norm": "layer"}, "norm must be None .* received 'layer'"),
    ({"branch_scale": -1}, "branch_scale must be"),
    ({"zero_init_last": "yes"}, "zero_init_last must be True or False; received 'yes'"),
    ({"activation": "swish"}, "activation must be"),
    ({"seed": -1}, "seed"),
    ({"width": 2048, "depth": 500, "batch": 4096}, "GiB"),
])
def test_bad_arguments_are_named(kwargs, message):
    args = {"depth": 4, "width": 16, **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        residual_stats("he_normal", **args)


def test_a_custom_flax_initializer_is_used_and_checked():
    got = residual_stats(nn.initializers.normal(0.01), depth=4, width=64)
    assert got.growth == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(TypeError, match="must return an array of the requested shape"):
        residual_stats(lambda k, s, d=jnp.float32: jnp.zeros((3, 3), d), depth=2, width=8)
