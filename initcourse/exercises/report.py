"""What the exercise checks show: reports, hints and solutions, as text or HTML.

A report's message is built once, from its findings, as a list of :class:`Block` (the
headline, then one block per mistake: code, title, what was measured, fix); ``str()`` and
``_repr_html_()`` render the same blocks, and ``to_dict()`` gives the JSON-safe summary the
grading report stores.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Okabe-Ito bluish green and vermillion, darkened to a 4.5:1 contrast on white (WCAG AA).
_PASS_COLOUR, _FAIL_COLOUR = "#00704F", "#A63F00"


@dataclass(frozen=True)
class Mistake:
    """One kind of mistake: its stable code, what went wrong, and how to fix it."""

    code: str
    title: str
    fix: str


@dataclass(frozen=True)
class Finding:
    """A mistake found by a check: its code and what was measured."""

    code: str
    detail: str = ""


class Findings(dict):
    """A check's findings by code, in the order found (the first detail of a code wins)."""

    def add(self, finding: Finding) -> None:
        self.setdefault(finding.code, finding)


@dataclass(frozen=True)
class Block:
    """One paragraph of a report's message: a mistake (``code``, ``title``, ``detail``,
    ``fix``) or, with no code, a plain sentence (``title``)."""

    title: str
    code: str = ""
    detail: str = ""
    fix: str = ""

    def text(self) -> str:
        if not self.code:
            return self.title
        detail = f" ({self.detail})" if self.detail else ""
        return f"[{self.code}] {self.title}{detail}\nFix: {self.fix}"

    def html(self) -> str:
        if not self.code:
            return f"<p>{inline(self.title)}</p>"
        detail = f" <small>({inline(self.detail)})</small>" if self.detail else ""
        return (f"<p><code>{self.code}</code> {inline(self.title)}{detail}"
                f"<br><b>Fix:</b> {inline(self.fix)}</p>")


def blocks_for(findings, mistakes: dict, headline: str = "", notes=()) -> tuple[Block, ...]:
    """The message's blocks: ``headline``, one block per finding (words from ``mistakes``,
    code -> :class:`Mistake`), then ``notes``."""
    blocks = [Block(headline)] if headline else []
    for finding in findings:
        mistake = mistakes[finding.code]
        blocks.append(Block(mistake.title, finding.code, finding.detail, mistake.fix))
    blocks.extend(Block(note) for note in notes)
    return tuple(blocks)


@dataclass(frozen=True, repr=False)
class ReportView:
    """What both checks' reports hold, and its rendering. A subclass sets the class
    attribute ``columns``, the names of its rows' ``cells()``.

    Attributes:
        exercise: the function checked, as reports and the grading CSV name it.
        passed: True when it matches the answer key on every hidden case.
        mistakes: stable mistake codes, most fundamental first; empty when passed.
        seed: the seed the hidden inputs were drawn from; None for the fixed cases.
        blocks: the message's paragraphs (``message`` joins them as text).
        rows: one row per hidden case that was run (``cells()`` and ``ok``).
        findings: the mistakes with what was measured.
    """

    exercise: str
    passed: bool
    mistakes: tuple[str, ...]
    seed: int | None
    blocks: tuple[Block, ...]
    rows: tuple = ()
    findings: tuple[Finding, ...] = ()

    columns = ()
    #: The exercise's mistakes (code -> Mistake) and the message's first line when it
    #: passed (``{n}``: the cases) or not (``{good} of {n}``); set by each subclass.
    mistake_table = {}
    passed_headline = ""
    partial_headline = ""

    @classmethod
    def from_findings(cls, rows, findings, *, exercise: str, seed: int | None, notes=()):
        """The report of a check that ran ``rows`` and found ``findings`` (none: passed)."""
        rows, findings = tuple(rows), tuple(findings)
        if not findings:
            headline = cls.passed_headline.format(n=len(rows))
        elif rows:
            headline = cls.partial_headline.format(good=sum(row.ok for row in rows), n=len(rows))
        else:
            headline = ""
        blocks = blocks_for(findings, cls.mistake_table, headline, notes)
        return cls(exercise, not findings, tuple(f.code for f in findings), seed, blocks, rows,
                   findings)

    @property
    def message(self) -> str:
        """What to tell the learner, in plain text."""
        return "\n\n".join(block.text() for block in self.blocks)

    def to_dict(self) -> dict:
        """``exercise``, ``passed``, ``mistakes``, ``message`` and ``seed``, JSON-safe."""
        return {"exercise": self.exercise, "passed": bool(self.passed),
                "mistakes": list(self.mistakes), "message": self.message, "seed": self.seed}

    def __str__(self) -> str:
        lines = [f"Check of {self.exercise}: {'passed' if self.passed else 'not passed'}"]
        if self.seed is not None:
            lines[0] += f" (hidden inputs drawn from seed {self.seed})"
        if self.rows:
            widths = [max(len(c), *(len(r.cells()[i]) for r in self.rows)) + 2
                      for i, c in enumerate(self.columns[:-1])]
            for cells in (self.columns, *(row.cells() for row in self.rows)):
                lines.append("  " + "".join(c.ljust(w) for c, w in
                                            zip(cells[:-1], widths, strict=True)) + cells[-1])
        lines += ["", self.message]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _PASS_COLOUR if self.passed else _FAIL_COLOUR
        mark = "&#10004; Passed" if self.passed else "&#10008; Not passed yet"
        seed = "" if self.seed is None else f" <small>(hidden inputs from seed {self.seed})</small>"
        parts = [f'<div class="initcourse-check" style="border-left: 4px solid {colour}; '
                 f'padding: 0.2em 0.8em;">',
                 f'<p style="color: {colour}; font-weight: bold;">{mark}</p>'
                 f"<p>Check of <code>{html.escape(self.exercise)}</code>{seed}</p>"]
        if self.rows:
            parts.append(_table(self.columns, self.rows))
        parts.extend(block.html() for block in self.blocks)
        parts.append("</div>")
        return "\n".join(parts)


def _table(columns, rows) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        colour = _PASS_COLOUR if row.ok else _FAIL_COLOUR
        *cells, result = row.cells()
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                    + f'<td style="color: {colour};">{html.escape(result)}</td></tr>')
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def inline(text: str) -> str:
    """Escape ``text`` for HTML and turn `code` spans into <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


@dataclass(frozen=True)
class Hint:
    """One hint, shown folded in JupyterLab (click to open) and as text elsewhere."""

    level: int
    of: int
    text: str
    code: str = ""
    solution_call: str = "initcourse.show_solution()"
    hint_call: str = "initcourse.hint()"

    def _footer(self) -> str:
        if self.level == self.of:
            return f"That was the last hint: `{self.solution_call}` shows the whole answer."
        return f"Run `{self.hint_call}` again for a stronger hint."

    def __str__(self) -> str:
        code = f"\n\n{self.code}" if self.code else ""
        return f"Hint {self.level} of {self.of}: {self.text}{code}\n\n{self._footer()}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        code = f"<pre>{html.escape(self.code)}</pre>" if self.code else ""
        return (f"<details><summary>Hint {self.level} of {self.of} (click to open)</summary>"
                f"<p>{inline(self.text)}</p>{code}<p><i>{inline(self._footer())}</i></p>"
                "</details>")


@dataclass(frozen=True)
class Solution:
    """An answer key's source code: folded in JupyterLab (click to open), text elsewhere."""

    source: str
    title: str = "The reference solution, <code>initcourse/solver.py</code>"

    def __str__(self) -> str:
        return self.source

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f"<details><summary>{self.title} (click to open)</summary>"
                + _highlight(self.source) + "</details>")


def _highlight(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - pygments ships with IPython
        return f"<pre>{html.escape(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))
