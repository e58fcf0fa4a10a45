"""The small GPT: nanoGPT's parameter tree, each scheme's rule (judged by exercise 3's own
statistics), and the measurements notebook 13 asserts."""

import math

import jax
import numpy as np
import pytest
from flax.linen import linear

from initcourse.exercises.block.judge import judge
from initcourse.residual import attention_entropy, deepnorm_constants, gpt_at_init, init_params


def test_the_tree_is_nanogpts_and_gpt2s_rule_passes_exercise_3s_judge():
    params = init_params("gpt2", n_layer=6, d_model=64, n_head=4, vocab=256, block_size=32)
    assert sorted(params) == ["h_0", "h_1", "h_2", "h_3", "h_4", "h_5", "ln_f", "wpe", "wte"]
    assert params["wte"]["embedding"].shape == (256, 64)
    for i in range(6):
        findings, _ = judge(params[f"h_{i}"], 64, 6, f"h_{i}")
        assert findings == [], findings
    unscaled = init_params("gpt2-unscaled", n_layer=6)
    assert [f.code for f in judge(unscaled["h_0"], 64, 6, "h_0")[0]] == ["residual-unscaled"]
    zero = init_params("zero-branch", n_layer=6)
    assert [f.code for f in judge(zero["h_0"], 64, 6, "h_0")[0]] == ["zero-branch"]


def test_the_flax_scheme_is_what_flax_draws_by_default():
    params = init_params("flax", n_layer=2, seed=3)
    kernel = params["h_0"]["attn"]["c_attn"]["kernel"]
    keyed = linear.default_kernel_init(jax.random.PRNGKey(0), kernel.shape)
    assert abs(float(np.std(kernel)) - float(np.std(keyed))) < 0.01 * float(np.std(keyed))
    assert abs(float(np.std(params["wte"]["embedding"])) - 1 / 8) < 0.005


def test_gpt2_streams_end_the_same_size_at_every_depth_and_start_at_ln_vocab():
    ends = [gpt_at_init("gpt2", n_layer=n)["stream_std"][-1] for n in (3, 12)]
    assert max(ends) / min(ends) < 1.05
    run = gpt_at_init("gpt2", n_layer=3)
    assert abs(run["loss"] - math.log(256)) < 0.03
    assert run["stream_std"][0] == pytest.approx(0.02 * math.sqrt(2), rel=0.05)
    assert np.all(np.abs(run["entropy"] - np.log(np.arange(32) + 1)) < 0.01)
    assert gpt_at_init("flax", n_layer=3)["loss"] > math.log(256) + 0.3


def test_attention_entropy_and_deepnorm():
    assert attention_entropy(256, scaled=False) < 0.5 < 3 < attention_entropy(256)
    assert abs(attention_entropy(16) - attention_entropy(256)) < 0.05
    assert attention_entropy(8, q_std=1e-3) == pytest.approx(math.log(64), abs=1e-3)
    for n in (1, 12, 500):
        alpha, beta = deepnorm_constants(n)
        assert alpha == pytest.approx((2 * n) ** 0.25) and 4 * n * beta**2 / alpha**2 == pytest.approx(1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scheme": "gpt3"}, "scheme must be"),
    ({"d_model": 66, "n_head": 4}, "d_model must be a multiple of n_head"),
    ({"n_layer": 0}, "n_layer must be"),
    ({"vocab": 1}, "vocab must be"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        gpt_at_init(**{"n_layer": 2, **kwargs})
