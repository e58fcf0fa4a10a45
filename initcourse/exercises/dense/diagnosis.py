"""Exercise 1's procedure: run the hidden cases, and when they fail, find out why.

:func:`diagnose` calls the learner's ``solve`` through a :class:`~initcourse.exercises.caller.Caller`
and returns one row per hidden case and the findings (mistake codes with what was
measured), most fundamental first. Learners meet it through :func:`initcourse.check`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from initcourse.exercises.caller import Outcome, classify_error
from initcourse.exercises.dense.cases import PROBE_FAN_IN, PROBE_FEATURES, Case, Probes
from initcourse.exercises.dense.probes import (
    ATOL,
    LOOSE_ATOL,
    LOOSE_RTOL,
    RTOL,
    classify_kernel,
    find_stream,
    reference_kernel,
)
from initcourse.exercises.report import Finding, Findings

# Findings that explain outputs that differ from the reference; without one of them a
# mismatch is reported as `wrong-values`.
_EXPLAINS_VALUES = {
    "raises", "factory-not-called", "factory-called", "non-finite", "dtype", "nondeterministic",
    "mutates-input", "activation-applied", "bias-not-zero", "seed-ignored", "rng-stream",
    "other-api", "wrong-signature",
}


@dataclass(frozen=True)
class CaseResult:
    """How ``solve`` did on one hidden case."""

    seed: float | int
    fan_in: int
    features: float | int
    result: str
    ok: bool

    def cells(self) -> tuple[str, ...]:
        return repr(self.seed), str(self.fan_in), repr(self.features), self.result


CASE_COLUMNS = ("seed", "len(x)", "features", "result")


class _Stop(Exception):
    """The probes cannot go further (the finding that says why is already recorded)."""


def diagnose(call, cases: tuple[Case, ...], probes: Probes, *, reference, api: str,
             watch: tuple[str, ...] = ()):
    """Run ``cases`` through ``call`` (a :class:`~initcourse.exercises.caller.Caller`) and compare
    with ``reference`` (the answer key of ``api``, "linen" or "nnx").

    Returns:
        ``(rows, findings)``: a :class:`CaseResult` per case that was run, and a tuple of
        :class:`~initcourse.exercises.report.Finding`, empty when ``solve`` matches the reference
        everywhere. Raises :class:`~initcourse.exercises.caller.TimedOut` if a call does. ``watch``:
        the answer key's file, to catch a ``solve`` that calls it.
    """
    findings = Findings()
    # The reference first: it also compiles what the learner's calls will need, so that a
    # cold start does not count against the learner's time limit.
    expected = [np.asarray(reference(*cases[0].args()), np.float64)]
    first = _call_case(call, cases[0])
    if isinstance(first.error, NotImplementedError):
        return (), (Finding("not-solved"),)
    expected += [np.asarray(reference(*case.args()), np.float64) for case in cases[1:]]
    outcomes = [first] + [_call_case(call, case) for case in cases[1:]]

    rows, mismatch, typed = [], False, {"int_seed": False, "int_features": False}
    for case, outcome, reference_y in zip(cases, outcomes, expected, strict=True):
        note = ""
        if not outcome.ok:
            outcome, note = _retry_with_ints(call, case, outcome, findings, typed)
            if outcome is None:
                rows.append(_row(case, note, False))
                continue
        text, ok = _compare(case, outcome, reference_y, findings)
        mismatch |= text == "wrong values"
        if note:
            text, ok = (note if ok else f"{note}; {text}"), False
        rows.append(_row(case, text, ok))

    if mismatch:
        try:
            _probe_layer(call, probes, api, findings, typed, loose="dtype" in findings)
        except _Stop:
            pass
        if not findings.keys() & _EXPLAINS_VALUES and not _kernel_found(findings):
            bad = next(r for r in rows if not r.ok)
            findings.add(Finding("wrong-values", f"first on the case {_case_text(bad)}"))
    elif not findings and any(r.ok for r in rows):
        # A last call with a NumPy `x`, watched: does solve write into it, or run the key?
        seed, _, features = cases[0].args()
        last = call(seed, np.asarray(cases[0].x, np.float32), features, size=int(features),
                    text=cases[0].call_text(), watch=watch)
        if last.touched:
            findings.add(Finding("calls-reference"))
        elif last.mutated:
            findings.add(_mutation(last, cases[0].call_text()))
    return tuple(rows), tuple(findings.values())


def _call_case(call, case: Case, *, int_seed: bool = False, int_features: bool = False):
    return call(*case.args(int_seed=int_seed, int_features=int_features),
                size=int(case.features),
                text=case.call_text(int_seed=int_seed, int_features=int_features))


def _mutation(outcome: Outcome, call: str) -> Finding:
    names = " and ".join(f"`{n}`" for n in outcome.mutated)
    return Finding("mutates-input", f"after `{call}` with a NumPy array, {names} held other "
                                    "numbers than before the call")


def _kernel_found(findings: Findings) -> bool:
    return any(code.startswith("kernel:") for code in findings)


def _row(case: Case, result: str, ok: bool) -> CaseResult:
    return CaseResult(case.seed, case.fan_in, case.features, result, ok)


def _case_text(row: CaseResult) -> str:
    return f"seed={row.seed!r}, len(x)={row.fan_in}, features={row.features!r}"


def _retry_with_ints(call, case: Case, outcome: Outcome, findings: Findings, typed: dict):
    """A call failed: does it work with an int seed and int features? Then say which float
    broke it; else classify the error. Returns ``(outcome, note)``, the outcome None if
    the int call fails too; the note is what the case's row says."""
    float_seed = isinstance(case.seed, float)
    float_features = isinstance(case.features, float)
    if float_seed or float_features:
        retry = _call_case(call, case, int_seed=True, int_features=True)
        if retry.ok:
            notes = []
            if float_seed and not _call_case(call, case, int_features=True).ok:
                findings.add(Finding("float-seed", f"seed={case.seed!r} fails, "
                                     f"seed={int(case.seed)!r} works"))
                typed["int_seed"] = True
                notes.append("a float seed")
            if float_features and not _call_case(call, case, int_seed=True).ok:
                findings.add(Finding("float-features", f"features={case.features!r} fails, "
                                     f"features={int(case.features)!r} works"))
                typed["int_features"] = True
                notes.append("float features")
            if not notes:
                findings.add(classify_error(outcome.error, case.call_text()))
                notes.append("float arguments")
            return retry, "fails with " + " and ".join(notes)
        outcome = retry
    findings.add(classify_error(outcome.error, case.call_text(int_seed=True, int_features=True)))
    return None, f"raised {type(outcome.error).__name__}"


def _compare(case: Case, outcome: Outcome, expected: np.ndarray, findings: Findings):
    """Check one output against the reference's; returns the row's text and whether it is ok."""
    features = int(case.features)
    if outcome.values is None:
        if outcome.shape is not None:
            findings.add(Finding("wrong-shape", f"with features={case.features!r}, solve "
                                                f"returned shape {outcome.shape}; expected "
                                                f"({features},)"))
            return "wrong shape", False
        returned = "None" if outcome.kind == "NoneType" else f"a {outcome.kind}"
        detail = f"solve returned {returned}, not an array"
        if outcome.kind == "NoneType":
            detail += ": is its `return` missing?"
        findings.add(Finding("wrong-shape", detail))
        return f"returned {returned}", False
    values = outcome.values
    shape_ok = values.shape == (features,)
    if not shape_ok:
        findings.add(Finding("wrong-shape", f"with features={case.features!r}, solve returned "
                                            f"shape {values.shape}; expected ({features},)"))
        values = values.ravel()
    if not np.all(np.isfinite(values)):
        findings.add(Finding("non-finite", f"on the case seed={case.seed!r}, "
                                           f"len(x)={case.fan_in}"))
        return "NaN or inf", False
    if outcome.dtype != "float32":
        findings.add(Finding("dtype", f"solve returned dtype {outcome.dtype}"))
        close = np.allclose(values, expected, rtol=LOOSE_RTOL, atol=LOOSE_ATOL)
        return (f"dtype {outcome.dtype}" if close else "wrong values"), False
    if not np.allclose(values, expected, rtol=RTOL, atol=ATOL):
        return "wrong values", False
    return ("ok" if shape_ok else f"shape {outcome.values.shape}"), shape_ok


def _probe_layer(call, probes: Probes, api: str, findings: Findings, typed: dict, *,
                 loose: bool) -> None:
    """Read the learner's layer on a 24x256 probe: determinism, activation, bias, kernel,
    seed, random stream."""
    rtol, atol = (LOOSE_RTOL, LOOSE_ATOL) if loose else (RTOL, ATOL)
    seed, other_seed = probes.seeds
    fan_in, features = PROBE_FAN_IN, PROBE_FEATURES

    def run(seed, x) -> np.ndarray:
        s = seed if typed["int_seed"] else float(seed)
        f = features if typed["int_features"] else float(features)
        text = f"solve({s!r}, x, {f!r})"
        outcome = call(s, np.array(x, np.float32), f, size=features, text=text)
        if outcome.mutated:
            findings.add(_mutation(outcome, text))
            raise _Stop
        if not outcome.ok:
            findings.add(classify_error(outcome.error, f"solve({s!r}, jnp.ones({fan_in}), {f!r})"))
            raise _Stop
        if outcome.values is None:
            raise _Stop
        return outcome.values.ravel()

    y, again = run(seed, probes.x), run(seed, probes.x)
    if not np.array_equal(y, again):
        findings.add(Finding("nondeterministic", f"two calls with seed={seed} and the same x "
                                                 f"differ by up to {np.max(np.abs(y - again)):.3g}"))
        raise _Stop
    bias = run(seed, np.zeros(fan_in))
    kernel = np.stack([run(seed, row) - bias for row in np.eye(fan_in)])
    affine = bias + probes.x.astype(np.float64) @ kernel
    if not np.allclose(y, affine, rtol=1e-4, atol=1e-4):
        findings.add(Finding("activation-applied", _activation_detail(y, affine)))
        raise _Stop
    if np.max(np.abs(bias)) > atol:
        findings.add(Finding("bias-not-zero", f"solve(seed, zeros, features) returned values "
                                              f"up to {np.max(np.abs(bias)):.4g}"))
    expected = reference_kernel(api, seed)
    if np.allclose(kernel, expected, rtol=LOOSE_RTOL, atol=LOOSE_ATOL):
        if not np.allclose(kernel, expected, rtol=rtol, atol=atol):
            findings.add(Finding("dtype", "the kernel equals the reference's only to about 3 "
                                          "digits: the params were stored in a lower precision"))
        # The reference's kernel for this seed: params cached from an earlier call would
        # still give it, so ask for another seed.
        if np.array_equal(y, run(other_seed, probes.x)):
            findings.add(_seed_ignored(seed, other_seed))
        return
    kernel_finding = classify_kernel(kernel)
    if kernel_finding is not None and kernel_finding.code == "kernel:constant":
        findings.add(kernel_finding)
        return
    low = _low_precision(kernel)
    if low:
        findings.add(Finding("dtype", f"every weight of the kernel is a {low} number: the "
                                      "params were drawn and stored in a lower precision"))
        return
    if np.array_equal(y, run(other_seed, probes.x)):
        findings.add(_seed_ignored(seed, other_seed))
    if kernel_finding is not None:
        findings.add(kernel_finding)
    elif "seed-ignored" not in findings:
        findings.add(find_stream(kernel, seed, api))


def _seed_ignored(seed: int, other_seed: int) -> Finding:
    return Finding("seed-ignored", f"seed={seed} and seed={other_seed} give the same output")


def _low_precision(kernel: np.ndarray) -> str:
    """The name of a 16-bit float type that holds every weight exactly, or ''."""
    for dtype in (jnp.bfloat16, jnp.float16):
        if np.array_equal(kernel.astype(dtype).astype(np.float64), kernel):
            return np.dtype(dtype).name
    return ""


def _activation_detail(y: np.ndarray, affine: np.ndarray) -> str:
    gap = float(np.max(np.abs(y - affine)))
    detail = (f"solve(seed, x) differs from the affine prediction solve(seed, 0) + "
              f"sum_i x_i (solve(seed, e_i) - solve(seed, 0)) by up to {gap:.3g}")
    if np.all(np.diff(y) >= 0) or np.all(np.diff(y) <= 0):
        detail += "; the outputs come out in order, as after a sort"
    elif np.all(y >= 0) and np.any(y == 0):
        detail += "; negative outputs were cut to 0, as ReLU does"
    elif np.all((y > 0) & (y < 1)):
        detail += "; every output lies in (0, 1), as after a sigmoid"
    elif np.all(np.abs(y) < 1):
        detail += "; every output lies in (-1, 1), as after tanh"
    return detail
