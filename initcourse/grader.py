"""The exercise checks, hints and answer keys, as a learner uses them in the notebook.

>>> report = check(solve)           # doctest: +SKIP
>>> report.passed, report.mistakes  # doctest: +SKIP
(False, ('kernel:glorot',))

:func:`check` runs the learner's ``solve(seed, x, features)`` on hidden cases and compares
it with the answer key (:func:`initcourse.solve`, or :func:`initcourse.solve_nnx` with
``api="nnx"``); when they differ, the probes of :mod:`initcourse.diagnosis` find out why, and
the report says how to fix it (:mod:`initcourse.feedback` holds the words). Exercise 2's
check is :func:`initcourse.initializer_check.check_initializer`.

The answer keys (:mod:`initcourse.solver`) are imported when a check runs, never when this
module is imported: grading replaces them by a stub in the submission's process.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

from initcourse import arguments
from initcourse.caller import Caller, TimedOut, quietly
from initcourse.cases import CASES, PROBES, draw_cases
from initcourse.diagnosis import COLUMNS, CaseResult, diagnose
from initcourse.feedback import HINTS, MISTAKES
from initcourse.report import Finding, Hint, ReportView, Solution, blocks_for

#: The names of exercise 1's variants, as reports and the grading CSV show them.
EXERCISES = {"linen": "solve", "nnx": "solve (nnx)"}
_ARGS = ("seed", "x", "features")


@dataclass(frozen=True, repr=False)
class CheckReport(ReportView):
    """The result of :func:`check` (fields as :class:`~initcourse.report.ReportView`):
    ``exercise`` is "solve" (Linen) or "solve (nnx)", ``mistakes`` are codes of
    :data:`initcourse.feedback.CODES`, ``rows`` one
    :class:`~initcourse.diagnosis.CaseResult` per hidden case that was run."""

    columns = COLUMNS

    @property
    def cases(self) -> tuple[CaseResult, ...]:
        """The rows, one per hidden case (the name earlier versions used)."""
        return self.rows

    @classmethod
    def from_findings(cls, rows, findings, *, exercise: str = "solve",
                      seed: int | None = None) -> CheckReport:
        rows, findings = tuple(rows), tuple(findings)
        if not findings:
            headline = f"Passed: your solve matches the reference on all {len(rows)} hidden cases."
        elif rows:
            good = sum(row.ok for row in rows)
            headline = f"{good} of {len(rows)} hidden cases match the reference."
        else:
            headline = ""
        blocks = blocks_for(findings, MISTAKES, headline)
        return cls(exercise, not findings, tuple(f.code for f in findings), seed, blocks, rows,
                   findings)


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
    api = _api(api)
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


def _api(api) -> str:
    if api not in EXERCISES:
        raise ValueError(f"api must be 'linen' or 'nnx'; received {api!r}")
    return api


def signature_finding(fn, name: str, calls) -> Finding | None:
    """A ``wrong-signature`` finding if ``fn`` cannot take one of ``calls`` (tuples of
    argument names, passed positionally); None if it can or its signature is unknown."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    for names in calls:
        try:
            signature.bind(*names)
        except TypeError as exc:
            return Finding("wrong-signature", f"`{name}{signature}` cannot be called as "
                                              f"`{name}({', '.join(names)})`: {exc}")
    return None


_next_hint = {1: 1, 2: 1}


def _hints(exercise: int):
    if exercise == 1:
        return HINTS
    return importlib.import_module("initcourse.initializer_feedback").HINTS


def _exercise(exercise) -> int:
    if exercise not in (1, 2) or isinstance(exercise, bool):
        raise ValueError(f"exercise must be 1 (solve) or 2 (lecun_normal_init); "
                         f"received {exercise!r}")
    return exercise


def hint(level=None, *, exercise=1) -> Hint:
    """The next hint of ``exercise`` (1: ``solve``, 2: ``lecun_normal_init``), or hint
    number ``level`` (1 to 3), gentle to strong."""
    exercise = _exercise(exercise)
    hints = _hints(exercise)
    if level is None:
        level = _next_hint[exercise]
    else:
        level = arguments.whole("level", level, 1, len(hints))
    _next_hint[exercise] = min(level + 1, len(hints))
    text, code = hints[level - 1]
    suffix = "" if exercise == 1 else "exercise=2"
    return Hint(level, len(hints), text, code,
                solution_call=f"initcourse.show_solution({suffix})",
                hint_call=f"initcourse.hint({suffix})")


_CHECKS = "\nfrom initcourse.arguments import {}  # clear errors for bad arguments\n"
_IMPORTS = {
    "linen": "import jax\nfrom flax import linen as nn\n" + _CHECKS.format("solve_arguments"),
    "nnx": "import jax\nfrom flax import nnx\n" + _CHECKS.format("solve_arguments"),
    2: "import math\n\nimport jax\nimport jax.numpy as jnp\n"
       + _CHECKS.format("initializer_arguments"),
}


def show_solution(*, exercise=1, api: str = "linen") -> Solution:
    """The answer key's source, with the imports it needs, ready to paste into a cell:
    exercise 1's ``LecunDense`` and ``solve`` (``api="linen"``) or ``solve_nnx``
    (``api="nnx"``), or exercise 2's ``lecun_normal_init``."""
    exercise, api = _exercise(exercise), _api(api)
    solver = importlib.import_module("initcourse.solver")
    if exercise == 2:
        parts = [_IMPORTS[2], inspect.getsource(solver.lecun_normal_init)]
    elif api == "linen":
        parts = [_IMPORTS["linen"], inspect.getsource(solver.LecunDense),
                 inspect.getsource(solver.solve)]
    else:
        parts = [_IMPORTS["nnx"], inspect.getsource(solver.solve_nnx)]
    return Solution("\n\n\n".join(part.strip("\n") for part in parts) + "\n")
