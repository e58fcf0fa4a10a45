"""Wrong solutions of the exercise, each with the mistake codes the check must report.

Every function is a mistake learners make; `expected` lists the codes, most fundamental
first, exactly as :func:`initcourse.check` must report them.
"""

from __future__ import annotations

import itertools
import time

import jax
import jax.numpy as jnp
from flax import linen as nn

import initcourse

from ._layer import Layer, init_apply

SOLUTIONS = {}


def expect(*codes):
    """Register a wrong solution with the codes the check must report for it."""

    def register(fn):
        fn.expected = codes
        SOLUTIONS[fn.__name__] = fn
        return fn

    return register


init = nn.initializers


# -- the output --------------------------------------------------------------------------

@expect("wrong-shape")
def batch_output(seed, x, features):
    """Applies the layer to `x[None]` and returns the (1, features) batch."""
    return init_apply(Layer(int(features)), seed, x[None, :])


@expect("wrong-shape")
def returns_params_too(seed, x, features):
    """Returns `(y, params)`."""
    model = Layer(int(features))
    params = model.init(jax.random.PRNGKey(int(seed)), x)
    return model.apply(params, x), params


@expect("dtype")
def half_precision_output(seed, x, features):
    """Casts the result to float16."""
    return init_apply(Layer(int(features)), seed, x).astype(jnp.float16)


@expect("dtype")
def bfloat16_params(seed, x, features):
    """Stores the params in bfloat16: a float32 output, but the weights lose digits."""

    class Low(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features, kernel_init=init.lecun_normal(),
                            bias_init=init.zeros, param_dtype=jnp.bfloat16)(x)

    return init_apply(Low(int(features)), seed, x)


@expect("non-finite")
def normalised_by_zero(seed, x, features):
    """Divides by the output's sum over an empty slice (0): inf and NaN."""
    y = init_apply(Layer(int(features)), seed, x)
    return y / jnp.sum(y[:0])


# -- the bias and the activation ------------------------------------------------------------

@expect("bias-not-zero")
def ones_bias(seed, x, features):
    """`bias_init=ones`."""
    return init_apply(Layer(int(features), bias_init=init.ones), seed, x)


@expect("bias-not-zero")
def small_constant_bias(seed, x, features):
    """`bias_init=constant(0.1)`."""
    return init_apply(Layer(int(features), bias_init=init.constant(0.1)), seed, x)


@expect("activation-applied")
def relu_applied(seed, x, features):
    """A ReLU after the Dense layer."""
    return init_apply(Layer(int(features), activation=nn.relu), seed, x)


@expect("activation-applied")
def tanh_applied(seed, x, features):
    """A tanh after the Dense layer."""
    return init_apply(Layer(int(features), activation=jnp.tanh), seed, x)


@expect("activation-applied")
def sigmoid_applied(seed, x, features):
    """A sigmoid after the Dense layer: f(0) = 0.5 looks like a bias, but it is not one."""
    return init_apply(Layer(int(features), activation=nn.sigmoid), seed, x)


# -- the kernel -------------------------------------------------------------------------------

@expect("kernel:normal-0.01")
def default_normal(seed, x, features):
    """`normal()`: Flax's stddev 0.01."""
    return init_apply(Layer(int(features), kernel_init=init.normal()), seed, x)


@expect("kernel:glorot")
def glorot_normal(seed, x, features):
    """`glorot_normal()`."""
    return init_apply(Layer(int(features), kernel_init=init.glorot_normal()), seed, x)


@expect("kernel:glorot")
def glorot_uniform(seed, x, features):
    """`glorot_uniform()`: Flax's own default for `nn.Dense`."""
    return init_apply(Layer(int(features), kernel_init=init.glorot_uniform()), seed, x)


@expect("kernel:he")
def he_normal(seed, x, features):
    """`he_normal()`."""
    return init_apply(Layer(int(features), kernel_init=init.he_normal()), seed, x)


@expect("kernel:uniform")
def lecun_uniform(seed, x, features):
    """`lecun_uniform()`: the right variance, the wrong distribution."""
    return init_apply(Layer(int(features), kernel_init=init.lecun_uniform()), seed, x)


@expect("kernel:constant")
def zeros_kernel(seed, x, features):
    """`zeros` for the kernel too."""
    return init_apply(Layer(int(features), kernel_init=init.zeros), seed, x)


@expect("kernel:unknown-scale")
def unit_normal(seed, x, features):
    """`normal(stddev=1.0)`."""
    return init_apply(Layer(int(features), kernel_init=init.normal(1.0)), seed, x)


@expect("kernel:unknown-scale")
def untruncated_lecun(seed, x, features):
    """`variance_scaling(1.0, "fan_in", "normal")`: the right variance, but not truncated."""
    kernel_init = init.variance_scaling(1.0, "fan_in", "normal")
    return init_apply(Layer(int(features), kernel_init=kernel_init), seed, x)


# -- the random stream --------------------------------------------------------------------------

@expect("rng-stream")
def split_key(seed, x, features):
    """Splits the key first and initialises from a sub-key."""
    _, key = jax.random.split(jax.random.PRNGKey(int(seed)))
    model = Layer(int(features))
    return model.apply(model.init(key, x), x)


@expect("rng-stream")
def shifted_seed(seed, x, features):
    """`PRNGKey(int(seed) + 1)`."""
    return init_apply(Layer(int(features)), int(seed) + 1, x)


@expect("rng-stream")
def unwrapped_dense(seed, x, features):
    """An `nn.Dense` initialised on its own: its kernel lives at `params/kernel`."""
    model = nn.Dense(int(features), kernel_init=init.lecun_normal(), bias_init=init.zeros)
    return init_apply(model, seed, x)


@expect("rng-stream")
def named_dense(seed, x, features):
    """The `nn.Dense` named "dense": its kernel lives at `params/dense/kernel`."""

    class Named(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features, kernel_init=init.lecun_normal(),
                            bias_init=init.zeros, name="dense")(x)

    return init_apply(Named(int(features)), seed, x)


@expect("seed-ignored")
def fixed_seed(seed, x, features):
    """Always `PRNGKey(0)`."""
    return init_apply(Layer(int(features)), 0, x)


_counter = itertools.count()


@expect("nondeterministic")
def counter_seed(seed, x, features):
    """Adds a global call counter to the seed: every call draws new numbers."""
    return init_apply(Layer(int(features)), int(seed) + next(_counter), x)


# -- the arguments and the initializers' API ---------------------------------------------------------

@expect("float-seed")
def float_seed(seed, x, features):
    """Hands the float seed straight to `PRNGKey`."""
    model = Layer(int(features))
    return model.apply(model.init(jax.random.PRNGKey(seed), x), x)


@expect("float-features")
def float_features(seed, x, features):
    """Hands the float `features` straight to `nn.Dense`."""
    return init_apply(Layer(features), seed, x)


@expect("float-seed", "float-features")
def no_casts(seed, x, features):
    """Casts neither argument."""
    model = Layer(features)
    return model.apply(model.init(jax.random.PRNGKey(seed), x), x)


@expect("factory-not-called")
def lecun_normal_without_call(seed, x, features):
    """`kernel_init=lecun_normal`, without `()`."""
    return init_apply(Layer(int(features), kernel_init=init.lecun_normal), seed, x)


@expect("factory-not-called")
def zeros_init_without_call(seed, x, features):
    """`bias_init=zeros_init`, without `()`."""
    return init_apply(Layer(int(features), bias_init=init.zeros_init), seed, x)


@expect("raises")
def zeros_called(seed, x, features):
    """`bias_init=zeros()`: calling the ready-made initializer."""
    return init_apply(Layer(int(features), bias_init=init.zeros()), seed, x)


@expect("raises")
def wrong_attribute(seed, x, features):
    """A typo: `nn.initializers.lecun_norm()`."""
    return init_apply(Layer(int(features), kernel_init=init.lecun_norm()), seed, x)


@expect("timeout")
def sleeps(seed, x, features):
    """Waits far longer than the time limit (a stand-in for a loop that never ends)."""
    time.sleep(3600)


@expect("not-solved")
def starter(seed, x, features):
    """The untouched starter cell."""
    raise NotImplementedError("your code here")


@expect("calls-reference")
def calls_answer_key(seed, x, features):
    """Returns the answer key's output."""
    return initcourse.solve(seed, x, features)


@expect("calls-reference")
def uses_answer_module(seed, x, features):
    """Builds the course's own `LecunDense` instead of a module of its own."""
    return init_apply(initcourse.LecunDense(int(features)), seed, x)


@expect("wrong-values")
def special_cases_short_input(seed, x, features):
    """Doubles `x` when it has one element: right almost everywhere, wrong on one case."""
    x = x * 2 if x.shape[0] == 1 else x
    return init_apply(Layer(int(features)), seed, x)
