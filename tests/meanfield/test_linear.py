"""initcourse.meanfield.linear_learning against a hand-written deep linear network: the loss
of the explicit product, and plain gradient descent on a list of kernels with jax.grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from initcourse.meanfield import linear


def _by_hand(weights, depth, seed, width, outputs, eta, steps, layers):
    init = nn.initializers.orthogonal() if weights == "orthogonal" else nn.initializers.normal(width**-0.5)
    keys = jax.random.split(jax.random.PRNGKey(seed), layers)  # one key per layer of the deepest run
    kernels = [init(k, (width, width), jnp.float32) for k in keys[:depth]]
    target = jnp.asarray(linear.regression_target(width, outputs))

    def loss(ks):
        prod = jnp.eye(width)
        for k in ks:
            prod = prod @ k
        return 0.5 * jnp.sum((prod[:, :outputs] - target) ** 2) / width

    losses = []
    for _ in range(steps):
        value, grads = jax.value_and_grad(loss)(kernels)
        losses.append(float(value))
        kernels = [k - eta / depth * g for k, g in zip(kernels, grads, strict=True)]
    return np.array(losses)


@pytest.mark.parametrize("weights", linear.WEIGHTS)
def test_curves_match_gradient_descent_written_by_hand(weights):
    width, outputs, steps, depths = 8, 3, 12, (1, 3)  # depth 1 runs padded with 2 identity kernels
    run = linear.linear_learning(depths + (3,), width=width, outputs=outputs, seeds=(4,), steps=steps,
                                 eta=0.8)
    w = linear.WEIGHTS.index(weights)
    for d, depth in enumerate(depths):
        expected = _by_hand(weights, depth, 4, width, outputs, 0.8, steps, layers=3)
        np.testing.assert_allclose(run.loss[w, d, 0], expected, rtol=2e-5, atol=1e-7)


def test_steps_to_the_criterion_and_the_zero_loss():
    run = linear.linear_learning((2,), width=8, outputs=2, seeds=(0,), steps=300, criterion=0.05)
    target = linear.regression_target(8, 2)
    assert run.zero_loss == pytest.approx(0.5 * np.sum(target.astype(np.float64) ** 2) / 8, rel=1e-6)
    curve, hit = run.loss[0, 0, 0], int(run.steps_to[0, 0, 0])
    assert hit > 0 and curve[hit] < 0.05 * run.zero_loss <= curve[:hit].min()
    never = linear.linear_learning((2,), width=8, outputs=2, seeds=(0,), steps=2, criterion=1e-6)
    assert (never.steps_to == -1).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="outputs"):
        linear.linear_learning((2,), width=4, outputs=5)
    with pytest.raises(ValueError, match="criterion"):
        linear.linear_learning((2,), criterion=2.0)


@pytest.mark.parametrize("call, error, words", [
    (lambda: linear.linear_learning(5), TypeError,
     "depths must be a non-empty sequence of whole numbers; received 5"),
    (lambda: linear.linear_learning(()), TypeError, "depths must be a non-empty sequence"),
    (lambda: linear.linear_learning((2, 0)), ValueError, r"depths\[1\] must be >= 1"),
    (lambda: linear.linear_learning((2,), seeds=None), TypeError, "seeds must be a non-empty sequence"),
    (lambda: linear.linear_learning((2,), seeds=(0, -1)), ValueError, r"seeds\[1\]"),
    (lambda: linear.linear_learning((200,), width=64, steps=20_000), ValueError,
     "above the bound of 8,589,934,592"),
])
def test_arguments_and_cost_are_checked_before_any_work(call, error, words):
    with pytest.raises(error, match=words):
        call()
