"""The residual room's arguments (a fuzz of this round's additions found them unchecked): a
GPT's sizes and scheme are named when the model is built, its tokens when it is called;
flags are bools; sizes that would not finish in an interactive wait are refused first; an
overflow reads inf."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initcourse.residual import GPT, attention_entropy, gpt_at_init, norm_stats, race

SMALL = dict(vocab=16, n_layer=2, n_head=2, d_model=8, block_size=4)


@pytest.mark.parametrize("change, error, words", [
    ({"vocab": 0}, ValueError, "vocab must be >= 2; received 0"),
    ({"vocab": True}, TypeError, "vocab must be a number, not a bool"),
    ({"n_layer": 0}, ValueError, "n_layer must be >= 1"),
    ({"n_layer": -1}, ValueError, "n_layer must be >= 1"),
    ({"n_head": 3}, ValueError, "d_model must be a multiple of n_head"),
    ({"d_model": 0}, ValueError, "d_model must be >= 2"),
    ({"d_model": "x"}, TypeError, "d_model must be a real number"),
    ({"block_size": -1}, ValueError, "block_size must be >= 1"),
    ({"block_size": 3.5}, ValueError, "block_size must be a whole number"),
    ({"scheme": "GPT2"}, ValueError, "scheme must be one of"),
    ({"scaled": "no"}, TypeError, "scaled must be True or False; received 'no'"),
    ({"n_layer": 12, "d_model": 512}, ValueError, "above the bound of 8,388,608"),
])
def test_a_gpt_s_sizes_are_named_when_it_is_built(change, error, words):
    with pytest.raises(error, match=words):
        GPT(**{**SMALL, **change})


@pytest.mark.parametrize("tokens, error, words", [
    (jnp.zeros(4, jnp.int32), TypeError, "tokens must be a \\(batch, steps\\) array of integer"),
    (jnp.zeros((2, 4)), TypeError, "tokens must be a \\(batch, steps\\) array of integer"),
    (jnp.zeros((2, 5), jnp.int32), ValueError, "1 to block_size=4 steps; received shape \\(2, 5\\)"),
    (jnp.full((2, 4), 99), ValueError, "ids in \\[0, vocab=16\\); received ids from 99 to 99"),
    (jnp.full((2, 4), -1), ValueError, "received ids from -1 to -1"),
])
def test_a_gpt_s_tokens_are_checked_when_it_is_called(tokens, error, words):
    with pytest.raises(error, match=words):
        GPT(**SMALL).init(jax.random.PRNGKey(0), tokens)


def test_a_right_gpt_still_runs():
    params = GPT(**SMALL).init(jax.random.PRNGKey(0), jnp.zeros((2, 4), jnp.int32))
    logits, stream = GPT(**SMALL).apply(params, jnp.ones((2, 3), jnp.int32))
    assert logits.shape == (2, 3, 16) and stream.shape == (3,)


@pytest.mark.parametrize("call, error, words", [
    (lambda: gpt_at_init(n_layer=2, scaled="yes"), TypeError, "scaled must be True or False"),
    (lambda: gpt_at_init(n_layer=2, scaled=None), TypeError, "scaled must be True or False"),
    (lambda: gpt_at_init(n_layer=12, d_model=512, n_head=2, block_size=512), ValueError,
     "above the bound"),
    (lambda: attention_entropy(4, scaled=1), TypeError, "scaled must be True or False"),
    (lambda: attention_entropy(4096, steps=4096, batch=4096), ValueError, "above the bound"),
    (lambda: race(schemes=()), ValueError, "schemes must name at least one"),
    (lambda: race(schemes=None), TypeError, "schemes must be a sequence"),
    (lambda: race(seeds=None), TypeError, "seeds must be a sequence"),
    (lambda: race(seeds=(0, "1")), TypeError, "seeds\\[1\\]"),
    (lambda: race(depth=100, width=256, steps=5000, seeds=tuple(range(8))), ValueError,
     "above the bound of 137,438,953,472"),
    (lambda: norm_stats(1.0, depth=200, width=2048), ValueError, "depth \\* width\\*\\*2 = "),
    (lambda: norm_stats(1.0, depth=200, width=256, batch=4096), ValueError,
     "depth \\* batch \\* width = "),
])
def test_flags_and_sizes_are_refused_before_any_work(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_an_overflowing_plain_stack_reads_inf_never_nan(activation):
    stats = norm_stats(1000.0, norm="none", depth=200, width=256, batch=8, activation=activation)
    for values in (stats.forward_std, stats.weight_grad_std, stats.step_ratio):
        assert not np.isnan(values).any()
    assert np.isinf(stats.forward_std[-1])
    first = int(np.argmax(np.isinf(stats.forward_std)))
    assert np.isinf(stats.forward_std[first:]).all()
