"""How long a deep *linear* network takes to learn, from orthogonal or Gaussian weights
(Saxe, McClelland & Ganguli 2013, *Exact solutions to the nonlinear dynamics of learning in
deep linear neural networks*).

The network is ``depth`` square ``(width, width)`` kernels; its end-to-end map is their
product ``P = W_1 W_2 ... W_depth``, read on its first ``outputs`` columns (a last layer with
fewer outputs than inputs). The task is linear regression on whitened inputs, so the loss is
``L = ||P[:, :outputs] - A||_F^2 / (2 width)`` for a fixed target ``A`` of shape
``(width, outputs)``. Full-batch gradient descent with the learning rate ``eta / depth``: each
layer's gradient moves the product by about ``eta`` times the error, so ``depth`` layers
together move it the same amount at every depth.

Every depth and both initializers run in one compiled program: the stacks are padded to the
deepest with identity kernels that never change, and the runs are ``vmap``-ed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from initcourse import _validate

__all__ = ["LinearLearning", "linear_learning", "regression_target"]

WEIGHTS = ("orthogonal", "gaussian")
#: Bound on ``runs * steps * max(depths) * width**3`` (every run multiplies the deepest stack):
#: notebook 11's call (20 runs, 800 steps, depth 50, width 16) is 3.3e9 and takes about 4 s here.
MAX_WORK = 2**33


@dataclass(frozen=True)
class LinearLearning:
    """Loss curves of deep linear networks.

    Attributes:
        loss: ``(len(WEIGHTS), len(depths), len(seeds), steps)`` loss before each step.
        steps_to: same leading shape: the first step whose loss is below
            ``criterion * zero_loss``, or ``-1`` if none within ``steps``.
        zero_loss: the loss of the zero map, ``||A||_F^2 / (2 width)``.
        weights, depths, seeds, width, outputs, eta, criterion: what ran.
    """

    loss: np.ndarray
    steps_to: np.ndarray
    zero_loss: float
    weights: tuple[str, ...]
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    width: int
    outputs: int
    eta: float
    criterion: float


def regression_target(width: int, outputs: int, *, seed: int = 0) -> np.ndarray:
    """A fixed target ``A`` ``(width, outputs)``: random singular vectors, singular values
    evenly from 2 down to 1 (every direction has something to learn)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((width, width)))
    v, _ = np.linalg.qr(rng.standard_normal((outputs, outputs)))
    return ((u[:, :outputs] * np.linspace(2.0, 1.0, outputs)) @ v.T).astype(np.float32)


def _stack(weights: str, seed: int, layers: int, width: int) -> jax.Array:
    init = (nn.initializers.orthogonal() if weights == "orthogonal"
            else nn.initializers.normal(1.0 / np.sqrt(width)))  # scaled Gaussian: N(0, 1/width)
    keys = jax.random.split(jax.random.PRNGKey(seed), layers)
    return jax.vmap(lambda k: init(k, (width, width), jnp.float32))(keys)  # one call for all layers


def product_loss(stack, depth, target):
    """``||(W_1 ... W_depth)[:, :outputs] - A||^2 / (2 width)``: kernels past ``depth`` are
    read as the identity (a loop over all of ``stack``: its bound is static, as reverse-mode
    differentiation needs)."""
    width = stack.shape[-1]
    live = (jnp.arange(stack.shape[0]) < depth)[:, None, None]
    padded = jnp.where(live, stack, jnp.eye(width))
    prod = jax.lax.fori_loop(0, stack.shape[0], lambda layer, p: p @ padded[layer], jnp.eye(width))
    return 0.5 * jnp.sum((prod[:, : target.shape[1]] - target) ** 2) / width


@functools.partial(jax.jit, static_argnames=("steps",))
def _descend(stacks, depths, rates, target, *, steps):
    layers = stacks.shape[1]

    def one(stack, depth, rate):
        live = (jnp.arange(layers) < depth)[:, None, None]
        grad = jax.value_and_grad(product_loss)

        def step(s, _):
            value, g = grad(s, depth, target)
            return s - rate * jnp.where(live, g, 0.0), value

        return jax.lax.scan(step, stack, None, length=steps)[1]

    return jax.vmap(one)(stacks, depths, rates)


def linear_learning(depths=(2, 5, 10, 20, 50), *, width=16, outputs=4, seeds=(0, 1, 2), steps=1500,
                    eta=1.0, criterion=0.01, target_seed=0) -> LinearLearning:
    """Train deep linear networks from ``orthogonal()`` and from ``normal(1/sqrt(width))``
    kernels (the same variance per weight) at every depth and seed; return the loss curves
    and the steps each needed to fall below ``criterion`` times the zero map's loss.

    Arguments:
        depths: kernels per network, each 1 to 200 (a non-empty sequence).
        width: units of every layer (2 to 64); outputs: columns of the product read (1 to width).
        seeds: draw the kernels (``PRNGKey(seed)``); steps: gradient steps (1 to 20,000).
        eta: the learning rate times the depth (> 0). criterion: in (0, 1).
        target_seed: draws the target (:func:`regression_target`).

    Cost: ``2 len(depths) len(seeds) * steps * max(depths) * width**3`` at most 2**33 (about
    10 s here); a larger call is refused before any work.
    """
    for name, value in (("depths", depths), ("seeds", seeds)):
        if not isinstance(value, (tuple, list, range)) or not value:
            raise TypeError(f"{name} must be a non-empty sequence of whole numbers; received "
                            f"{_validate.shown(value)}")
    depths = tuple(_validate.integral(f"depths[{i}]", d, minimum=1, maximum=200)
                   for i, d in enumerate(depths))
    width = _validate.integral("width", width, minimum=2, maximum=64)
    outputs = _validate.integral("outputs", outputs, minimum=1, maximum=width)
    seeds = tuple(_validate.seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))
    steps = _validate.integral("steps", steps, minimum=1, maximum=20_000)
    eta = _validate.positive_real("eta", eta)
    criterion = _validate.positive_real("criterion", criterion, maximum=1.0)
    work = 2 * len(depths) * len(seeds) * steps * max(depths) * width**3
    if work > MAX_WORK:
        raise ValueError(f"this would cost runs * steps * max(depths) * width^3 = {work:,}, above "
                         f"the bound of {MAX_WORK:,} (about 10 s here): use fewer steps, depths "
                         f"or seeds, or a smaller width")
    target = jnp.asarray(regression_target(width, outputs, seed=target_seed))
    layers = max(depths)
    stacks, runs_depth, rates = [], [], []
    for weights in WEIGHTS:
        drawn = {seed: _stack(weights, seed, layers, width) for seed in seeds}
        for depth in depths:
            for seed in seeds:
                stacks.append(drawn[seed])
                runs_depth.append(depth)
                rates.append(eta / depth)
    loss = np.asarray(_descend(jnp.stack(stacks), jnp.asarray(runs_depth, jnp.int32),
                               jnp.asarray(rates, jnp.float32), target, steps=steps), np.float64)
    loss = loss.reshape(len(WEIGHTS), len(depths), len(seeds), steps)
    zero = float(0.5 * jnp.sum(target**2) / width)
    below = loss < criterion * zero
    steps_to = np.where(below.any(axis=-1), below.argmax(axis=-1), -1)
    return LinearLearning(loss, steps_to, zero, WEIGHTS, depths, seeds, width, outputs, eta, criterion)
