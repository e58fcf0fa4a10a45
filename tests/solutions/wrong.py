"""Wrong solutions of the exercise, each with the mistake codes the check must report.

Every function is a mistake learners make; `expected` lists the codes, most fundamental
first, exactly as :func:`initcourse.check` must report them.
"""

from __future__ import annotations

import itertools
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
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


@expect("wrong-shape")
def returns_params_only(seed, x, features):
    """Returns the params instead of the output."""
    return Layer(int(features)).init(jax.random.PRNGKey(int(seed)), x)


@expect("wrong-shape")
def missing_return(seed, x, features):
    """Computes the output and forgets to return it."""
    y = init_apply(Layer(int(features)), seed, x)  # noqa: F841 - the mistake


@expect("dtype")
def half_precision_output(seed, x, features):
    """Casts the result to float16."""
    return init_apply(Layer(int(features)), seed, x).astype(jnp.float16)


@expect("dtype")
def float64_numpy_output(seed, x, features):
    """Returns a float64 numpy array."""
    return np.asarray(init_apply(Layer(int(features)), seed, x), dtype=np.float64)


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


@expect("bias-not-zero")
def normal_bias(seed, x, features):
    """`bias_init=normal()`: a random bias."""
    return init_apply(Layer(int(features), bias_init=init.normal()), seed, x)


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


@expect("activation-applied")
def sorted_output(seed, x, features):
    """Sorts the output: not an activation, but not affine in `x` either."""
    return jnp.sort(init_apply(Layer(int(features)), seed, x))


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


@expect("kernel:he")
def he_uniform(seed, x, features):
    """`he_uniform()`: He's std, from a uniform distribution."""
    return init_apply(Layer(int(features), kernel_init=init.he_uniform()), seed, x)


@expect("kernel:uniform")
def lecun_uniform(seed, x, features):
    """`lecun_uniform()`: the right variance, the wrong distribution."""
    return init_apply(Layer(int(features), kernel_init=init.lecun_uniform()), seed, x)


@expect("kernel:constant")
def zeros_kernel(seed, x, features):
    """`zeros` for the kernel too."""
    return init_apply(Layer(int(features), kernel_init=init.zeros), seed, x)


@expect("kernel:constant")
def returns_zeros(seed, x, features):
    """`jnp.zeros(features)`: the output a zero kernel would give."""
    return jnp.zeros(int(features))


@expect("kernel:unknown-scale")
def unit_normal(seed, x, features):
    """`normal(stddev=1.0)`."""
    return init_apply(Layer(int(features), kernel_init=init.normal(1.0)), seed, x)


@expect("kernel:unknown-scale")
def untruncated_lecun(seed, x, features):
    """`variance_scaling(1.0, "fan_in", "normal")`: the right variance, but not truncated."""
    kernel_init = init.variance_scaling(1.0, "fan_in", "normal")
    return init_apply(Layer(int(features), kernel_init=kernel_init), seed, x)


def _truncated_lecun_not_rescaled(key, shape, dtype=jnp.float32):
    return init.truncated_normal(stddev=1 / np.sqrt(shape[0]))(key, shape, dtype)


@expect("kernel:unknown-scale")
def truncated_normal_not_rescaled(seed, x, features):
    """`truncated_normal(stddev=1/sqrt(fan_in))`: truncation leaves 0.88 of that std, which
    `lecun_normal()` makes up for and this does not. On a kernel as small as 24x48 its std is
    hard to tell from Glorot's."""
    return init_apply(Layer(int(features), kernel_init=_truncated_lecun_not_rescaled), seed, x)


@expect("kernel:unknown-scale")
def swapped_fan_axes(seed, x, features):
    """`lecun_normal(in_axis=-1, out_axis=-2)`: std 1/sqrt(features) instead."""
    kernel_init = init.lecun_normal(in_axis=-1, out_axis=-2)
    return init_apply(Layer(int(features), kernel_init=kernel_init), seed, x)


@expect("kernel:unknown-scale")
def numpy_weights(seed, x, features):
    """Draws the kernel with NumPy: an untruncated normal, and other numbers."""
    rng = np.random.default_rng(int(seed))
    kernel = rng.normal(size=(x.shape[0], int(features))) / np.sqrt(x.shape[0])
    return jnp.asarray(np.asarray(x) @ kernel, jnp.float32)


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


@expect("rng-stream")
def dense_general(seed, x, features):
    """`nn.DenseGeneral` initialised on its own: the same layer, another path."""
    return init_apply(nn.DenseGeneral(int(features), kernel_init=init.lecun_normal()), seed, x)


@expect("other-api")
def nnx_linear(seed, x, features):
    """Flax NNX's `nnx.Linear`: the same initializers, another random stream."""
    from flax import nnx

    return nnx.Linear(x.shape[0], int(features), rngs=nnx.Rngs(int(seed)))(x)


@expect("rng-stream")
def folded_seed(seed, x, features):
    """`fold_in(PRNGKey(0), seed)`: a key that depends on the seed, but not the reference's."""
    key = jax.random.fold_in(jax.random.PRNGKey(0), int(seed))
    model = Layer(int(features))
    return model.apply(model.init(key, x), x)


@expect("seed-ignored")
def fixed_seed(seed, x, features):
    """Always `PRNGKey(0)`."""
    return init_apply(Layer(int(features)), 0, x)


_params_by_features: dict = {}


@expect("seed-ignored")
def caches_params_by_features(seed, x, features):
    """Keeps the params of the first call for each `(features, len(x))`: later seeds reuse
    them. Right on every case until one repeats a shape with another seed."""
    model = Layer(int(features))
    shape = (int(features), x.shape[0])
    if shape not in _params_by_features:
        _params_by_features[shape] = model.init(jax.random.PRNGKey(int(seed)), x)
    return model.apply(_params_by_features[shape], x)


_params_by_seed: dict = {}


@expect("raises")
def caches_params_by_seed(seed, x, features):
    """Keeps the params of the first call for each seed: a later call with that seed and
    another shape raises Flax's ScopeParamShapeError."""
    model = Layer(int(features))
    if seed not in _params_by_seed:
        _params_by_seed[seed] = model.init(jax.random.PRNGKey(int(seed)), x)
    return model.apply(_params_by_seed[seed], x)


_counter = itertools.count()


@expect("nondeterministic")
def counter_seed(seed, x, features):
    """Adds a global call counter to the seed: every call draws new numbers."""
    return init_apply(Layer(int(features)), int(seed) + next(_counter), x)


@expect("nondeterministic")
def numpy_global_seed(seed, x, features):
    """Draws the seed from NumPy's global random state instead of using the argument."""
    return init_apply(Layer(int(features)), np.random.randint(0, 2**31 - 1), x)


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


@expect("factory-called")
def zeros_called(seed, x, features):
    """`bias_init=zeros()`: calling the ready-made initializer."""
    return init_apply(Layer(int(features), bias_init=init.zeros()), seed, x)


@expect("raises")
def wrong_attribute(seed, x, features):
    """A typo: `nn.initializers.lecun_norm()`."""
    return init_apply(Layer(int(features), kernel_init=init.lecun_norm()), seed, x)


@expect("raises")
def raises_on_one_feature(seed, x, features):
    """Refuses `features=1`, which the exercise allows."""
    if int(features) == 1:
        raise ValueError("features must be at least 2")
    return init_apply(Layer(int(features)), seed, x)


@expect("raises")
def exits(seed, x, features):
    """Calls `sys.exit()`: reported like any exception, the kernel keeps running."""
    sys.exit("giving up")


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


# -- a right layer from another random stream: the message names the path or key ------------------

@expect("rng-stream")
def hand_written_dense(seed, x, features):
    """`self.param("kernel", ...)` in the module itself: path `params/kernel`."""

    class HandWritten(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            kernel = self.param("kernel", init.lecun_normal(), (x.shape[-1], self.features))
            bias = self.param("bias", init.zeros, (self.features,))
            return x @ kernel + bias

    return init_apply(HandWritten(int(features)), seed, x)


@expect("rng-stream")
def bias_drawn_first(seed, x, features):
    """`self.param("bias", ...)` before `self.param("kernel", ...)`: the kernel gets the
    module's second key."""

    class BiasFirst(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            bias = self.param("bias", init.zeros, (self.features,))
            kernel = self.param("kernel", init.lecun_normal(), (x.shape[-1], self.features))
            return x @ kernel + bias

    return init_apply(BiasFirst(int(features)), seed, x)


@expect("rng-stream")
def setup_style(seed, x, features):
    """The Dense created in `setup` as `self.dense`: path `params/dense/kernel`."""

    class SetupDense(nn.Module):
        features: int

        def setup(self):
            self.dense = nn.Dense(self.features, kernel_init=init.lecun_normal(),
                                  bias_init=init.zeros)

        def __call__(self, x):
            return self.dense(x)

    return init_apply(SetupDense(int(features)), seed, x)


@expect("rng-stream")
def extra_wrapper(seed, x, features):
    """The answer's module wrapped in another one: path `params/MyDense_0/Dense_0/kernel`."""

    class MyDense(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features, kernel_init=init.lecun_normal(),
                            bias_init=init.zeros)(x)

    class Outer(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            return MyDense(self.features)(x)

    return init_apply(Outer(int(features)), seed, x)


@expect("rng-stream")
def unusual_name(seed, x, features):
    """A Dense named "readout": a path the check does not try; it still says the layer is
    right."""

    class Readout(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features, kernel_init=init.lecun_normal(),
                            bias_init=init.zeros, name="readout")(x)

    return init_apply(Readout(int(features)), seed, x)


# -- the signature and the input ------------------------------------------------------------------

@expect("wrong-signature")
def forgot_features(seed, x):
    """`def solve(seed, x)`: no `features`."""
    return init_apply(Layer(3), seed, x)


@expect("wrong-signature")
def swapped_to_keyword_only(seed, x, *, features):
    """`features` keyword-only: `solve(seed, x, features)` cannot pass it."""
    return init_apply(Layer(int(features)), seed, x)


@expect("mutates-input")
def scales_input_in_place(seed, x, features):
    """`x *= 0` on its input: a NumPy `x` is zeroed for the caller."""
    x *= 0
    return init_apply(Layer(int(features)), seed, x)


@expect("mutates-input")
def normalises_numpy_input_in_place(seed, x, features):
    """Right output, but it divides a NumPy `x` by its norm in place afterwards."""
    y = init_apply(Layer(int(features)), seed, jnp.asarray(x))
    if isinstance(x, np.ndarray):
        x /= np.linalg.norm(x)
    return y


_flip = itertools.cycle([0, 1])


@expect("nondeterministic")
def alternating_seed(seed, x, features):
    """Alternates between `seed` and `seed + 1` on successive calls."""
    return init_apply(Layer(int(features)), int(seed) + next(_flip), x)
