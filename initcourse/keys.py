"""Where a Flax parameter's random key comes from, and comparing parameter trees.

Flax never hands the key you pass to ``init`` (Linen) or ``nnx.Rngs`` (NNX) to an
initializer as it is. It derives one key per parameter:

- **Linen** folds into the root key a hash of the parameter's *module path* (the names of
  the modules it sits in) and of a count of the keys that module has drawn so far
  (1 for its first parameter, 2 for the second, ...). :func:`linen_param_key` rebuilds it.
- **NNX** keeps a counter per stream and folds it in: the *n*-th key drawn from
  ``nnx.Rngs(seed)`` is ``fold_in(key(seed), n)``, whatever the attribute names.
  :func:`nnx_param_key` rebuilds it.

Both are re-derivations of Flax's own rules, checked against Flax in the tests, so the
notebooks can show *why* the same layer draws different numbers in different places.
"""

from __future__ import annotations

import hashlib

import flax
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from initcourse import _validate

__all__ = ["linen_param_key", "nnx_param_key", "param_paths", "same_params"]


def _typed(key, name: str = "key") -> jax.Array:
    """A typed key from a typed key or a raw ``PRNGKey`` (shape ``(2,)``, uint32)."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be a single key; received keys of shape {key.shape}")
        return key
    if isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        f"{name} must be a JAX key (jax.random.key(seed) or jax.random.PRNGKey(seed)); "
        f"received {key!r}"
    )


def _as_raw(typed: jax.Array, like) -> jax.Array:
    """Return ``typed`` in the same kind (typed or raw) as ``like``."""
    if jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
        return typed
    return jax.random.key_data(typed)


def linen_param_key(key, *path: str, count: int = 1) -> jax.Array:
    """The key Linen gives the ``count``-th parameter a module at ``path`` creates.

    Arguments:
        key: the key passed to ``Module.init`` (typed or raw ``PRNGKey``).
        path: the names of the modules from the top module down, e.g. ``"Dense_0"`` for an
            ``nn.Dense`` inside an ``@nn.compact`` module; nothing for the top module's own
            parameters (a bare ``nn.Dense``).
        count: 1 for the first key the module draws (a Dense kernel), 2 for the second (its
            bias), ...

    Returns:
        a key of the same kind as ``key``: ``kernel_init(linen_param_key(key, "Dense_0"),
        shape, dtype)`` is the kernel ``init`` stores at ``params/Dense_0/kernel``.

    Flax folds into ``key`` the first four bytes of the SHA-1 hash of the names and the count
    (``flax.core.scope``); with ``flax.config.flax_fix_rng_separator`` a zero byte precedes
    each item, as in Flax.
    """
    typed = _typed(key)
    for index, name in enumerate(path):
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"path must be module names (non-empty str); received {name!r} at position {index}"
            )
    count = _validate.integral("count", count, minimum=1)
    digest = hashlib.sha1()
    for item in (*path, count):
        if flax.config.flax_fix_rng_separator:
            digest.update(b"\x00")
        if isinstance(item, str):
            digest.update(item.encode("utf-8"))
        else:
            digest.update(item.to_bytes((item.bit_length() + 7) // 8, byteorder="big"))
    folded = jax.random.fold_in(typed, int.from_bytes(digest.digest()[:4], byteorder="big"))
    return _as_raw(folded, key)


def nnx_param_key(seed, index: int) -> jax.Array:
    """The ``index``-th key (from 0) that ``nnx.Rngs(seed)`` hands out: ``fold_in(key(seed), index)``.

    An ``nnx.Linear`` built with ``rngs=nnx.Rngs(seed)`` takes key 0 for its kernel and key 1
    for its bias (even ``zeros`` consumes one); the next layer built from the same ``Rngs``
    takes keys 2 and 3, and so on. ``seed`` is a whole number or a key.
    """
    if isinstance(seed, jax.Array) and (
        jnp.issubdtype(seed.dtype, jax.dtypes.prng_key) or seed.dtype == jnp.uint32
    ):
        root = _typed(seed, "seed")
    else:
        root = jax.random.key(_validate.seed(seed))
    index = _validate.integral("index", index, minimum=0)
    return jax.random.fold_in(root, index)


def _name(entry) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def param_paths(tree) -> dict[str, jax.Array]:
    """Flatten a parameter tree (Linen variables, an NNX state) to ``{"a/b/kernel": array}``.

    An NNX ``Variable`` (``nnx.Param``, ...) counts as one leaf: its value.
    """
    def is_variable(node) -> bool:
        return isinstance(node, nnx.Variable)

    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_variable)[0]
    return {
        "/".join(_name(entry) for entry in path): leaf.get_value() if is_variable(leaf) else leaf
        for path, leaf in leaves
    }


def same_params(a, b) -> bool:
    """True when two parameter trees have the same paths, shapes, dtypes and bits.

    Bits, not values: ``0.0`` and ``-0.0`` differ, a NaN equals the same NaN.
    """
    flat_a, flat_b = param_paths(a), param_paths(b)
    if flat_a.keys() != flat_b.keys():
        return False
    for name, leaf in flat_a.items():
        x, y = np.asarray(leaf), np.asarray(flat_b[name])
        if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
            return False
    return True
