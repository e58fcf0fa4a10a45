"""What exercise 1's probes conclude from what they measured: which initializer drew a kernel,
which random stream it came from, and what an exception means.

The learner's function is only ever called, never read (:mod:`initcourse.exercises.dense.diagnosis` does the
calls). Because a Dense layer is affine, ``solve(seed, 0, features)`` is its bias and
``solve(seed, e_i, features) - bias`` is row ``i`` of its kernel; :func:`classify_kernel` tells
which initializer drew it from its spread and largest weight, and :func:`find_stream` which
path or key it was drawn from when its distribution is right but its numbers are not the
answer key's.
"""

from __future__ import annotations

import jax
import numpy as np

from initcourse.exercises.dense.cases import PROBE_FAN_IN, PROBE_FEATURES
from initcourse.exercises.lecun import CUT_IN_STDS, TRUNCATED_PEAK, UNIFORM_PEAK
from initcourse.exercises.report import Finding
from initcourse.initializers import TRUNCATED_NORMAL_STD, expected_std
from initcourse.keys import linen_param_key

# Float32 agreement with the reference (same numbers, possibly another summation order).
RTOL, ATOL = 2e-5, 2e-6
# Agreement after a round trip through bfloat16/float16 (the `dtype` mistake).
LOOSE_RTOL, LOOSE_ATOL = 2e-2, 2e-3
# A measured std within 5% of an initializer's std is taken as that initializer's: on 300
# seeds, lecun_normal() measured 0.979 to 1.021 of its std; an unrescaled truncated normal
# 0.861 to 0.898.
STD_TOLERANCE = 0.05
#: The probe layer's kernel shape, (fan_in, features).
PROBE_SHAPE = (PROBE_FAN_IN, PROBE_FEATURES)


def classify_kernel(kernel: np.ndarray) -> Finding | None:
    """Which initializer drew ``kernel`` (shape ``(fan_in, fan_out)``)?

    Returns None when it looks like ``lecun_normal()`` (right std, truncated normal), else
    the ``kernel:*`` finding, with the measured std and largest weight in its detail.
    """
    fan_in, fan_out = kernel.shape
    lecun = expected_std("lecun_normal", fan_in, fan_out)
    spread = float(np.max(kernel) - np.min(kernel))
    if spread <= 1e-7 * max(1.0, float(np.max(np.abs(kernel)))):
        return Finding("kernel:constant", f"every weight equals {float(kernel.flat[0]):.4g}")
    std = float(np.std(kernel))
    peak = float(np.max(np.abs(kernel))) / std
    family = "uniform" if peak < UNIFORM_PEAK else "normal" if peak > TRUNCATED_PEAK else ""
    detail = (
        f"measured on a {fan_in}x{fan_out} kernel: std {std:.4f} (lecun_normal gives "
        f"{lecun:.4f}), largest |w| = {peak:.2f} std (at most {CUT_IN_STDS:.2f} for "
        "lecun_normal)"
    )
    candidates = (
        ("lecun", lecun),
        ("kernel:glorot", expected_std("glorot_normal", fan_in, fan_out)),
        ("kernel:he", expected_std("he_normal", fan_in, fan_out)),
        ("kernel:normal-0.01", expected_std("normal", fan_in, fan_out)),
        ("unrescaled", TRUNCATED_NORMAL_STD * lecun),
    )
    scale = next((name for name, s in candidates if abs(std / s - 1) < STD_TOLERANCE), None)
    if scale == "unrescaled" and family != "uniform":
        return Finding("kernel:unknown-scale", detail + (
            f"; {TRUNCATED_NORMAL_STD:.2f} of lecun_normal's std is what "
            "`truncated_normal(stddev=1/sqrt(fan_in))` gives: lecun_normal() divides its draws "
            f"by {TRUNCATED_NORMAL_STD:.4f} to make up for the truncation"))
    if scale in (None, "unrescaled"):
        return Finding("kernel:unknown-scale", detail)
    if scale != "lecun":
        return Finding(scale, detail)
    if family == "uniform":
        return Finding("kernel:uniform", detail)
    if family == "normal":
        return Finding("kernel:unknown-scale", detail + "; an untruncated normal")
    return None


# -- the random stream -------------------------------------------------------------------------

@jax.jit
def _lecun_kernel(key):
    from flax import linen as nn

    return nn.initializers.lecun_normal()(key, PROBE_SHAPE)

# Names learners give a Dense (as `name=` or as a `setup` attribute) and a wrapper module.
_DENSE_NAMES = ("dense", "Dense", "layer", "linear", "fc", "dense1", "dense_1", "dense_0",
                "Dense_1", "Dense1", "out", "output", "proj", "l1", "layer1", "lin")
_WRAPPERS = ("LecunDense", "MyDense", "Dense", "DenseLayer", "Layer", "Model", "Net",
             "Network", "Wrapper", "Linear", "MLP", "Block", "Inner", "Module")


def reference_kernel(api: str, seed: int) -> np.ndarray:
    """The kernel the answer key of ``api`` draws for ``seed`` on the probe layer, float64."""
    return np.asarray(_stream_kernel(api, seed, ("Dense_0",), 1), np.float64)


def _stream_kernel(api: str, seed: int, path: tuple[str, ...], counter: int, key=None):
    if api == "nnx":
        from flax import nnx

        rngs = nnx.Rngs(seed)
        for _ in range(counter - 1):
            rngs.params()
        layer = nnx.Linear(*PROBE_SHAPE, kernel_init=nnx.initializers.lecun_normal(),
                           bias_init=nnx.initializers.zeros, rngs=rngs)
        return layer.kernel[...]
    key = jax.random.PRNGKey(seed) if key is None else key
    return _lecun_kernel(linen_param_key(key, *path, count=counter))


def _linen_candidates(seed: int):
    """(what the learner wrote, how to fix it, kernel) for the usual other Linen streams."""
    key = jax.random.PRNGKey(seed)
    yield ("an `nn.Dense` initialised on its own, or `self.param(\"kernel\", ...)` in your "
           "module itself: the kernel's path is `params/kernel`",
           (), 1, key)
    yield ("your module creates its `bias` before its `kernel` with `self.param`: Flax hands "
           "the module's keys out in creation order, so the kernel got the second one",
           (), 2, key)
    for name in _DENSE_NAMES:
        yield (f"a Dense named \"{name}\" (`name=\"{name}\"`, or `self.{name} = nn.Dense(...)` "
               f"in `setup`): the kernel's path is `params/{name}/kernel`", (name,), 1, key)
    for wrapper in _WRAPPERS:
        for inner in ("Dense_0", "dense"):
            yield (f"an extra module around the Dense: the kernel's path is "
                   f"`params/{wrapper}_0/{inner}/kernel`", (f"{wrapper}_0", inner), 1, key)
    first, second = jax.random.split(key)
    yield ("the key was split with `jax.random.split` and its first half passed to `init`",
           ("Dense_0",), 1, first)
    yield ("the key was split with `jax.random.split` and its second half passed to `init`",
           ("Dense_0",), 1, second)
    for shift in (1, -1):
        yield (f"`init` got `PRNGKey(int(seed) {'+' if shift > 0 else '-'} 1)`", ("Dense_0",),
               1, jax.random.PRNGKey(seed + shift))
    yield ("`init` got `fold_in(PRNGKey(0), seed)`", ("Dense_0",), 1,
           jax.random.fold_in(jax.random.PRNGKey(0), seed))


def find_stream(kernel: np.ndarray, seed: int, api: str) -> Finding:
    """The kernel has lecun_normal's distribution but not the answer key's numbers: find the
    path or key it came from (``other-api`` when it is the other API's answer key)."""
    other = "nnx" if api == "linen" else "linen"
    if _same(kernel, reference_kernel(other, seed)):
        return Finding("other-api", f"your kernel is exactly what the {_API[other]} answer key "
                                    f"draws for seed={seed}; this check grades the "
                                    f"{_API[api]} version")
    right = (f"the layer is right (a zero bias, std {np.std(kernel):.4f} as lecun_normal "
             "gives, no activation) but its numbers come from another random stream")
    if api == "nnx":
        for counter in (2, 3):
            if _same(kernel, _stream_kernel("nnx", seed, (), counter)):
                return Finding("rng-stream", f"{right}: the `nnx.Rngs` gave {counter - 1} key(s) "
                                             "away before `nnx.Linear` drew its kernel")
        if _same(kernel, _stream_kernel("nnx", seed + 1, (), 1)):
            return Finding("rng-stream", f"{right}: `nnx.Rngs(int(seed) + 1)`")
        return Finding("rng-stream", right)
    for words, path, counter, key in _linen_candidates(seed):
        if _same(kernel, _stream_kernel("linen", seed, path, counter, key)):
            return Finding("rng-stream", f"{right}: {words}")
    return Finding("rng-stream", right + " (not one of the usual paths or keys the check "
                                         "tried: look for a `name=`, a `setup`, a wrapper "
                                         "module, or a key changed before `init`)")


_API = {"linen": "Linen (`flax.linen`)", "nnx": "NNX (`flax.nnx`)"}


def _same(kernel: np.ndarray, other) -> bool:
    return np.allclose(kernel, np.asarray(other, np.float64), rtol=RTOL, atol=ATOL)
