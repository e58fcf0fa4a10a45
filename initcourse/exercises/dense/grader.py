"""Exercise 1's check, as a learner uses it in the notebook (its hints and answer key are
shown by :mod:`initcourse.exercises.hints`).

>>> report = check(solve)           # doctest: +SKIP
>>> report.passed, report.mistakes  # doctest: +SKIP
(False, ('kernel:glorot',))

:func:`check` runs the learner's ``solve(seed, x, features)`` on hidden cases and compares
it with the answer key (:func:`initcourse.solve`, or :func:`initcourse.solve_nnx` with
``api="nnx"``); when they differ, the probes of :mod:`initcourse.exercises.dense.diagnosis` find out why, and
the report says how to fix it (:mod:`initcourse.exercises.dense.feedback` holds the words). Exercise 2's
check is :func:`initcourse.exercises.initializer.grader.check_initializer`.

The answer keys (:mod:`initcourse.solver`) are imported when a check runs, never when this
module is imported: grading replaces them by a stub in the submission's process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from initcourse import arguments
from initcourse.exercises.caller import Caller, TimedOut, quietly, signature_finding
from initcourse.exercises.dense.cases import CASES, PROBES, draw_cases
from initcourse.exercises.dense.diagnosis import CASE_COLUMNS, diagnose
from initcourse.exercises.dense.feedback import MISTAKES
from initcourse.exercises.report import Finding, ReportView

#: The names of exercise 1's variants, as reports and the grading CSV show them.
EXERCISES = {"linen": "solve", "nnx": "solve (nnx)"}
_ARGS = ("seed", "x", "features")


@dataclass(frozen=True, repr=False)
class CheckReport(ReportView):
    """The result of :func:`check` (fields as :class:`~initcourse.exercises.report.ReportView`):
    ``exercise`` is "solve" (Linen) or "solve (nnx)", ``mistakes`` are codes of
    :data:`initcourse.exercises.dense.feedback.CODES`, ``rows`` one
    :class:`~initcourse.exercises.dense.diagnosis.CaseResult` per hidden case that was run."""

    columns = CASE_COLUMNS
    mistake_table = MISTAKES
    passed_headline = "Passed: your solve matches the reference on all {n} hidden cases."
    partial_headline = "{good} of {n} hidden cases match the reference."


def check(solve, *, api: str = "linen", seed=None, timeout=5.0) -> CheckReport:
    """Check the learner's ``solve(seed, x, features)`` against the answer key.

    Arguments:
        solve: the learner's function (or any callable that forwards to it); ``None`` or
            anything not callable gives a report that says to run the starter cell.
        api: "linen" (the answer key :func:`initcourse.solve`) or "nnx"
            (:func:`initcourse.solve_nnx`).
        seed: None for the fixed hidden cases, or an int >= 0 to draw new ones (seeds,
            lengths, ``x`` values and the probes) from it; the report records it.
        timeout: seconds allowed for each call of ``solve`` (0 < timeout <= 600).

    Returns:
        a :class:`CheckReport`; never raises because of the learner's code.
    """
    api = check_api(api)
    timeout = arguments.timeout(timeout)
    seed = arguments.check_seed(seed)
    exercise = EXERCISES[api]
    if solve is None or not callable(solve):
        detail = "" if solve is None else f"`solve` is a {type(solve).__name__}, not a function"
        return CheckReport.from_findings((), (Finding("not-defined", detail),),
                                         exercise=exercise, seed=seed)
    wrong = signature_finding(solve, "solve", (_ARGS,))
    if wrong is not None:
        return CheckReport.from_findings((), (wrong,), exercise=exercise, seed=seed)
    solver = importlib.import_module("initcourse.solver")
    reference = solver.solve if api == "linen" else solver.solve_nnx
    cases, probes = (CASES, PROBES) if seed is None else draw_cases(seed)
    with quietly():
        try:
            rows, findings = diagnose(Caller(solve, timeout, "solve", _ARGS), cases,
                                      probes, reference=reference, api=api,
                                      watch=(solver.__file__,))
        except TimedOut as exc:
            rows, findings = (), (Finding("timeout", exc.detail()),)
    return CheckReport.from_findings(rows, findings, exercise=exercise, seed=seed)


def check_api(api) -> str:
    """``api`` if it is one of :data:`EXERCISES`' keys (``"linen"``, ``"nnx"``)."""
    if api not in EXERCISES:
        raise ValueError(f"api must be 'linen' or 'nnx'; received {api!r}")
    return api
