"""initcourse.audit on Linen models: the Flax traps, mis-scaled and well-scaled stacks,
residual growth, convolutions, embeddings, norms, GPT-2 and Flax's attention."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from initcourse.audit import audit

he, lecun, normal = nn.initializers.he_normal(), nn.initializers.lecun_normal(), nn.initializers.normal


def data(*shape, seed=1):
    return jax.random.normal(jax.random.key(seed), shape)


class Stack(nn.Module):
    rule: object = None  # the kernel initializer
    activation: object = None
    depth: int = 6
    width: int = 64
    bias: float = 0.0

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = self.activation(nn.Dense(self.width, kernel_init=self.rule,
                                         bias_init=nn.initializers.constant(self.bias))(x))
        return x


def test_einsum_with_a_head_axis_is_a_fan_in_mismatch():
    model = nn.Einsum((8, 64, 64), "nta,hab->nthb")
    report = audit(model, data(4, 16, 64))
    assert report.at("kernel") == ("fan-in-mismatch",)
    layer = report.layers[0]
    assert (layer.fan_in_implied, layer.fan_in_structural) == (512, 64)
    assert layer.fan_in_measured == pytest.approx(64, rel=0.15)
    assert layer.output_std ** 2 == pytest.approx(0.125, rel=0.15)
    assert "in_axis=1, out_axis=(0, 2)" in report.findings[0].fix


def test_einsum_with_the_fixed_init_is_clean_and_keeps_variance():
    init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=1,
                                            out_axis=(0, 2))
    report = audit(nn.Einsum((8, 64, 64), "nta,hab->nthb", kernel_init=init), data(4, 16, 64))
    assert report.passed and report.layers[0].output_std ** 2 == pytest.approx(1, rel=0.15)


def test_dense_general_with_batch_dims_is_a_fan_in_mismatch():
    report = audit(nn.DenseGeneral(64, batch_dims=(0,)), data(8, 32, 64))
    assert report.at("kernel") == ("fan-in-mismatch",)
    assert report.layers[0].kernel_std == pytest.approx(1 / math.sqrt(512), rel=0.05)


def test_a_nested_path_is_flax_s_parameter_path():
    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Einsum((8, 64, 64), "nta,hab->nthb", name="c_proj")(x)

    class Top(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Outer(name="attn")(x)

    report = audit(Top(), data(2, 8, 64))
    variables = Top().init(jax.random.key(0), data(2, 8, 64))
    assert "kernel" in variables["params"]["attn"]["c_proj"]
    assert [f.path for f in report.findings] == ["attn/c_proj/kernel"]


@pytest.mark.parametrize("init, activation, code", [
    (lecun, nn.relu, "vanishing"),
    (normal(0.01), nn.relu, "vanishing"),
    (normal(0.3), nn.relu, "exploding"),
])
def test_mis_scaled_stacks(init, activation, code):
    report = audit(Stack(init, activation), data(64, 64))
    assert code in report.codes
    finding = next(f for f in report.findings if f.code == code)
    assert finding.path.startswith("Dense_") and finding.path.endswith("/kernel")


@pytest.mark.parametrize("init, activation", [
    (he, nn.relu), (lecun, jnp.tanh), (lecun, lambda v: v),
    (nn.initializers.glorot_normal(), jnp.tanh),
])
def test_well_scaled_stacks_are_clean(init, activation):
    report = audit(Stack(init, activation), data(64, 64))
    assert report.findings == (), report.message


def test_a_negative_bias_kills_relu_units():
    report = audit(Stack(he, nn.relu, depth=4, bias=-2.0), data(64, 64))
    assert "dead-relu" in report.codes


def test_a_large_fixed_std_saturates_tanh():
    report = audit(Stack(normal(1.0), jnp.tanh, depth=3), data(64, 64))
    assert "saturated-tanh" in report.codes


class Residual(nn.Module):
    @nn.compact
    def __call__(self, x):
        return x + nn.Dense(x.shape[-1], kernel_init=he)(nn.relu(nn.Dense(x.shape[-1],
                                                                          kernel_init=he)(x)))


class ResidualStack(nn.Module):
    depth: int = 6

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = Residual()(x)
        return x


def test_unnormalized_he_residual_stack_grows():
    report = audit(ResidualStack(), data(64, 64))
    assert report.codes == ("residual-growth",)
    finding = report.findings[0]
    assert finding.path == "Residual_0/Dense_0/kernel"  # the branch's last (outer) Dense
    growth = [(b.output_rms / b.input_rms) ** 2 for b in report.blocks]
    # each block multiplies the variance by 1 + Var(branch)/Var(x), about 3 here
    assert 2.5 < math.exp(sum(map(math.log, growth)) / len(growth)) < 3.5, growth
    assert all(g == pytest.approx(1 + b.branch_ratio, rel=0.2)
               for g, b in zip(growth, report.blocks, strict=True))


class Convs(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(16, (3, 3), padding="SAME", kernel_init=he)(x))
        x = nn.relu(nn.Conv(32, (3, 3), padding="VALID", strides=2, kernel_init=he)(x))
        x = nn.relu(nn.Conv(32, (3, 3), feature_group_count=32, kernel_init=he)(x))
        x = nn.relu(nn.Conv(32, (3, 3), feature_group_count=4, kernel_init=he)(x))
        return nn.Conv(8, (1, 1))(x)


def test_convolutions_are_clean():
    report = audit(Convs(), data(8, 16, 16, 3))
    assert report.findings == (), report.message
    fan_ins = [r.fan_in_structural for r in report.layers]
    assert fan_ins == [27, 144, 9, 72, 32]
    depthwise = report.layers[2]
    assert depthwise.kernel_shape == (3, 3, 1, 32)
    assert depthwise.kernel_std == pytest.approx(math.sqrt(2 / 9), rel=0.2)


def test_embeddings_and_norms_are_clean():
    class Model(nn.Module):
        @nn.compact
        def __call__(self, tokens):
            x = nn.Embed(100, 32)(tokens)
            x = nn.LayerNorm()(x)
            x = nn.Dense(32)(x)
            x = nn.BatchNorm(use_running_average=False)(x)
            return nn.Dense(8)(x)

    report = audit(Model(), jax.random.randint(jax.random.key(0), (16, 8), 0, 100))
    assert report.findings == (), report.message
    assert [r.category for r in report.layers] == ["embed", "norm", "linear", "norm", "linear"]
    assert report.layers[0].fan_in_structural == 1 and report.layers[0].input_second_moment is None


class Attention(nn.Module):
    n_layer: int

    @nn.compact
    def __call__(self, x):
        _, t, c = x.shape
        qkv = nn.Dense(3 * c, kernel_init=normal(0.02), name="c_attn")(x)
        q, k, v = (a.reshape(*a.shape[:2], 4, c // 4) for a in jnp.split(qkv, 3, axis=-1))
        logits = jnp.einsum("bthd,bshd->bhts", q, k) / math.sqrt(c // 4)
        logits = jnp.where(jnp.tril(jnp.ones((t, t), bool)), logits, -1e9)
        y = jnp.einsum("bhts,bshd->bthd", jax.nn.softmax(logits), v).reshape(x.shape)
        return nn.Dense(c, kernel_init=normal(0.02 / math.sqrt(2 * self.n_layer)),
                        name="c_proj")(y)


class GPT2Block(nn.Module):
    n_layer: int

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        x = x + Attention(self.n_layer, name="attn")(nn.LayerNorm(name="ln_1")(x))
        h = nn.gelu(nn.Dense(4 * c, kernel_init=normal(0.02), name="c_fc")(
            nn.LayerNorm(name="ln_2")(x)))
        return x + nn.Dense(c, kernel_init=normal(0.02 / math.sqrt(2 * self.n_layer)),
                            name="c_proj")(h)


class GPT2(nn.Module):
    n_layer: int = 4
    d_model: int = 64

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(50, self.d_model, embedding_init=normal(0.02), name="wte")(tokens)
        x = x + nn.Embed(16, self.d_model, embedding_init=normal(0.01), name="wpe")(
            jnp.arange(tokens.shape[1]))
        for i in range(self.n_layer):
            x = GPT2Block(self.n_layer, name=f"h_{i}")(x)
        return nn.Dense(50, kernel_init=normal(0.02), name="lm_head")(nn.LayerNorm(name="ln_f")(x))


def test_gpt2_by_gpt2_s_rule_has_no_finding_only_a_note():
    report = audit(GPT2(), jax.random.randint(jax.random.key(0), (8, 16), 0, 50))
    assert report.findings == (), report.message
    assert [n.code for n in report.notes] == ["not-variance-preserving"]
    assert "h_0/attn/c_attn/kernel" in report.notes[0].paths
    c_attn = next(r for r in report.layers if r.param_path == "h_0/attn/c_attn/kernel")
    assert c_attn.gain == pytest.approx(0.0004 * 64, rel=0.1)  # 0.026 per layer, by design


def test_flax_attention_is_clean():
    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(3):
                x = x + nn.MultiHeadDotProductAttention(num_heads=4)(nn.LayerNorm()(x))
            return x

    report = audit(Model(), data(4, 16, 64))
    assert report.findings == (), report.message
    kinds = [r.kind for r in report.layers]
    assert kinds.count("MultiHeadDotProductAttention") == 3 and kinds.count("DenseGeneral") == 12


def test_an_unknown_layer_is_listed_not_guessed():
    class Scaled(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x @ self.param("w", lecun, (x.shape[-1], 32))

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(8)(Scaled(name="mine")(x))

    report = audit(Model(), data(16, 32))
    assert [(r.path, r.audited) for r in report.layers] == [("mine", False), ("Dense_0", True)]
    assert report.findings == () and [n.code for n in report.notes] == ["not-audited"]
    assert "mine" in str(report)


def test_linen_init_uses_the_seed():
    model = nn.Dense(16)
    x = data(8, 16)
    kernel = model.init(jax.random.key(5), x)["params"]["kernel"]
    assert audit(model, x, seed=5).layers[0].kernel_std == pytest.approx(float(kernel.std()),
                                                                          rel=1e-5)
