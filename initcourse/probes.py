"""Black-box probes of a learner's ``solve(seed, x, features)``: what went wrong, and why.

The learner's function is only ever called, never read. Because a Dense layer is affine,
``solve(seed, 0, features)`` is its bias and ``solve(seed, e_i, features) - bias`` is row
``i`` of its kernel (``e_i`` one-hot); the kernel's spread and largest weight tell which
initializer drew it; comparing ``solve(seed, x)`` with the affine prediction tells whether an
activation was applied; calls with other and repeated seeds tell about the random stream.

Every call runs in a thread with a time limit (:class:`Caller`), so a learner's endless
loop cannot freeze the notebook.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import solver
from initcourse.initializers import TRUNCATED_NORMAL_STD, expected_std

# Float32 agreement with the reference (same numbers, possibly another summation order).
RTOL, ATOL = 2e-5, 2e-6
# Agreement after a round trip through bfloat16/float16 (the `dtype` mistake).
LOOSE_RTOL, LOOSE_ATOL = 2e-2, 2e-3

# The probe layer: fan_in != fan_out so that Glorot's and LeCun's stds differ (Glorot's is
# 0.41 of LeCun's). Reading the kernel takes fan_in + 1 calls; its 6144 weights pin the std
# down to about 0.7%, enough to tell lecun_normal() from a truncated normal that was not
# rescaled (0.88 of LeCun's std).
PROBE_FAN_IN, PROBE_FEATURES, PROBE_SEEDS = 24, 256, (3, 4)
# Largest |w| / std over a 24x256 kernel: uniform <= sqrt(3) = 1.73 (1.76 counting the spread
# of the measured std); a normal truncated at 2 std <= 2/0.8796 = 2.27 (2.33); an untruncated
# normal reaches 3.3 to 5.4. Measured on 300 seeds of each initializer.
UNIFORM_PEAK, TRUNCATED_PEAK = 1.95, 2.8
# A measured std within 5% of an initializer's std is taken as that initializer's: on 300
# seeds, lecun_normal() measured 0.979 to 1.021 of its std; an unrescaled truncated normal
# 0.861 to 0.898.
STD_TOLERANCE = 0.05


@dataclass(frozen=True)
class Case:
    """One hidden case: the arguments passed to ``solve``, as a learner would meet them."""

    seed: float | int
    x: tuple[float, ...]
    features: float | int

    @property
    def fan_in(self) -> int:
        return len(self.x)

    def call_text(self, *, int_seed: bool = False, int_features: bool = False) -> str:
        """The call, as code a learner can paste into a cell (``x`` rounded as in the case)."""
        seed, _, features = self.args(int_seed=int_seed, int_features=int_features)
        if self.fan_in == 1:
            x = f"jnp.array([{self.x[0]!r}])"
        else:
            x = f"jnp.linspace({self.x[0]!r}, {self.x[-1]!r}, {self.fan_in})"
        return f"solve({seed!r}, {x}, {features!r})"

    def args(self, *, int_seed: bool = False, int_features: bool = False) -> tuple:
        """``(seed, x, features)`` with ``x`` a float32 JAX array of shape ``(fan_in,)``."""
        seed = int(self.seed) if int_seed else self.seed
        features = int(self.features) if int_features else self.features
        return seed, jnp.asarray(np.asarray(self.x, np.float32)), features


def _spread(n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(np.linspace(-1.5, 2.0, n), 3))


#: Float and int seeds, len(x) of 1 and more, features of 1 and more (as floats and ints),
#: and fan_in != fan_out. The last two repeat the first case's `x` and `features` with another
#: seed, and its seed with another `x` and `features`: a solve that caches its params by
#: `features` or by `seed` fails one of them.
CASES: tuple[Case, ...] = (
    Case(42.0, _spread(5), 3.0),
    Case(0.0, (0.7,), 4.0),
    Case(7, _spread(8), 1),
    Case(1234.0, _spread(12), 16.0),
    Case(3.0, _spread(6), 2),
    Case(5.0, _spread(5), 3.0),
    Case(42.0, _spread(7), 5),
)


@dataclass(frozen=True)
class Finding:
    """A mistake found by the probes: its code and what was measured."""

    code: str
    detail: str = ""


@dataclass(frozen=True)
class CaseResult:
    """How ``solve`` did on one hidden case."""

    seed: float | int
    fan_in: int
    features: float | int
    outcome: str
    ok: bool


class TimedOut(Exception):
    """A call to the learner's function ran past the time limit."""


@dataclass(frozen=True)
class Outcome:
    """What one call returned: ``values`` (float64, any shape) or ``error``."""

    values: np.ndarray | None = None
    dtype: str = ""
    kind: str = ""
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def of(cls, value) -> Outcome:
        if isinstance(value, (jax.Array, np.ndarray, np.generic, int, float, list)):
            try:
                arr = np.asarray(value)
                values = np.asarray(arr, np.float64)
            except (TypeError, ValueError):
                return cls(None, "", type(value).__name__)
            dtype = str(arr.dtype)
            # A list (`y.tolist()`) holds Python floats, float64 by type: it counts as float32
            # when every number is a float32 number.
            if isinstance(value, list) and _is_float32(values):
                dtype = "float32"
            return cls(values, dtype, type(value).__name__)
        return cls(None, "", type(value).__name__)


def _is_float32(values: np.ndarray) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.array_equal(values.astype(np.float32), values, equal_nan=True))


class Caller:
    """Call ``solve`` in a thread, at most ``timeout`` seconds per call.

    A call that runs too long raises :class:`TimedOut`. Its thread cannot be stopped (Python
    has no way to kill a thread); it is a daemon thread, so it does not keep Python alive.
    """

    def __init__(self, solve, timeout: float):
        self.solve = solve
        self.timeout = timeout
        self.calls = 0

    def __call__(self, seed, x, features, *, watch: bool = False) -> Outcome:
        """Call ``solve(seed, x, features)``; with ``watch``, also note whether it ran any
        code of :mod:`initcourse.solver` (``outcome.kind`` is then ``"reference"``)."""
        self.calls += 1
        box: dict = {}
        reference_file = solver.solve.__code__.co_filename

        def profiler(frame, event, arg):
            if event == "call" and frame.f_code.co_filename == reference_file:
                box["reference"] = True

        def target():
            if watch:
                sys.setprofile(profiler)
            try:
                box["outcome"] = Outcome.of(self.solve(seed, x, features))
            except BaseException as exc:  # noqa: BLE001 - any failure is the learner's to see
                box["outcome"] = Outcome(error=exc)
            finally:
                if watch:
                    sys.setprofile(None)

        thread = threading.Thread(target=target, name="initcourse-check", daemon=True)
        thread.start()
        thread.join(self.timeout * (3 if watch else 1))
        if thread.is_alive():
            raise TimedOut(_call_text(seed, x, features))
        if box.get("reference"):
            return Outcome(kind="reference")
        return box["outcome"]


def _call_text(seed, x, features) -> str:
    return f"solve({seed!r}, <x of length {np.shape(x)[0]}>, {features!r})"


def reference_output(seed, x, features) -> np.ndarray:
    """The answer key's output, float64, shape ``(features,)``."""
    return np.asarray(solver.solve(seed, x, features), np.float64)


def reference_kernel(seed: int, fan_in: int, features: int) -> np.ndarray:
    """The kernel the answer key draws, shape ``(fan_in, features)``."""
    model = solver.LecunDense(features)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((fan_in,), jnp.float32))
    return np.asarray(params["params"]["Dense_0"]["kernel"], np.float64)


def classify_error(error: BaseException, call: str = "") -> Finding:
    """The finding for an exception raised by ``solve``; ``call`` is the call that raised,
    as code (see :meth:`Case.call_text`)."""
    if isinstance(error, NotImplementedError):
        return Finding("not-solved")
    text = f"{type(error).__name__}: {_first_line(error)}".rstrip(": ")
    if call:
        text = f"`{call}` raised {text}"
    message = str(error)
    if isinstance(error, TypeError) and (
        ("Value '<function" in message and "not a valid JAX" in message)
        or ("positional argument" in message and "but 3 were given" in message)
    ):
        return Finding("factory-not-called", text)
    if "missing 2 required positional arguments: 'key' and 'shape'" in message:
        text += (
            " (`zeros` and `ones` are ready-made initializers: pass them without `()`)"
        )
    return Finding("raises", text)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= 300 else line[:297] + "..."


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
        f"{lecun:.4f}), largest |w| = {peak:.2f} std (at most {2 / TRUNCATED_NORMAL_STD:.2f} "
        "for a normal truncated at 2 std)"
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
