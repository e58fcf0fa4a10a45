"""What exercise 2's check says: one entry per mistake code of ``lecun_normal_init``, the
hints, and the rule for bit-level agreement.

The rule (:data:`ULP_RULE`): every weight must equal Flax's ``lecun_normal()`` for the same
key, shape and dtype to within :data:`ULP_LIMIT` units in the last place (ulps) of that dtype,
float32 and bfloat16 alike. Flax computes ``truncated_normal(key, -2, 2, shape, dtype) *
(sqrt(1/fan_in) / 0.8796)``, each step rounded in ``dtype``; the same numbers computed in
another order round differently. Measured on eight shapes, five such orders (a Python-float
scale, ``/ sqrt(fan_in) / 0.8796``, two multiplications, one division, ``rsqrt``) land 0 to 3
ulps from Flax's weights, in float32 as in bfloat16: a one-ulp rule would fail correct code.
Every initialization mistake moves the weights by far more (the smallest, a missing 0.8796
rescale, by 14%: about 17 bfloat16 ulps and a million float32 ulps). A solution within the
rule passes, and the report says how far it is and which order matches Flax to the last bit.
"""

from __future__ import annotations

from initcourse.exercises.lecun import LECUN_WORDS
from initcourse.exercises.report import Mistake

#: How many units in the last place a weight may be from Flax's (see the module's docstring).
ULP_LIMIT = 4
#: The rule for bit-level agreement, as the report states it.
ULP_RULE = (f"every weight must be within {ULP_LIMIT} units in the last place (ulps) of Flax's "
            "lecun_normal() for the same key, shape and dtype, in float32 and bfloat16 alike: "
            "computing the scale in another order rounds it differently (0 to 3 ulps, "
            "measured), which is not an initialization mistake")

_RECIPE = "`jax.random.truncated_normal(key, -2, 2, shape, dtype) * std`"

_MISTAKES = (
    Mistake("not-defined", "`lecun_normal_init` is not defined yet.",
            "Run the starter cell above (the one with `def lecun_normal_init(key, shape, "
            "dtype=jnp.float32):`), then run this check again."),
    Mistake("wrong-signature",
            "`lecun_normal_init` cannot be called as `lecun_normal_init(key, shape)` and "
            "`lecun_normal_init(key, shape, dtype)`.",
            "Define it as `def lecun_normal_init(key, shape, dtype=jnp.float32):`, the "
            "signature every Flax initializer has."),
    Mistake("not-solved", "Not solved yet: `lecun_normal_init` still raises "
                          "`NotImplementedError`.",
            "Replace the `raise NotImplementedError(...)` line of the starter cell with your "
            "code, run that cell, then this one. Stuck? `initcourse.hint(exercise=2)`."),
    Mistake("timeout", "A call of `lecun_normal_init` did not finish in time.",
            "Look for a loop that never ends, or a Python loop over the weights: draw all of "
            "them at once with one `jax.random` call."),
    Mistake("calls-flax", "`lecun_normal_init` delegates to Flax's (or `jax.nn`'s) "
                          "initializers: the exercise is to build it from `jax.random` alone.",
            f"Draw the weights yourself: {_RECIPE}."),
    Mistake("raises", "`lecun_normal_init` raised an exception.",
            "Run the call named above in a cell of its own to see the full traceback."),
    Mistake("returns-list", "`lecun_normal_init` returns a Python list, not an array: a list "
                            "holds no dtype, and Flax stores what an initializer returns as "
                            "the parameter itself.",
            "Return the array the sampler gives you: no `.tolist()`, no list comprehension."),
    Mistake("wrong-shape", "The output does not have the requested `shape`.",
            "Pass `shape` unchanged to the `jax.random` sampler, and return its result."),
    Mistake("non-finite", "The output contains NaN or inf.",
            "Check the scale: `fan_in` is the product of every axis but the last, never 0."),
    Mistake("dtype-ignored", "The `dtype` argument is not used for the draw: the output is "
                             "not drawn in the dtype asked for.",
            "Pass `dtype` to the sampler and compute the scale in it: "
            "`jax.random.truncated_normal(key, -2, 2, shape, dtype)` and "
            "`jnp.array(..., dtype)`; casting a float32 draw at the end gives other numbers."),
    Mistake("key-ignored", "The output does not change with `key`.",
            "Draw from the `key` argument itself: no fixed key, no `PRNGKey(0)`, no NumPy "
            "random state."),
    Mistake("nondeterministic", "Two calls with the same key gave different weights.",
            "Draw from `key` alone: no clock, no global counter, no NumPy random state."),
    Mistake("not-truncated", "The weights are not cut at -2 and 2 standard normals: "
                             "lecun_normal() draws a truncated normal.",
            f"Use {_RECIPE}: {LECUN_WORDS}. Clipping a normal is not truncating it (it piles "
            "the cut weights on the bounds)."),
    Mistake("wrong-distribution", "The weights are not normal: a uniform distribution "
                                  "(or another one) drew them.",
            f"Use {_RECIPE}: {LECUN_WORDS}."),
    Mistake("missing-rescale", "The std is 0.88 of lecun_normal's: cutting a normal at -2 "
                               "and 2 leaves 0.8796 of its std, and the draws were not "
                               "divided by 0.8796 to make up for it.",
            "Divide by the cut normal's std: `std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / "
            "jnp.array(0.87962566103423978, dtype)`."),
    Mistake("wrong-fan", "The std is not 1/sqrt(fan_in): another fan (fan_out, or the "
                         "average of both) sets the scale.",
            "`fan_in` is every axis but the last: `fan_in = math.prod(shape[:-1])` "
            "(`shape[0]` for a Dense kernel)."),
    Mistake("receptive-field-ignored", "Right for Dense kernels, wrong for conv kernels: "
                                       "fan_in leaves out the receptive field.",
            "For a conv kernel `(3, 3, in, out)` each output sums 3*3*in inputs: "
            "`fan_in = math.prod(shape[:-1])`, not `shape[-2]` or `shape[0]`."),
    Mistake("wrong-scale", "The std is a constant factor away from 1/sqrt(fan_in) (He's "
                           "factor 2 in the variance, for instance).",
            "LeCun's variance is 1/fan_in, with no extra factor: `jnp.sqrt(jnp.array(1 / "
            "fan_in, dtype))`."),
    Mistake("rounded-constant", "Right distribution and right key, but every weight is Flax's "
                                "times one factor close to 1: a constant of the scale is "
                                "rounded or approximated (0.8796 for 0.87962566103423978, say).",
            "Use the constants in full: `jnp.array(0.87962566103423978, dtype)`, and "
            "`1 / fan_in` computed rather than typed in. Four digits are too few for float32, "
            "whose weights carry seven."),
    Mistake("rng-stream", "Right distribution, other numbers: the weights are not the ones "
                          "Flax draws from this key.",
            f"Draw once from the key you were given, {_RECIPE}: no `split` or `fold_in` "
            "first, no other sampler (`normal` then a rejection loop, an inverse CDF)."),
    Mistake("wrong-values", "The output differs from lecun_normal() in a way the check could "
                            "not pin down.",
            "Compare your code with the exercise statement; `initcourse.hint(exercise=2)` "
            "helps."),
)

#: code -> Mistake.
MISTAKES: dict[str, Mistake] = {m.code: m for m in _MISTAKES}
#: The stable mistake codes of exercise 2.
CODES: tuple[str, ...] = tuple(MISTAKES)

#: Hints, from a gentle nudge to nearly the whole answer: (text, code shown under it).
HINTS: tuple[tuple[str, str], ...] = (
    ("lecun_normal() is a normal distribution cut at -2 and 2 standard deviations, then "
     "scaled so that the variance is 1/fan_in. `jax.random` has a sampler for a cut normal; "
     "look at `jax.random.truncated_normal`'s arguments.", ""),
    ("Three numbers: `fan_in = math.prod(shape[:-1])` (a conv kernel's receptive field "
     "counts), the cut normal's std 0.87962566103423978, and `std = sqrt(1/fan_in) / 0.8796`. "
     "Compute the scale as an array of `dtype` so that bfloat16 stays bfloat16.", ""),
    ("The whole shape of the answer; fill in the scale:",
     "def lecun_normal_init(key, shape, dtype=jnp.float32):\n"
     "    fan_in = math.prod(shape[:-1])\n"
     "    std = ...  # sqrt(1 / fan_in) / 0.87962566103423978, as arrays of dtype\n"
     "    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std"),
)
