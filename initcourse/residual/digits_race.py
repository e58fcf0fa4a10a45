"""A training race of residual networks on the course's digits: the same stack started by
different schemes, several seeds of each, in one compiled program.

The network: ``h_0 = x W_in`` (64 -> width), then ``depth`` blocks ``h + a_l (W2 relu(W1
u + b1) + b2)`` with ``u = h`` or ``LN(h)`` (pre-LN, which also normalizes before the
readout), then ``logits = h W_out + b``. Every kernel is He-normal unless the scheme says:

- ``"he"``: nothing else (``a_l = 1``): the stream's variance triples per block;
- ``"scaled"``: ``a_l = 1 / sqrt(depth)``, fixed;
- ``"fixup"``: Fixup's rules 1 and 2 (Zhang et al. 2019): the readout and every ``W2`` start
  at zero, every ``W1`` is scaled by ``depth^(-1/2)`` (``L^(-1/(2m-2))``, ``m = 2``); its
  scalar biases and multipliers are left out;
- ``"rezero"``: ReZero (Bachlechner et al. 2020): ``a_l`` a learned scalar that starts at 0;
- ``"pre-ln"``: LayerNorm before each branch and before the readout, ``a_l = 1``.

The scheme's settings are inputs of the program, not constants in it: every scheme and
seed of one shape shares one compilation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from initcourse import _validate
from initcourse.training.data import FEATURES, batch_order, digits

SCHEMES = ("he", "scaled", "fixup", "rezero", "pre-ln")
MAX_DEPTH, MAX_WIDTH, MAX_STEPS, MAX_RUNS = 100, 256, 5000, 64
#: Bound on ``runs * steps * batch * depth * 2 * width**2`` (the blocks' multiply-adds): about
#: 20 s here (notebook 12's race, 15 runs of 16 blocks at width 64 for 300 steps, is 7.5e10
#: and takes 11.5 s once compiled).
MAX_WORK = 2**37


@dataclass(frozen=True)
class RaceResult:
    """Losses of a race: ``loss`` ``{scheme: (seeds, steps)}`` (the training batch's
    cross-entropy, NaN once a run diverged), ``test_accuracy`` ``{scheme: (seeds,)}``, and
    the settings."""

    loss: dict
    test_accuracy: dict
    depth: int
    width: int
    steps: int
    learning_rate: float
    seeds: tuple[int, ...]

    def final(self, scheme: str, window: int = 20) -> np.ndarray:
        """Mean loss of the last ``window`` steps of each seed (NaN if it diverged)."""
        return np.mean(self.loss[scheme][:, -window:], axis=1)


def _settings(scheme: str, depth: int) -> dict:
    return {"alpha": {"scaled": 1 / math.sqrt(depth), "rezero": 0.0}.get(scheme, 1.0),
            "learn_alpha": float(scheme == "rezero"), "norm": float(scheme == "pre-ln"),
            "w1_scale": depth ** -0.5 if scheme == "fixup" else 1.0,
            "zero_last": float(scheme == "fixup")}


def _layer_norm(x):
    mean = jnp.mean(x, -1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(jnp.var(x, -1, keepdims=True) + 1e-6)


def _init(key, s, *, depth, width):
    he = jax.nn.initializers.he_normal()
    k_in, k1, k2, k_out = jax.random.split(key, 4)
    keep = 1.0 - s["zero_last"]
    return {
        "in": he(k_in, (FEATURES, width)),
        "w1": jax.vmap(lambda k: he(k, (width, width)))(jax.random.split(k1, depth)) * s["w1_scale"],
        "b1": jnp.zeros((depth, width)),
        "w2": jax.vmap(lambda k: he(k, (width, width)))(jax.random.split(k2, depth)) * keep,
        "b2": jnp.zeros((depth, width)),
        "alpha": jnp.full((depth,), s["alpha"]),
        "out": jax.nn.initializers.lecun_normal()(k_out, (width, 10)) * keep,
        "b_out": jnp.zeros(10),
    }


def _logits(p, x, norm):
    def block(h, layer):
        w1, b1, w2, b2, a = layer
        u = jnp.where(norm > 0, _layer_norm(h), h)
        return h + a * (jax.nn.relu(u @ w1 + b1) @ w2 + b2), None

    h, _ = jax.lax.scan(block, x @ p["in"], (p["w1"], p["b1"], p["w2"], p["b2"], p["alpha"]))
    return jnp.where(norm > 0, _layer_norm(h), h) @ p["out"] + p["b_out"]


def _loss(p, x, y, norm):
    return optax.softmax_cross_entropy_with_integer_labels(_logits(p, x, norm), y).mean()


@functools.partial(jax.jit, static_argnames=("depth", "width"))
def _race(keys, settings, order, lr, x, y, x_test, y_test, *, depth, width):
    """One run per row of ``keys``/``settings``/``order``: losses (runs, steps), accuracy."""
    opt = optax.sgd(lr, momentum=0.9)

    def run(key, s, rows):
        params = _init(key, s, depth=depth, width=width)
        mask = jax.tree.map(jnp.ones_like, params) | {"alpha": jnp.full((depth,), s["learn_alpha"])}

        def step(state, idx):
            params, opt_state = state
            loss, grads = jax.value_and_grad(_loss)(params, x[idx], y[idx], s["norm"])
            grads = jax.tree.map(lambda g, m: g * m, grads, mask)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), rows)
        accuracy = jnp.mean(jnp.argmax(_logits(params, x_test, s["norm"]), -1) == y_test)
        return losses, accuracy

    return jax.vmap(run)(keys, settings, order)


def race(schemes=SCHEMES, *, depth=16, width=64, steps=300, seeds=(0, 1, 2), learning_rate=0.01,
         batch=128) -> RaceResult:
    """Train one residual stack per scheme and seed (SGD with momentum 0.9) on the digits.

    Arguments:
        schemes: names of :data:`SCHEMES` (a non-empty sequence, or one name).
        depth: residual blocks, 1 to 100; width: units, 2 to 256.
        steps: SGD steps, 1 to 5000; seeds: the seeds of each scheme (draws and batches).
        learning_rate: in (0, 10].
    """
    if isinstance(schemes, str):
        schemes = (schemes,)
    if not isinstance(schemes, (tuple, list)):
        raise TypeError(f"schemes must be a sequence of names of {SCHEMES}; received "
                        f"{_validate.shown(schemes)}")
    if not schemes:
        raise ValueError(f"schemes must name at least one of {SCHEMES}; received ()")
    schemes = tuple(_validate.choice(f"schemes[{i}]", s, SCHEMES) for i, s in enumerate(schemes))
    depth = _validate.integral("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = _validate.integral("width", width, minimum=2, maximum=MAX_WIDTH)
    steps = _validate.integral("steps", steps, minimum=1, maximum=MAX_STEPS)
    batch = _validate.integral("batch", batch, minimum=1, maximum=1024)
    if not isinstance(seeds, (tuple, list, range)):
        raise TypeError(f"seeds must be a sequence of seeds such as (0, 1, 2); received "
                        f"{_validate.shown(seeds)}")
    seeds = tuple(_validate.seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))
    if not seeds or len(seeds) * len(schemes) > MAX_RUNS:
        raise ValueError(f"seeds: between 1 and {MAX_RUNS // max(len(schemes), 1)} seeds for "
                         f"{len(schemes)} schemes; received {len(seeds)}")
    lr = _validate.positive_real("learning_rate", learning_rate, maximum=10.0)
    work = len(seeds) * len(schemes) * steps * batch * depth * 2 * width**2
    if work > MAX_WORK:
        raise ValueError(f"this race would cost runs * steps * batch * depth * 2 * width^2 = "
                         f"{work:,}, above the bound of {MAX_WORK:,} (about 20 s here): use fewer "
                         f"seeds, schemes or steps, or a smaller network")
    data = digits()
    runs = [(scheme, seed) for scheme in schemes for seed in seeds]
    settings = {k: jnp.asarray([_settings(s, depth)[k] for s, _ in runs], jnp.float32)
                for k in _settings("he", depth)}
    keys = jnp.stack([jax.random.PRNGKey(seed) for _, seed in runs])
    order = jnp.asarray(np.stack([batch_order(seed, steps, batch) for _, seed in runs]))
    losses, accuracy = _race(keys, settings, order, jnp.float32(lr), jnp.asarray(data.x_train),
                             jnp.asarray(data.y_train), jnp.asarray(data.x_test),
                             jnp.asarray(data.y_test), depth=depth, width=width)
    losses, accuracy = np.asarray(losses, np.float64), np.asarray(accuracy, np.float64)
    n = len(seeds)
    return RaceResult({s: losses[i * n:(i + 1) * n] for i, s in enumerate(schemes)},
                      {s: accuracy[i * n:(i + 1) * n] for i, s in enumerate(schemes)},
                      depth, width, steps, lr, seeds)
