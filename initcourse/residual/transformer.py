"""A small GPT in Flax Linen, nanoGPT's layout, under the initialization schemes the course
compares; what it measures at init: the residual stream per block, the initial loss, the
attention's entropy.

The parameter tree is nanoGPT's (``wte``, ``wpe``, ``h_0 .. h_{n_layer-1}`` each with
``ln_1``, ``attn/c_attn``, ``attn/c_proj``, ``ln_2``, ``mlp/c_fc``, ``mlp/c_proj``, and
``ln_f``); the output head is tied to ``wte``, as in GPT-2. Each scheme's rule sits in
:func:`initializers`, next to the names it applies to:

- ``"gpt2"``: every kernel and embedding normal(0.02); both ``c_proj`` kernels
  normal(0.02 / sqrt(2 n_layer)), because each block adds to the stream twice;
- ``"gpt2-unscaled"``: normal(0.02) everywhere, ``c_proj`` included;
- ``"zero-branch"``: GPT-2's rule with both ``c_proj`` kernels at zero (every block starts
  as the identity: SkipInit/ReZero's idea);
- ``"flax"``: what ``nn.Dense`` and ``nn.Embed`` draw when given nothing
  (``lecun_normal()`` kernels; ``nn.Embed``'s ``variance_scaling(1, "fan_in", "normal",
  out_axis=0)``, std 1/sqrt(d_model)).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax.linen import linear

from initcourse import _validate

SCHEMES = ("gpt2", "gpt2-unscaled", "zero-branch", "flax")
GPT_SCHEMES = SCHEMES  # the name the room's face gives them (its race has SCHEMES of its own)
GPT2_STD = 0.02
MAX_LAYERS, MAX_D_MODEL, MAX_VOCAB = 48, 512, 65_536
#: Bound on attention_entropy's draws (float64: 256 MiB for the keys).
MAX_DRAWS = 2**25
#: Bound on the GPT's weights: its init, drawn eagerly, stays within a few seconds here.
MAX_WEIGHTS = 2**23


def initializers(scheme: str, n_layer: int) -> dict:
    """The scheme's initializer for each kind of parameter: ``kernel``, ``proj`` (both
    ``c_proj`` kernels), ``embed``; biases are zero and LayerNorms (1, 0) in every scheme."""
    normal = nn.initializers.normal
    if scheme == "flax":
        # Flax's own defaults, read from Flax (not restated): what nn.Dense and nn.Embed draw.
        return {"kernel": linear.default_kernel_init, "proj": linear.default_kernel_init,
                "embed": linear.default_embed_init}
    proj = {"gpt2": normal(GPT2_STD / math.sqrt(2 * n_layer)), "gpt2-unscaled": normal(GPT2_STD),
            "zero-branch": nn.initializers.zeros}[scheme]
    return {"kernel": normal(GPT2_STD), "proj": proj, "embed": normal(GPT2_STD)}


class Attention(nn.Module):
    """Causal self-attention; ``scaled`` divides the logits q·k by sqrt(d_k)."""

    n_head: int
    inits: dict
    scaled: bool = True

    @nn.compact
    def __call__(self, x):
        batch, steps, d = x.shape
        qkv = nn.Dense(3 * d, kernel_init=self.inits["kernel"], name="c_attn")(x)
        q, k, v = (a.reshape(batch, steps, self.n_head, d // self.n_head).transpose(0, 2, 1, 3)
                   for a in jnp.split(qkv, 3, axis=-1))
        logits = q @ k.transpose(0, 1, 3, 2)
        if self.scaled:
            logits = logits / math.sqrt(d // self.n_head)
        mask = jnp.tril(jnp.ones((steps, steps), bool))
        att = jax.nn.softmax(jnp.where(mask, logits, -jnp.inf), axis=-1)
        # Entropy of each row, over the positions it may attend to (row t: t + 1 of them).
        self.sow("intermediates", "entropy", -jnp.sum(jnp.where(mask, att * jnp.log(
            jnp.where(mask, att, 1.0)), 0.0), axis=-1))
        y = (att @ v).transpose(0, 2, 1, 3).reshape(batch, steps, d)
        return nn.Dense(d, kernel_init=self.inits["proj"], name="c_proj")(y)


class MLP(nn.Module):
    inits: dict

    @nn.compact
    def __call__(self, x):
        h = nn.gelu(nn.Dense(4 * x.shape[-1], kernel_init=self.inits["kernel"], name="c_fc")(x))
        return nn.Dense(x.shape[-1], kernel_init=self.inits["proj"], name="c_proj")(h)


class Block(nn.Module):
    """A pre-LN block: ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(x))``."""

    n_head: int
    inits: dict
    scaled: bool = True

    @nn.compact
    def __call__(self, x):
        x = x + Attention(self.n_head, self.inits, self.scaled, name="attn")(
            nn.LayerNorm(epsilon=1e-5, name="ln_1")(x))
        return x + MLP(self.inits, name="mlp")(nn.LayerNorm(epsilon=1e-5, name="ln_2")(x))


class GPT(nn.Module):
    """``tokens (batch, steps) -> (logits (batch, steps, vocab), stream (n_layer + 1, ))``:
    the logits and the std of the residual stream after the embeddings and each block."""

    vocab: int
    n_layer: int
    n_head: int
    d_model: int
    block_size: int
    scheme: str = "gpt2"
    scaled: bool = True

    def __post_init__(self):
        # Checked when the model is built, so that a wrong size is named here rather than
        # surfacing as a shape error deep inside a Dense layer.
        _check(self.vocab, self.n_layer, self.n_head, self.d_model, self.block_size, self.scheme)
        _validate.flag("scaled", self.scaled)
        super().__post_init__()

    @nn.compact
    def __call__(self, tokens):
        _check_tokens(tokens, self.vocab, self.block_size)
        inits = initializers(self.scheme, self.n_layer)
        wte = nn.Embed(self.vocab, self.d_model, embedding_init=inits["embed"], name="wte")
        wpe = nn.Embed(self.block_size, self.d_model, embedding_init=inits["embed"], name="wpe")
        x = wte(tokens) + wpe(jnp.arange(tokens.shape[1]))
        stream = [jnp.std(x)]
        for layer in range(self.n_layer):
            x = Block(self.n_head, inits, self.scaled, name=f"h_{layer}")(x)
            stream.append(jnp.std(x))
        x = nn.LayerNorm(epsilon=1e-5, name="ln_f")(x)
        return wte.attend(x), jnp.stack(stream)


def _check_tokens(tokens, vocab: int, block_size: int) -> None:
    """``tokens``: a (batch, steps) integer array, steps <= block_size, ids in [0, vocab)
    (the ids are read only when they are concrete, not under ``jit``)."""
    shape, dtype = getattr(tokens, "shape", None), getattr(tokens, "dtype", None)
    if shape is None or len(shape) != 2 or not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"tokens must be a (batch, steps) array of integer token ids; received "
                        f"{_validate.shown(tokens)}")
    if not 1 <= shape[1] <= block_size:
        raise ValueError(f"tokens must hold 1 to block_size={block_size} steps; received shape "
                         f"{tuple(shape)}")
    if not isinstance(tokens, jax.core.Tracer) and shape[0] * shape[1]:
        low, high = int(jnp.min(tokens)), int(jnp.max(tokens))
        if low < 0 or high >= vocab:
            raise ValueError(f"tokens must be ids in [0, vocab={vocab}); received ids from {low} "
                             f"to {high}")


def _check(vocab, n_layer, n_head, d_model, block_size, scheme):
    vocab = _validate.integral("vocab", vocab, minimum=2, maximum=MAX_VOCAB)
    n_layer = _validate.integral("n_layer", n_layer, minimum=1, maximum=MAX_LAYERS)
    n_head = _validate.integral("n_head", n_head, minimum=1, maximum=64)
    d_model = _validate.integral("d_model", d_model, minimum=n_head, maximum=MAX_D_MODEL)
    if d_model % n_head:
        raise ValueError(f"d_model must be a multiple of n_head; received d_model={d_model}, "
                         f"n_head={n_head}")
    block_size = _validate.integral("block_size", block_size, minimum=1, maximum=1024)
    scheme = _validate.choice("scheme", scheme, SCHEMES)
    weights = 12 * n_layer * d_model**2 + (vocab + block_size) * d_model
    if weights > MAX_WEIGHTS:
        raise ValueError(f"this GPT would have about {weights:,} weights (12 n_layer d_model^2 + "
                         f"(vocab + block_size) d_model), above the bound of {MAX_WEIGHTS:,} (its "
                         f"init, drawn op by op, takes a few seconds there): use fewer layers or a "
                         f"smaller d_model")
    return vocab, n_layer, n_head, d_model, block_size, scheme


@functools.lru_cache(maxsize=16)
def _programs(vocab, n_layer, n_head, d_model, block_size, scaled):
    """The jitted forward pass, shared by every scheme of one shape (the scheme only
    changes the numbers in ``params``), and one jitted ``init`` per scheme."""
    shape = (vocab, n_layer, n_head, d_model, block_size)
    models = {scheme: GPT(*shape, scheme, scaled) for scheme in SCHEMES}

    @jax.jit
    def measure(params, tokens, targets):
        (logits, stream), state = models["gpt2"].apply({"params": params}, tokens,
                                                       mutable=["intermediates"])
        loss = jnp.mean(-jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], -1))
        entropy = jnp.stack([jnp.mean(state["intermediates"][f"h_{i}"]["attn"]["entropy"][0], (0, 1))
                             for i in range(n_layer)])
        return stream, loss, jnp.std(logits), entropy

    # Eager: tracing and compiling init costs seconds at 24 blocks, running it op by op
    # a fraction of that.
    inits = {scheme: (lambda key, tokens, m=model: m.init(key, tokens)["params"])
             for scheme, model in models.items()}
    return inits, measure


def init_params(scheme="gpt2", *, n_layer=12, d_model=64, n_head=4, vocab=256, block_size=32,
                seed=0) -> dict:
    """The small GPT's ``params`` under ``scheme``, drawn by Flax from ``PRNGKey(seed)``."""
    vocab, n_layer, n_head, d_model, block_size, scheme = _check(
        vocab, n_layer, n_head, d_model, block_size, scheme)
    inits, _ = _programs(vocab, n_layer, n_head, d_model, block_size, True)
    return inits[scheme](jax.random.PRNGKey(_validate.seed(seed)),
                         jnp.zeros((1, block_size), jnp.int32))


def gpt_at_init(scheme="gpt2", *, n_layer=12, d_model=64, n_head=4, vocab=256, block_size=32,
                batch=8, seed=0, scaled=True) -> dict:
    """One small GPT at initialization on random tokens.

    Returns a dict of NumPy values: ``stream_std`` ``(n_layer + 1,)`` (after the embeddings,
    then each block), ``loss`` (the cross-entropy of the next token, uniform random tokens:
    ``ln(vocab)`` is the loss of a uniform guess), ``logit_std``, ``entropy``
    ``(n_layer, block_size)`` (each block's attention entropy at each position, averaged
    over heads and batch; position t can reach at most ``ln(t + 1)``).
    """
    vocab, n_layer, n_head, d_model, block_size, scheme = _check(
        vocab, n_layer, n_head, d_model, block_size, scheme)
    batch = _validate.integral("batch", batch, minimum=1, maximum=256)
    seed = _validate.seed(seed)
    scaled = _validate.flag("scaled", scaled)
    inits, measure = _programs(vocab, n_layer, n_head, d_model, block_size, scaled)
    rng = np.random.default_rng(seed)
    tokens = jnp.asarray(rng.integers(0, vocab, (batch, block_size)), jnp.int32)
    targets = jnp.asarray(rng.integers(0, vocab, (batch, block_size)), jnp.int32)
    params = inits[scheme](jax.random.PRNGKey(seed), tokens[:1])
    stream, loss, logit_std, entropy = measure(params, tokens, targets)
    return {"stream_std": np.asarray(stream, np.float64), "loss": float(loss),
            "logit_std": float(logit_std), "entropy": np.asarray(entropy, np.float64)}


def attention_entropy(d_k, *, steps=64, q_std=1.0, scaled=True, seed=0, batch=256) -> float:
    """Mean entropy (nats) of ``softmax(q·k / sqrt(d_k))`` (or without the division) over
    ``steps`` keys, for q and k with i.i.d. normal(0, q_std) entries: the logits' variance
    is ``d_k * q_std**4``, divided by ``d_k`` when ``scaled``. ``ln(steps)`` is uniform
    attention."""
    d_k = _validate.integral("d_k", d_k, minimum=1, maximum=4096)
    steps = _validate.integral("steps", steps, minimum=2, maximum=4096)
    q_std = _validate.positive_real("q_std", q_std, maximum=1e3)
    batch = _validate.integral("batch", batch, minimum=1, maximum=4096)
    scaled = _validate.flag("scaled", scaled)
    if batch * steps * d_k > MAX_DRAWS:
        raise ValueError(f"batch * steps * d_k = {batch * steps * d_k:,} normal draws, above the "
                         f"bound of {MAX_DRAWS:,} (about a second here): use a smaller batch, "
                         f"fewer steps or a smaller d_k")
    rng = np.random.default_rng(_validate.seed(seed))
    q = rng.normal(0, q_std, (batch, 1, d_k))
    k = rng.normal(0, q_std, (batch, steps, d_k))
    logits = np.sum(q * k, axis=-1) / (math.sqrt(d_k) if scaled else 1.0)
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    return float(np.mean(-np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)))


def deepnorm_constants(n_layer) -> tuple[float, float]:
    """DeepNet's ``(alpha, beta)`` for a decoder-only stack of ``n_layer`` blocks (Wang et
    al. 2022, Table 1): ``alpha = (2N)^(1/4)``, ``beta = (8N)^(-1/4)``."""
    n = _validate.integral("n_layer", n_layer, minimum=1, maximum=10**6)
    return (2 * n) ** 0.25, (8 * n) ** -0.25
