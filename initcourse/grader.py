"""The exercise check, hints and the answer key, as a learner uses them in the notebook.

>>> report = check(solve)           # doctest: +SKIP
>>> report.passed, report.mistakes  # doctest: +SKIP
(False, ('kernel:glorot',))

:func:`check` runs the learner's ``solve(seed, x, features)`` on hidden cases and compares
it with the reference :func:`initcourse.solver.solve`; when they differ, the probes of
:mod:`initcourse.diagnosis` find out why, and the report says how to fix it
(:mod:`initcourse.feedback` holds the words).
"""

from __future__ import annotations

import contextlib
import html
import inspect
import io
import re
from dataclasses import dataclass

from initcourse import _validate, solver
from initcourse.diagnosis import diagnose
from initcourse.feedback import HINTS, MISTAKES
from initcourse.probes import CASES, Caller, CaseResult, Finding, TimedOut

_PASS_COLOUR, _FAIL_COLOUR = "#009E73", "#D55E00"  # Okabe-Ito bluish green and vermillion


@dataclass(frozen=True)
class CheckReport:
    """The result of :func:`check`.

    Attributes:
        passed: True when ``solve`` matches the reference on every hidden case.
        mistakes: stable mistake codes (see :data:`initcourse.feedback.CODES`), most
            fundamental first; empty when passed.
        message: what to tell the learner, in plain text.
        cases: one :class:`~initcourse.probes.CaseResult` per hidden case that was run.
        findings: the mistakes with what was measured.
    """

    passed: bool
    mistakes: tuple[str, ...]
    message: str
    cases: tuple[CaseResult, ...] = ()
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_findings(cls, cases, findings) -> CheckReport:
        cases, findings = tuple(cases), tuple(findings)
        passed = not findings
        if passed:
            message = f"Passed: your solve matches the reference on all {len(cases)} hidden cases."
        else:
            parts = [_headline(cases, findings)] if cases else []
            for finding in findings:
                mistake = MISTAKES[finding.code]
                detail = f" ({finding.detail})" if finding.detail else ""
                parts.append(f"[{finding.code}] {mistake.title}{detail}\nFix: {mistake.fix}")
            message = "\n\n".join(parts)
        return cls(passed, tuple(f.code for f in findings), message, cases, findings)

    def __str__(self) -> str:
        lines = [f"Check: {'passed' if self.passed else 'not passed'}"]
        if self.cases:
            lines.append(f"  {'case':<6}{'seed':<10}{'len(x)':<8}{'features':<10}result")
            for number, row in enumerate(self.cases, 1):
                lines.append(f"  {number:<6}{row.seed!r:<10}{row.fan_in:<8}"
                             f"{row.features!r:<10}{row.outcome}")
        lines += ["", self.message]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = _PASS_COLOUR if self.passed else _FAIL_COLOUR
        mark = "&#10004; Passed" if self.passed else "&#10008; Not passed yet"
        parts = [f'<div class="initcourse-check" style="border-left: 4px solid {colour}; '
                 f'padding: 0.2em 0.8em;">',
                 f'<p style="color: {colour}; font-weight: bold;">{mark}</p>']
        if self.cases:
            parts.append(_cases_table(self.cases))
        if self.passed:
            parts.append(f"<p>{_inline(self.message)}</p>")
        else:
            if self.cases:
                parts.append(f"<p>{_inline(_headline(self.cases, self.findings))}</p>")
            for finding in self.findings:
                mistake = MISTAKES[finding.code]
                detail = f" <small>({_inline(finding.detail)})</small>" if finding.detail else ""
                parts.append(f"<p><code>{finding.code}</code> {_inline(mistake.title)}{detail}"
                             f"<br><b>Fix:</b> {_inline(mistake.fix)}</p>")
        parts.append("</div>")
        return "\n".join(parts)


def _headline(cases, findings) -> str:
    good = sum(row.ok for row in cases)
    return f"{good} of {len(cases)} hidden cases match the reference."


def _cases_table(cases) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("case", "seed", "len(x)", "features", "result"))
    rows = []
    for number, row in enumerate(cases, 1):
        colour = _PASS_COLOUR if row.ok else _FAIL_COLOUR
        cells = (number, repr(row.seed), row.fan_in, repr(row.features))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells)
                    + f'<td style="color: {colour};">{html.escape(row.outcome)}</td></tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _inline(text: str) -> str:
    """Escape ``text`` for HTML and turn `code` spans into <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def check(solve, *, timeout: float = 5.0) -> CheckReport:
    """Check the learner's ``solve(seed, x, features)`` against the reference.

    Arguments:
        solve: the learner's function; ``None`` or anything not callable gives a report that
            says to run the starter cell.
        timeout: seconds allowed for each call of ``solve``.

    Returns:
        a :class:`CheckReport`; never raises because of the learner's code.
    """
    timeout = _validate.positive_real("timeout", timeout)
    if solve is None or not callable(solve):
        detail = "" if solve is None else f"`solve` is a {type(solve).__name__}, not a function"
        return CheckReport.from_findings((), (Finding("not-defined", detail),))
    # The learner's prints and warnings would repeat once per probe call: keep them out.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cases, findings = diagnose(Caller(solve, timeout), CASES)
        except TimedOut as exc:
            detail = f"{exc} ran longer than {timeout:g} s"
            cases, findings = (), (Finding("timeout", detail),)
    return CheckReport.from_findings(cases, findings)


@dataclass(frozen=True)
class Hint:
    """One hint, shown folded in JupyterLab (click to open) and as text elsewhere."""

    level: int
    text: str
    code: str = ""

    def _footer(self) -> str:
        if self.level == len(HINTS):
            return "That was the last hint: `initcourse.show_solution()` shows the whole answer."
        return "Run `initcourse.hint()` again for a stronger hint."

    def __str__(self) -> str:
        code = f"\n\n{self.code}" if self.code else ""
        return f"Hint {self.level} of {len(HINTS)}: {self.text}{code}\n\n{self._footer()}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        code = f"<pre>{html.escape(self.code)}</pre>" if self.code else ""
        return (f"<details><summary>Hint {self.level} of {len(HINTS)} (click to open)</summary>"
                f"<p>{_inline(self.text)}</p>{code}<p><i>{_inline(self._footer())}</i></p>"
                "</details>")


_next_hint = {"level": 1}


def hint(level: int | None = None) -> Hint:
    """The next hint (or hint number ``level``, 1 to ``len(HINTS)``), gentle to strong."""
    if level is None:
        level = _next_hint["level"]
    else:
        level = _validate.integral("level", level, minimum=1, maximum=len(HINTS))
    _next_hint["level"] = min(level + 1, len(HINTS))
    text, code = HINTS[level - 1]
    return Hint(level, text, code)


_SOLUTION_IMPORTS = """\
import jax
import jax.numpy as jnp
from flax import linen as nn

from initcourse import _validate  # argument checks with clear error messages
"""


@dataclass(frozen=True)
class Solution:
    """The answer key's source code: folded in JupyterLab (click to open), text elsewhere."""

    source: str

    def __str__(self) -> str:
        return self.source

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return ("<details><summary>The reference solution, <code>initcourse/solver.py</code> "
                "(click to open)</summary>" + _highlight(self.source) + "</details>")


def _highlight(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - pygments ships with IPython
        return f"<pre>{html.escape(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


def show_solution() -> Solution:
    """The reference solution: :class:`~initcourse.solver.LecunDense` and ``solve``, with
    the imports they need, ready to paste into a cell."""
    parts = [_SOLUTION_IMPORTS, inspect.getsource(solver.LecunDense),
             inspect.getsource(solver.solve)]
    return Solution("\n\n\n".join(part.strip("\n") for part in parts) + "\n")
