"""What exercise 1's check says to a learner: one entry per mistake code, and the hints.

Each mistake code is stable (tests, the grading CSV and instructors rely on it) and has a
title (what went wrong) and a fix (the sentence that repairs it). The probes in
:mod:`initcourse.exercises.dense.probes` add a detail computed from the learner's function (a measured
std, the shape that came back, the exception's message).
"""

from __future__ import annotations

from initcourse.exercises.lecun import LECUN_WORDS
from initcourse.exercises.report import Mistake

_MISTAKES = (
    Mistake(
        "not-defined",
        "`solve` is not defined yet.",
        "Run the starter cell above (the one with `def solve(seed, x, features):`), "
        "then run this check again.",
    ),
    Mistake(
        "wrong-signature",
        "`solve` cannot be called as `solve(seed, x, features)`.",
        "Define it with exactly three parameters, in this order: "
        "`def solve(seed, x, features):`.",
    ),
    Mistake(
        "not-solved",
        "Not solved yet: `solve` still raises `NotImplementedError`.",
        "Replace the `raise NotImplementedError(...)` lines of the starter cell with your code, "
        "run that cell, then this one. Stuck? `initcourse.hint()` gives a hint.",
    ),
    Mistake(
        "timeout",
        "A call to `solve` did not finish in time.",
        "Look for a loop that never ends or a very large computation. The check stops a "
        "runaway Python loop; if it says it could not, and the notebook gets slow, restart the "
        "kernel (Kernel > Restart Kernel) and rerun your cells.",
    ),
    Mistake(
        "calls-reference",
        "`solve` calls the course's answer key (`initcourse.solve` or `initcourse.LecunDense`).",
        "Write the module and `solve` yourself; `initcourse.show_solution()` shows the answer "
        "key if you want to read it.",
    ),
    Mistake(
        "float-seed",
        "`solve` fails when `seed` is a float (`42.0`) and works when it is an int (`42`).",
        "`jax.random.PRNGKey` needs an integer: pass it `int(seed)`.",
    ),
    Mistake(
        "float-features",
        "`solve` fails when `features` is a float (`3.0`) and works when it is an int (`3`).",
        "`nn.Dense` needs an integer number of features: use `int(features)`.",
    ),
    Mistake(
        "factory-not-called",
        "An initializer factory was passed without `()`: Flax called it as "
        "`lecun_normal(key, shape, dtype)`, which returns a new initializer, not an array.",
        "Call the factory: `kernel_init=nn.initializers.lecun_normal()`. Only `zeros` and "
        "`ones` are ready-made initializers that you pass without `()`.",
    ),
    Mistake(
        "factory-called",
        "A ready-made initializer was called: `nn.initializers.zeros()` runs `zeros` with no "
        "key and no shape, which raises.",
        "Pass it without `()`: `bias_init=nn.initializers.zeros`.",
    ),
    Mistake(
        "raises",
        "`solve` raised an exception.",
        "Run the call named above in a cell of its own to see the full traceback.",
    ),
    Mistake(
        "wrong-shape",
        "The output is not a 1-D array of length `features`.",
        "Apply the module to the 1-D `x` itself (not `x[None]` or `x.reshape(1, -1)`), and "
        "return only the output array (not the params, not a tuple).",
    ),
    Mistake(
        "dtype",
        "The numbers are not float32.",
        "Keep Flax's default float32: no `dtype=` or `param_dtype=` arguments to `nn.Dense`, "
        "no `.astype(...)` on the input or the result.",
    ),
    Mistake(
        "non-finite",
        "The output contains NaN or inf.",
        "Return the layer's output as it is: a Dense layer with a `lecun_normal()` kernel and "
        "a zero bias gives finite numbers for a finite `x`.",
    ),
    Mistake(
        "nondeterministic",
        "Two calls with the same arguments gave different outputs.",
        "Make the key from `seed` alone, `jax.random.PRNGKey(int(seed))`: no clock, no global "
        "counter, no NumPy global random state.",
    ),
    Mistake(
        "mutates-input",
        "`solve` writes into its input `x` (an in-place `x *= ...` or `x[...] = ...` on a NumPy "
        "array): the caller's array is changed.",
        "Leave `x` as it is: compute new arrays (`y = x * 2`) instead of changing `x` in place.",
    ),
    Mistake(
        "activation-applied",
        "The output is not affine in `x`: an activation (or another step) was applied after "
        "the Dense layer.",
        "Return the Dense layer's output, `x @ kernel + bias`, as it is: remove the activation "
        "(`nn.relu`, `jnp.tanh`, ...) or whatever else comes after the layer.",
    ),
    Mistake(
        "bias-not-zero",
        "The bias is not zero: `solve(seed, zeros, features)` should return all zeros.",
        "Use `bias_init=nn.initializers.zeros` (a ready-made initializer: no `()`).",
    ),
    Mistake(
        "kernel:normal-0.01",
        "The kernel was drawn by `normal(stddev=0.01)`: a fixed std of 0.01, blind to fan-in.",
        "Use `kernel_init=nn.initializers.lecun_normal()`: std 1/sqrt(fan_in).",
    ),
    Mistake(
        "kernel:glorot",
        "The kernel has Glorot's (Xavier's) std sqrt(2/(fan_in + fan_out)), not LeCun's.",
        "Use `kernel_init=nn.initializers.lecun_normal()`: std 1/sqrt(fan_in).",
    ),
    Mistake(
        "kernel:he",
        "The kernel has He's std sqrt(2/fan_in), not LeCun's 1/sqrt(fan_in).",
        "Use `kernel_init=nn.initializers.lecun_normal()`: He is meant for ReLU layers.",
    ),
    Mistake(
        "kernel:uniform",
        "The kernel has the right std, 1/sqrt(fan_in), but it was drawn from a uniform "
        "distribution, not a truncated normal.",
        "Use `kernel_init=nn.initializers.lecun_normal()` rather than `lecun_uniform()`.",
    ),
    Mistake(
        "kernel:constant",
        "Every weight of the kernel is the same number: a constant initializer "
        "(`zeros` or `ones`) was used for the kernel.",
        "Use `kernel_init=nn.initializers.lecun_normal()`; `zeros` is for the bias.",
    ),
    Mistake(
        "kernel:unknown-scale",
        "The kernel was not drawn by `lecun_normal()`.",
        f"Use `kernel_init=nn.initializers.lecun_normal()`: {LECUN_WORDS}.",
    ),
    Mistake(
        "seed-ignored",
        "The output does not change with `seed`.",
        "Build the key from the argument, `jax.random.PRNGKey(int(seed))`, on every call: no "
        "fixed number, no params kept from an earlier call.",
    ),
    Mistake(
        "rng-stream",
        "Your layer is right, but its numbers come from another random stream. Flax derives "
        "each parameter's key from the key given to `init` and the parameter's path in the "
        "module tree, `params/Dense_0/kernel` in the reference.",
        "Pass `jax.random.PRNGKey(int(seed))` unchanged to `init` (no `jax.random.split`, no "
        "`seed + 1`), and create one unnamed `nn.Dense` inside an `@nn.compact` module: a bare "
        "`nn.Dense` (path `params/kernel`) or a named one (`params/<name>/kernel`) draws other "
        "numbers.",
    ),
    Mistake(
        "other-api",
        "Your layer is right, written with the other Flax API: Linen and NNX draw different "
        "numbers from the same seed (Linen derives keys from module paths, NNX from a counter "
        "in `nnx.Rngs`).",
        "Check it against its own answer key: `initcourse.check(solve, api=\"nnx\")` for an "
        "`nnx.Linear` solution, `initcourse.check(solve)` for a Linen `nn.Dense` one.",
    ),
    Mistake(
        "wrong-values",
        "The output differs from the reference in a way the check could not pin down.",
        "Compare your code with the exercise statement line by line; `initcourse.hint()` helps.",
    ),
)

#: code -> Mistake, in the order a report lists them (the first one to fix comes first).
MISTAKES: dict[str, Mistake] = {m.code: m for m in _MISTAKES}

#: The stable mistake codes.
CODES: tuple[str, ...] = tuple(MISTAKES)

#: Hints, from a gentle nudge to nearly the whole answer: (text, code shown under it).
HINTS: tuple[tuple[str, str], ...] = (
    (
        "Two pieces. First a module: a class deriving from `nn.Module`, with a `features: int` "
        "attribute and an `@nn.compact` `__call__(self, x)` that creates one `nn.Dense` and "
        "applies it to `x`. Then `solve`: build the module, `init` it with a key made from "
        "`seed`, and `apply` the params to `x`.",
        "",
    ),
    (
        "Give `nn.Dense` its initializers explicitly: `kernel_init=nn.initializers.lecun_normal()` "
        "(a factory: call it) and `bias_init=nn.initializers.zeros` (ready-made: no `()`). "
        "Cast the arguments: `jax.random.PRNGKey(int(seed))` and `int(features)`.",
        "",
    ),
    (
        "The whole shape of the answer; fill in the two initializers:",
        "class MyDense(nn.Module):\n"
        "    features: int\n\n"
        "    @nn.compact\n"
        "    def __call__(self, x):\n"
        "        return nn.Dense(self.features, kernel_init=..., bias_init=...)(x)\n\n\n"
        "def solve(seed, x, features):\n"
        "    model = MyDense(int(features))\n"
        "    params = model.init(jax.random.PRNGKey(int(seed)), x)\n"
        "    return model.apply(params, x)",
    ),
)
