"""What exercise 3's check says: one entry per mistake code of ``init_block``, and the hints.

The rule the check holds a block to is GPT-2's (Radford et al. 2019, as nanoGPT's
``_init_weights`` writes it): every kernel normal(0.02), except both ``c_proj`` kernels,
normal(0.02 / sqrt(2 * n_layer)); every bias zero; LayerNorm scale one, bias zero.
"""

from __future__ import annotations

from initcourse.exercises.report import Mistake

_CALL = "`init_block(seed, d_model, n_head, n_layer)`"
_PROJ = "`nn.initializers.normal(0.02 / math.sqrt(2 * n_layer))`"

_MISTAKES = (
    Mistake("not-defined", "`init_block` is not defined yet.",
            "Run the starter cell above (the one with `class Block(nn.Module):` and `def "
            "init_block(seed, d_model, n_head, n_layer):`), then run this check again."),
    Mistake("wrong-signature", f"`init_block` cannot be called as {_CALL}.",
            "Define it as `def init_block(seed, d_model, n_head, n_layer):`."),
    Mistake("not-solved", "Not solved yet: the starter still raises `NotImplementedError`.",
            "Fill in `kernel_init`, `proj_init` and `init_block` in the starter cell, run it, "
            "then this one. Stuck? `initcourse.hint(exercise=3)`."),
    Mistake("timeout", "A call of `init_block` did not finish in time.",
            "Look for a loop that never ends; `Block(...).init(key, x)` itself takes well "
            "under a second once JAX has compiled its operations."),
    Mistake("seed-not-cast", "`init_block` fails when `seed` is a float such as `3.0`.",
            "Cast it: `jax.random.PRNGKey(int(seed))` (`PRNGKey` refuses floats)."),
    Mistake("raises", "`init_block` raised an exception.",
            "Run the call named above in a cell of its own to see the full traceback."),
    Mistake("wrong-type", "`init_block` does not return a parameter tree (a dict such as "
                          "`Block.init` returns).",
            "Return what `Block(...).init(key, x)` returns: `{'params': {...}}`."),
    Mistake("tree", "The parameter tree is not nanoGPT's: paths are missing or extra, or a "
                    "shape is wrong.",
            "Name the submodules as the starter does (`ln_1`, `attn` with `c_attn` and "
            "`c_proj`, `ln_2`, `mlp` with `c_fc` and `c_proj`), `c_attn` with `3 * d_model` "
            "outputs and `c_fc` with `4 * d_model`, and initialize with an input of shape "
            "`(1, T, d_model)`."),
    Mistake("non-finite", "Some parameters are NaN or inf.",
            "Check each initializer's scale: `n_layer` is at least 1, so "
            "`0.02 / math.sqrt(2 * n_layer)` is finite."),
    Mistake("dtype", "Some parameters are not float32.",
            "Leave `param_dtype` at its default (float32): GPT-2 keeps float32 master weights."),
    Mistake("seed-ignored", "The parameters do not change with `seed`.",
            "Initialize from `jax.random.PRNGKey(int(seed))`, not from a fixed key."),
    Mistake("nondeterministic", "Two calls with the same arguments gave different parameters.",
            "Draw every parameter from the key made of `seed`: no `np.random`, no global "
            "state."),
    Mistake("zero-branch", "Both `c_proj` kernels are zero: every block starts as the "
                           "identity. That is a sound scheme (SkipInit, ReZero, Fixup's zero "
                           "last layer; notebook 12), but it is not GPT-2's rule.",
            f"Draw both `c_proj` kernels from {_PROJ}."),
    Mistake("residual-unscaled", "Both `c_proj` kernels have std 0.02, like the other "
                                 "kernels: the 2 * n_layer branch outputs that add up in the "
                                 "stream are not scaled down.",
            f"Draw both `c_proj` kernels from {_PROJ}."),
    Mistake("residual-scale", "A `c_proj` kernel has another std than 0.02 / sqrt(2 * "
                              "n_layer).",
            f"Both `c_proj` kernels (attention's and the MLP's) use {_PROJ}: the 2 counts "
            "the two branches of each block, and the scale must follow `n_layer`."),
    Mistake("fixed-std", "A kernel that should have std 0.02 has another.",
            "Give `c_attn` and `c_fc` `kernel_init=nn.initializers.normal(0.02)` (stddev "
            "0.02; `nn.Dense`'s default is `lecun_normal()`, std 1/sqrt(fan_in))."),
    Mistake("distribution", "A kernel has the right std but is not drawn from a normal "
                            "distribution centred at 0.",
            "Use `nn.initializers.normal(std)`: not `uniform`, not `truncated_normal`, no "
            "offset."),
    Mistake("bias-nonzero", "A bias is not zero.",
            "Give every `nn.Dense` `bias_init=nn.initializers.zeros` (Flax's default too)."),
    Mistake("layernorm-init", "A LayerNorm does not start at scale one and bias zero.",
            "Keep `nn.LayerNorm`'s defaults (`scale_init=ones`, `bias_init=zeros`): at init "
            "each LayerNorm only standardizes."),
)

MISTAKES: dict[str, Mistake] = {m.code: m for m in _MISTAKES}
#: The stable mistake codes of exercise 3.
CODES: tuple[str, ...] = tuple(MISTAKES)

#: Hints, from a gentle nudge to nearly the whole answer: (text, code shown under it).
HINTS: tuple[tuple[str, str], ...] = (
    ("GPT-2 uses one std, 0.02, for every kernel, and one exception: the two kernels that "
     "write into the residual stream (`attn/c_proj` and `mlp/c_proj`). Each block adds to "
     "the stream twice, so a model of `n_layer` blocks sums `2 * n_layer` branch outputs.",
     ""),
    ("Variances of independent terms add: to keep the sum of `2 * n_layer` branch outputs at "
     "the variance of one, divide each one's variance by `2 * n_layer`, its std by "
     "`sqrt(2 * n_layer)`. Flax's `nn.initializers.normal(stddev)` draws a normal of that std.",
     ""),
    ("The two initializers and `init_block`; the rest of the starter stays as it is:",
     "def kernel_init():\n"
     "    return nn.initializers.normal(0.02)\n\n\n"
     "def proj_init(n_layer):\n"
     "    return nn.initializers.normal(0.02 / math.sqrt(2 * n_layer))\n\n\n"
     "def init_block(seed, d_model, n_head, n_layer):\n"
     "    block = Block(n_head=int(n_head), n_layer=int(n_layer))\n"
     "    return block.init(jax.random.PRNGKey(int(seed)), jnp.zeros((1, T, int(d_model))))"),
)
