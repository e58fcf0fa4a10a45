"""initcourse.audit on NNX models (as built): the Flax traps and their fix, stacks,
residual growth, convolutions and attention; the model is not changed."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from initcourse.audit import audit

he, lecun = nnx.initializers.he_normal(), nnx.initializers.lecun_normal()


def data(*shape, seed=1):
    return jax.random.normal(jax.random.key(seed), shape)


def test_einsum_trap_and_its_fix():
    trap = nnx.Einsum("nta,hab->nthb", (8, 64, 64), rngs=nnx.Rngs(0))
    report = audit(trap, data(4, 16, 64))
    assert report.at("kernel") == ("fan-in-mismatch",)
    assert report.layers[0].kernel_std == pytest.approx(1 / math.sqrt(512), rel=0.03)
    assert report.layers[0].output_std ** 2 == pytest.approx(0.125, rel=0.15)
    init = nnx.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=1,
                                             out_axis=(0, 2))
    fixed = audit(nnx.Einsum("nta,hab->nthb", (8, 64, 64), kernel_init=init,
                             rngs=nnx.Rngs(0)), data(4, 16, 64))
    assert fixed.passed and fixed.layers[0].output_std ** 2 == pytest.approx(1, rel=0.15)


def test_linear_general_batch_axis_trap_and_its_fix():
    x = data(8, 32, 64)
    report = audit(nnx.LinearGeneral(64, 64, batch_axis={0: 8}, rngs=nnx.Rngs(0)), x)
    assert report.at("kernel") == ("fan-in-mismatch",)
    assert "variance_scaling(8 * scale" in report.findings[0].fix
    init = nnx.initializers.variance_scaling(8.0, "fan_in", "truncated_normal")
    fixed = audit(nnx.LinearGeneral(64, 64, batch_axis={0: 8}, kernel_init=init,
                                    rngs=nnx.Rngs(0)), x)
    assert fixed.passed and fixed.layers[0].output_std ** 2 == pytest.approx(1, rel=0.15)


class Stack(nnx.Module):
    def __init__(self, init, activation, depth=6, width=64, *, rngs):
        self.layers = nnx.List([nnx.Linear(width, width, kernel_init=init, rngs=rngs)
                                for _ in range(depth)])
        self.activation = activation

    def __call__(self, x):
        for layer in self.layers:
            x = self.activation(layer(x))
        return x


@pytest.mark.parametrize("init, activation, expected", [
    (he, nnx.relu, ()),
    (lecun, jnp.tanh, ()),
    (lecun, nnx.relu, ("vanishing",)),
    (nnx.initializers.normal(0.3), nnx.relu, ("exploding",)),
])
def test_stacks(init, activation, expected):
    model = Stack(init, activation, rngs=nnx.Rngs(0))
    before = model.layers[0].kernel[...]
    report = audit(model, data(64, 64))
    assert report.codes == expected, report.message
    if expected:
        assert report.findings[0].path == "layers/1/kernel"
    assert jnp.array_equal(model.layers[0].kernel[...], before)


class Residual(nnx.Module):
    def __init__(self, width, *, rngs):
        self.w1 = nnx.Linear(width, width, kernel_init=he, rngs=rngs)
        self.w2 = nnx.Linear(width, width, kernel_init=he, rngs=rngs)

    def __call__(self, x):
        return x + self.w2(nnx.relu(self.w1(x)))


def test_unnormalized_he_residual_stack_grows():
    blocks = nnx.List([Residual(64, rngs=nnx.Rngs(i)) for i in range(6)])
    model = nnx.Sequential(*blocks)
    report = audit(model, data(64, 64))
    assert report.codes == ("residual-growth",)
    assert report.findings[0].path == "layers/0/w2/kernel"
    growth = [(b.output_rms / b.input_rms) ** 2 for b in report.blocks]
    assert 2.5 < math.exp(sum(map(math.log, growth)) / len(growth)) < 3.5, growth


def test_residual_stack_with_zero_init_branches_is_clean():
    blocks = [Residual(64, rngs=nnx.Rngs(i)) for i in range(6)]
    for block in blocks:
        block.w2.kernel[...] = jnp.zeros_like(block.w2.kernel[...])
    report = audit(nnx.Sequential(*blocks), data(64, 64))
    assert "residual-growth" not in report.codes


def test_convolutions_are_clean():
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(
        nnx.Conv(16, 32, (3, 3), kernel_init=he, rngs=rngs), nnx.relu,
        nnx.Conv(32, 32, (3, 3), feature_group_count=32, padding="VALID", strides=2,
                 kernel_init=he, rngs=rngs), nnx.relu,
        nnx.Conv(32, 8, (1, 1), rngs=rngs))
    report = audit(model, data(8, 12, 12, 16))
    assert report.findings == (), report.message
    assert [r.fan_in_structural for r in report.layers] == [144, 9, 32]
    assert report.layers[1].kernel_std == pytest.approx(math.sqrt(2 / 9), rel=0.2)


def test_flax_attention_with_norms_is_clean():
    class Model(nnx.Module):
        def __init__(self, rngs):
            self.norm = nnx.LayerNorm(64, rngs=rngs)
            self.attn = nnx.MultiHeadAttention(4, 64, decode=False, rngs=rngs)

        def __call__(self, x):
            return x + self.attn(self.norm(x))

    report = audit(Model(nnx.Rngs(0)), data(4, 16, 64))
    assert report.findings == (), report.message
    assert [r.kind for r in report.layers][:2] == ["LayerNorm", "LinearGeneral"]
    assert report.layers[-1].kind == "MultiHeadAttention"
    assert report.layers[1].param_path == "attn/query/kernel"
