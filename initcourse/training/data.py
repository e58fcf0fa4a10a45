"""The data and the initial params of :func:`initcourse.train`.

- :func:`digits`: scikit-learn's handwritten digits (1,797 8×8 images, bundled, no
  download), pixels scaled to [-1, 1], one fixed train/test split.
- :func:`batch_order`: which training rows each step sees, from the seed.
- :func:`init_params`: the MLP's initial params, drawn with the real Flax initializers.

The layout of the params is the one of :mod:`initcourse.training.engine`.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

#: Inputs (8×8 pixels) and classes of the digits.
FEATURES, CLASSES = 64, 10
#: The test set: this many images (36 per class), fixed once for the course.
TEST_SIZE = 360
#: The largest network :func:`initcourse.train` and :func:`initcourse.lsuv` build.
TRAIN_MAX_DEPTH, TRAIN_MAX_WIDTH = 200, 1024
#: Bound on ``runs * depth * width**2`` (for :func:`initcourse.lsuv`, one run): params,
#: optimizer state and gradients fit in 1 GiB, and LSUV's orthogonal start draws in about
#: 3 s on the course's 2-core machine (30 layers of width 1024: 2.9 s).
TRAIN_MAX_WEIGHTS = 2**25


@dataclass(frozen=True)
class Digits:
    """The digits, split once. ``x_*``: (n, 64) float32 in [-1, 1]; ``y_*``: (n,) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _digits_file() -> Path:
    # Located without importing scikit-learn (its import costs seconds); the test suite
    # checks that this is exactly what ``sklearn.datasets.load_digits()`` returns.
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("initcourse.train needs scikit-learn's digits: pip install scikit-learn")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


@functools.cache
def digits() -> Digits:
    """The handwritten digits of ``sklearn.datasets.load_digits``, split 1,437 / 360.

    Pixels (0 to 16) are scaled to [-1, 1]. The test set is 36 images of each class,
    drawn once with NumPy's ``default_rng(0)``: the same for every run, every seed and
    every learner; the other 1,437 images are the training set.
    """
    table = np.loadtxt(_digits_file(), delimiter=",")
    x = (table[:, :-1] / 8.0 - 1.0).astype(np.float32)
    y = table[:, -1].astype(np.int32)
    rng = np.random.default_rng(0)
    per_class = TEST_SIZE // CLASSES
    test = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class]
                                   for c in range(CLASSES)]))
    train = np.setdiff1d(np.arange(y.size), test)
    arrays = (x[train], y[train], x[test], y[test])
    for array in arrays:
        array.setflags(write=False)
    return Digits(*arrays)


def batch_order(seed: int, steps: int, batch: int) -> np.ndarray:
    """The training rows of every step, shape ``(steps, batch)`` int32.

    Epochs of the training set, each in a fresh random order (NumPy's PCG64 seeded with
    ``seed mod 2**64``, a one-to-one map of the 64-bit seeds); a batch never spans two
    epochs, so an epoch's last ``n_train mod batch`` rows sit that epoch out.
    """
    n = digits().x_train.shape[0]
    rng = np.random.default_rng(seed % 2**64)
    per_epoch = n // batch
    epochs = -(-steps // per_epoch)
    rows = [rng.permutation(n)[: per_epoch * batch].reshape(per_epoch, batch) for _ in range(epochs)]
    return np.concatenate(rows)[:steps].astype(np.int32)


def layer_key(seed: int, layer: int) -> jax.Array:
    """The key of one layer: ``fold_in(PRNGKey(seed), layer)``; hidden layers are 0 to
    ``depth - 1``, the output layer is ``depth``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), layer)


def hidden_kernels(init: Callable, *, depth: int, width: int, seed: int):
    """The hidden kernels ``(first (64, width), hidden (depth-1, width, width))``; layer
    ``l`` is ``init(layer_key(seed, l), shape, float32)``.

    Drawn one layer at a time: the draws of one shape compile once, whatever the depth
    (and the first layer shares them when ``width`` is 64).
    """
    first = init(layer_key(seed, 0), (FEATURES, width), jnp.float32)
    hidden = [init(layer_key(seed, layer), (width, width), jnp.float32) for layer in range(1, depth)]
    hidden = jnp.stack(hidden) if hidden else jnp.zeros((0, width, width), jnp.float32)
    return first, hidden


def assemble(first, hidden, *, depth: int, width: int, seed: int, out_scale: float = 1.0) -> dict:
    """Params from the hidden kernels: zero biases, a ``lecun_normal()`` output layer
    multiplied by ``out_scale`` (``0.01`` shrinks the initial logits a hundredfold, Karpathy's
    fix of a bad initial loss in makemore part 3; ``0`` starts every logit at exactly 0)."""
    out_key = layer_key(seed, depth)
    out_kernel = nn.initializers.lecun_normal()(out_key, (width, CLASSES), jnp.float32)
    return {
        "first": {"kernel": jnp.asarray(first, jnp.float32), "bias": jnp.zeros(width, jnp.float32)},
        "hidden": {"kernel": jnp.asarray(hidden, jnp.float32).reshape(depth - 1, width, width),
                   "bias": jnp.zeros((depth - 1, width), jnp.float32)},
        "out": {"kernel": out_kernel * jnp.float32(out_scale) if out_scale != 1.0 else out_kernel,
                "bias": jnp.zeros(CLASSES, jnp.float32)},
    }


def init_params(init: Callable, *, depth: int, width: int, seed: int, gain: float = 1.0,
                out_scale: float = 1.0) -> dict:
    """The initial params of one run: ``init`` (times ``gain``) for the hidden kernels, the
    output kernel times ``out_scale`` (see :func:`assemble`)."""
    first, hidden = hidden_kernels(init, depth=depth, width=width, seed=seed)
    if gain != 1.0:
        first, hidden = first * gain, hidden * gain
    return assemble(first, hidden, depth=depth, width=width, seed=seed, out_scale=out_scale)
