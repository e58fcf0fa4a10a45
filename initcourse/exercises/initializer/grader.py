"""Exercise 2's check: a learner's ``lecun_normal_init(key, shape, dtype=jnp.float32)``
against Flax's ``lecun_normal()``, rebuilt in :func:`initcourse.solver.lecun_normal_init`.

>>> report = check_initializer(lecun_normal_init)   # doctest: +SKIP
>>> report.passed, report.mistakes                   # doctest: +SKIP
(False, ('missing-rescale',))

Hidden cases cover Dense (2-D) and conv (3-D, 4-D) kernels, float32 and bfloat16, raw
(``PRNGKey``) and typed (``jax.random.key``) keys, and the default ``dtype``. The agreement
rule is :data:`initcourse.exercises.initializer.feedback.ULP_RULE`. When a case fails,
:mod:`initcourse.exercises.initializer.probes` finds out why from three large float32 draws.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from initcourse import arguments
from initcourse.exercises.caller import (
    Caller,
    TimedOut,
    classify_error,
    quietly,
    signature_finding,
)
from initcourse.exercises.initializer.feedback import MISTAKES, ULP_LIMIT, ULP_RULE
from initcourse.exercises.initializer.probes import (
    CONV,
    DENSE,
    DENSE_T,
    diagnose_distribution,
    late_cast,
    ulp_distance,
)
from initcourse.exercises.report import Finding, Findings, ReportView
from initcourse.initializers import TRUNCATED_NORMAL_STD

EXERCISE = "lecun_normal_init"
_ARGS = ("key", "shape", "dtype")
# Code that counts as delegating to Flax: Flax itself and jax.nn.initializers.
_FLAX_FILES = tuple(str(p) for p in (
    importlib.util.find_spec("flax").submodule_search_locations[0],
    importlib.util.find_spec("jax").submodule_search_locations[0] + "/_src/nn/initializers",
))


@dataclass(frozen=True)
class InitCase:
    """One hidden case: ``fn(key, shape)`` when ``dtype`` is None, else ``fn(key, shape,
    dtype)``; the key is ``jax.random.key(key_seed)`` if ``typed``, else ``PRNGKey``."""

    key_seed: int
    shape: tuple[int, ...]
    dtype: str | None = None
    typed: bool = False

    def key(self):
        return (jax.random.key if self.typed else jax.random.PRNGKey)(self.key_seed)

    def args(self) -> tuple:
        key = self.key()
        return (key, self.shape) if self.dtype is None else (key, self.shape,
                                                             jnp.dtype(self.dtype))

    def call_text(self) -> str:
        maker = "jax.random.key" if self.typed else "jax.random.PRNGKey"
        dtype = "" if self.dtype is None else f", jnp.{self.dtype}"
        return f"lecun_normal_init({maker}({self.key_seed}), {self.shape!r}{dtype})"

    def cells(self, result: str) -> tuple[str, ...]:
        key = f"{'key' if self.typed else 'PRNGKey'}({self.key_seed})"
        return key, str(self.shape), self.dtype or "default", result


#: Dense and conv shapes, float32 and bfloat16, both kinds of key, the default dtype. Each
#: new (shape, dtype, key kind) costs JAX a compilation of the sampler (1 to 10 s on a busy
#: machine), so the cases share the probes' shapes (:mod:`initcourse.exercises.initializer.probes`).
CASES: tuple[InitCase, ...] = (
    InitCase(0, DENSE),
    InitCase(1, DENSE, "float32", typed=True),
    InitCase(2, DENSE_T, "float32"),
    InitCase(3, CONV, "float32"),
    InitCase(4, (3, 16, 8), "float32"),
    InitCase(5, DENSE, "bfloat16"),
    InitCase(6, CONV, "bfloat16", typed=True),
    InitCase(123_456, DENSE, "float32"),
)


def draw_cases(seed: int) -> tuple[InitCase, ...]:
    """Cases of the same design as :data:`CASES`, their keys drawn from ``seed``, and the
    shapes of a 3-D and of a 2-D case too."""
    rng = np.random.default_rng([20_261_130, seed])
    keys = [int(k) for k in rng.choice(2**31 - 1, size=len(CASES), replace=False)]
    conv1d = (int(rng.integers(2, 6)), int(rng.integers(4, 33)), int(rng.integers(4, 33)))
    dense = (int(rng.integers(2, 65)), int(rng.integers(2, 65)))
    shapes = [case.shape for case in CASES]
    shapes[4], shapes[7] = conv1d, dense
    return tuple(InitCase(k, shape, case.dtype, case.typed)
                 for k, shape, case in zip(keys, shapes, CASES, strict=True))


@dataclass(frozen=True)
class InitRow:
    """How ``lecun_normal_init`` did on one hidden case."""

    case: InitCase
    result: str
    ok: bool

    def cells(self) -> tuple[str, ...]:
        return self.case.cells(self.result)


@dataclass(frozen=True, repr=False)
class InitializerReport(ReportView):
    """The result of :func:`check_initializer`: ``passed``, ``mistakes`` (codes of
    :data:`initcourse.exercises.initializer.feedback.CODES`), ``message``, ``seed``, ``rows`` (one per
    hidden case), ``findings``; text, HTML and ``to_dict()`` as exercise 1's report."""

    columns = ("key", "shape", "dtype", "result")
    mistake_table = MISTAKES
    passed_headline = ("Passed: your lecun_normal_init gives Flax's lecun_normal() weights on "
                       "all {n} hidden cases.")
    partial_headline = "{good} of {n} hidden cases match Flax's lecun_normal()."


def check_initializer(fn, *, seed=None, timeout=10.0) -> InitializerReport:
    """Check the learner's ``lecun_normal_init(key, shape, dtype=jnp.float32)``.

    Arguments:
        fn: the learner's function (or a callable that forwards to it); ``None`` or anything
            not callable gives a report that says to run the starter cell.
        seed: None for the fixed hidden cases, or an int >= 0 to draw new ones (keys and
            shapes); the report records it.
        timeout: seconds allowed for each call (0 < timeout <= 600).

    Returns:
        an :class:`InitializerReport`; never raises because of the learner's code.
    """
    timeout = arguments.timeout(timeout)
    seed = arguments.check_seed(seed)
    if fn is None or not callable(fn):
        detail = "" if fn is None else f"`lecun_normal_init` is a {type(fn).__name__}"
        return InitializerReport.from_findings((), (Finding("not-defined", detail),), exercise=EXERCISE,
                                              seed=seed)
    wrong = signature_finding(fn, EXERCISE, (_ARGS[:2], _ARGS))
    if wrong is not None:
        return InitializerReport.from_findings((), (wrong,), exercise=EXERCISE, seed=seed)
    reference = importlib.import_module("initcourse.solver").lecun_normal_init
    cases = CASES if seed is None else draw_cases(seed)
    call = Caller(fn, timeout, EXERCISE, _ARGS)
    with quietly():
        try:
            rows, findings, notes = _diagnose(call, cases, reference)
        except TimedOut as exc:
            rows, findings, notes = (), [Finding("timeout", exc.detail())], ()
    return InitializerReport.from_findings(rows, findings, exercise=EXERCISE, seed=seed, notes=notes)


def _diagnose(call, cases, reference):
    findings = Findings()
    add = findings.add

    # The answer key first, case by case: it also compiles what a right solution's call
    # will need, so that a cold start does not count against the learner's time limit.
    rows, off, worst, total, mismatch = [], 0, 0, 0, False
    for number, case in enumerate(cases):
        want = np.asarray(reference(*case.args()))
        got = call(*case.args(), size=math.prod(case.shape), text=case.call_text())
        if number == 0 and isinstance(got.error, NotImplementedError):
            return (), [Finding("not-solved")], ()
        text, ok, ulps = _compare(case, got, want, add)
        if ulps is not None:
            off, total = off + int(np.sum(ulps > 0)), total + ulps.size
            worst = max(worst, int(np.max(ulps)))
        mismatch |= text in ("wrong values", "wrong values in float32")
        rows.append(InitRow(case, text, ok))
    if mismatch:
        _probe(call, findings, reference)
    elif not findings:
        watched = call(*cases[0].args(), size=math.prod(cases[0].shape),
                       text=cases[0].call_text(), watch=_FLAX_FILES)
        if watched.touched:
            add(Finding("calls-flax"))
    if mismatch and not findings:
        add(Finding("wrong-values", "the check's large probe kernels did not come back as "
                                    "arrays of the asked shape with finite numbers"))
    notes = []
    if not findings:
        notes.append(f"The rule: {ULP_RULE}.")
        if off:
            notes.append(f"{off} of your {total} weights differ from Flax's, by at most {worst} "
                         f"ulp{'s' if worst > 1 else ''} (within the rule): your scale is "
                         "computed in another order. To match Flax to the last bit, multiply "
                         "the draws by `jnp.sqrt(jnp.array(1 / fan_in, dtype)) / "
                         "jnp.array(0.87962566103423978, dtype)`.")
        else:
            notes.append("Every weight equals Flax's to the last bit.")
    return rows, list(findings.values()), tuple(notes)


def _compare(case: InitCase, got, want: np.ndarray, add):
    """The row's text, whether it is ok, and the ulp distances (None if not compared)."""
    if not got.ok:
        add(classify_error(got.error, case.call_text(), EXERCISE))
        return f"raised {type(got.error).__name__}", False, None
    if got.kind in ("list", "tuple"):
        add(Finding("returns-list", f"`{case.call_text()}` returned a {got.kind}"))
        return f"a {got.kind}", False, None
    if got.values is None:
        shape = "None" if got.kind == "NoneType" else f"shape {got.shape}" if got.shape \
            else f"a {got.kind}"
        add(Finding("wrong-shape", f"`{case.call_text()}` returned {shape}; expected shape "
                                   f"{case.shape}"))
        return "wrong shape", False, None
    if got.shape != case.shape:
        add(Finding("wrong-shape", f"`{case.call_text()}` returned shape {got.shape}; "
                                   f"expected {case.shape}"))
        return f"shape {got.shape}", False, None
    if not np.all(np.isfinite(got.values)):
        add(Finding("non-finite", f"on `{case.call_text()}`"))
        return "NaN or inf", False, None
    asked = case.dtype or "float32"
    if got.dtype != asked:
        add(Finding("dtype-ignored", f"`{case.call_text()}` returned {got.dtype or got.kind}, "
                                     f"not {asked}"))
        return f"dtype {got.dtype}", False, None
    ulps = ulp_distance(got.values.astype(want.dtype), want)
    if np.max(ulps) <= ULP_LIMIT:
        return ("ok" if np.max(ulps) == 0 else f"ok ({np.max(ulps)} ulp)"), True, ulps
    if asked == "bfloat16" and np.max(ulp_distance(got.values.astype(want.dtype),
                                                   late_cast(*case.args()))) <= ULP_LIMIT:
        add(Finding("dtype-ignored", f"on `{case.call_text()}` the weights are lecun_normal "
                                     "drawn in float32 and cast to bfloat16 at the end"))
        return "drawn in float32", False, None
    return "wrong values", False, None


def _constant_factor(dense: np.ndarray, flax: np.ndarray) -> float | None:
    """The factor by which ``dense`` is ``flax`` scaled, if every weight has it (to float32
    rounding) and it is not 1; else None."""
    nonzero = flax != 0
    if not nonzero.any() or np.any(dense[~nonzero] != 0):
        return None
    ratio = dense[nonzero] / flax[nonzero]
    factor = float(np.median(ratio))
    if np.max(np.abs(ratio - factor)) > 1e-6 * abs(factor) or abs(factor - 1) <= 1e-6:
        return None
    return factor


def _probe(call, findings: Findings, reference) -> None:
    """The hidden cases' values differ: read the key's and the distribution's role."""
    add = findings.add
    key, other = jax.random.PRNGKey(11), jax.random.PRNGKey(12)

    def draw(k, shape, text_key="PRNGKey(11)"):
        text = f"lecun_normal_init({text_key}, {shape!r}, jnp.float32)"
        out = call(k, shape, jnp.dtype("float32"), size=math.prod(shape), text=text)
        if not out.ok:
            add(classify_error(out.error, text, EXERCISE))
            return None
        if out.values is None or out.shape != shape or not np.all(np.isfinite(out.values)):
            return None
        return out.values

    dense = draw(key, DENSE)
    if dense is None:
        return
    again = draw(key, DENSE)
    if again is not None and not np.array_equal(dense, again):
        add(Finding("nondeterministic", f"two calls with the same key differ by up to "
                                        f"{np.max(np.abs(dense - again)):.3g}"))
        return
    other_draw = draw(other, DENSE, "PRNGKey(12)")
    if other_draw is not None and np.array_equal(dense, other_draw):
        add(Finding("key-ignored", "PRNGKey(11) and PRNGKey(12) give the same weights"))
    dense_t, conv = draw(key, DENSE_T), draw(key, CONV)
    if dense_t is None or conv is None:
        return
    found = diagnose_distribution(dense, dense_t, conv)
    for finding in found:
        add(finding)
    if found or "key-ignored" in findings:
        return
    flax = np.asarray(reference(key, DENSE, jnp.float32), np.float64)
    factor = _constant_factor(dense, flax)
    if factor is not None:
        ulps = int(np.max(ulp_distance(dense.astype(np.float32), flax.astype(np.float32))))
        add(Finding("rounded-constant", f"on `lecun_normal_init(PRNGKey(11), {DENSE!r}, "
                                        f"jnp.float32)` every weight is Flax's times "
                                        f"{factor:.7f} (up to {ulps} float32 ulps off; the rule "
                                        f"allows {ULP_LIMIT}): as if the 0.87962566103423978 "
                                        f"of the scale were {TRUNCATED_NORMAL_STD / factor:.6g}"))
        return
    add(Finding("rng-stream", "the weights have lecun_normal's distribution, but not the "
                              "numbers Flax draws from the same key"))

