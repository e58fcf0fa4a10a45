"""Feedback files for students: one HTML page and one Markdown copy per submission.

Each file says, for every exercise the submission was graded on: the verdict and the points
(the rule of :mod:`initcourse.grading.points`), how many hidden cases were right, each
mistake in words (what was measured, and the fix), the exercise's first hint, and how to
reproduce the verdict (the run seed: ``initcourse.check(solve, seed=...)`` draws the same
hidden inputs). It never holds the answer key, the hidden cases' table, their inputs (a
check's quoted call of the function, which names them, becomes "a hidden case") or their
expected outputs.

Everything that comes from a submission (its file name, an exception's message, the
measurements of its outputs) is escaped: the HTML page runs nothing (it also forbids every
script by its Content-Security-Policy), and the Markdown copy has no raw HTML, link or image
syntax of the submission's.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from initcourse.grading import points, report

_STATUS_WORDS = {
    "passed": "passed",
    "failed": "not passed: the check found the mistakes below",
    "execution-error": "a cell of the notebook raised an error",
    "time-limit": "stopped: it ran out of time",
    "memory-limit": "stopped: it ran out of memory",
    "output-limit": "stopped: it printed too much",
    "process-limit": "stopped: it started too many processes or threads",
    "invalid-notebook": "the file could not be read as a notebook",
    "no-solve": "the notebook defines none of the exercises' functions",
    "grading-error": "grading itself failed (not your fault): ask your instructor",
}
_REPRODUCE = {
    "solve": "initcourse.check(solve, seed={seed})",
    "lecun_normal_init": "initcourse.check_initializer(lecun_normal_init, seed={seed})",
    "init_block": "initcourse.check_block(init_block, seed={seed})",
}


def _hint(exercise: str) -> str:
    from initcourse.exercises.block import feedback as block
    from initcourse.exercises.dense import feedback as dense
    from initcourse.exercises.initializer import feedback as initializer

    module = {"solve": dense, "lecun_normal_init": initializer, "init_block": block}[exercise]
    return module.HINTS[0][0]


_CALL = re.compile(r"`(?:solve|lecun_normal_init|init_block)\((?:[^`]*)\)`")


def without_inputs(text: str) -> str:
    """``text`` with each quoted call of an exercise's function (which shows a hidden case's
    inputs) replaced by the words "a hidden case"."""
    return _CALL.sub("a hidden case", str(text))


def file_name(submission: str) -> str:
    """The feedback files' name (without suffix) for a submission named ``submission``:
    its path with every character outside ``[A-Za-z0-9._-]`` made ``_``."""
    stem = submission[:-6] if submission.endswith(".ipynb") else submission
    name = re.sub(r"[^A-Za-z0-9._-]", "_", stem.replace(os.sep, "__").replace("/", "__"))
    return name.strip("._") or "submission"


def sections(grades, writer: report.ReportWriter, student_name: str = "") -> dict:
    """What a submission's feedback says, as plain data (the HTML and Markdown render it)."""
    grades = sorted(grades, key=report.Grade.order)
    exercises = []
    for grade in grades:
        most = writer.max_score(grade)
        earned = writer.score(grade)
        graded = grade.exercise in points.NUMBERS
        blocks = ([(code, title, without_inputs(detail), fix)
                   for code, title, detail, fix in grade.blocks if code] if graded else [])
        headline = next((b[1] for b in grade.blocks if not b[0]), "") if graded else ""
        exercises.append({
            "title": (f"Exercise {points.NUMBERS[grade.exercise]} (`{grade.exercise}`)"
                      if graded else "The notebook"),
            "status": grade.status,
            "verdict": ("passed (though a later cell raised an error: "
                        "see what happened below)"
                        if grade.passed and grade.status != "passed"
                        else _STATUS_WORDS.get(grade.status, grade.status)),
            "points": (points.show(earned), points.show(most)) if graded else None,
            "cases": (grade.right, grade.cases),
            "headline": headline,
            "mistakes": blocks,
            "detail": ("" if grade.status in ("passed", "failed")
                       else without_inputs(grade.detail)),
            "hint": _hint(grade.exercise) if graded and not grade.passed else "",
            "reproduce": (_REPRODUCE[grade.exercise].format(seed=writer.run_seed)
                          if graded else ""),
        })
    total = sum(writer.score(g) for g in grades)
    most = sum(writer.max_score(g) for g in grades if g.exercise in points.NUMBERS)
    return {"file": grades[0].file if grades else "", "student": student_name,
            "seed": writer.run_seed, "total": (points.show(total), points.show(most)),
            "exercises": exercises}


def write(folder: Path, grades, writer: report.ReportWriter, student_name: str = "",
          name: str | None = None) -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.md`` in ``folder`` for one submission's rows."""
    data = sections(grades, writer, student_name)
    name = name or file_name(data["file"])
    paths = (Path(folder) / f"{name}.html", Path(folder) / f"{name}.md")
    for path, text in zip(paths, (render_html(data), render_markdown(data)), strict=True):
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    return paths


def _text(value) -> str:
    """A submission's text for the page: escaped, on one line, control codes removed."""
    return html.escape(report.clean(value, 2000), quote=True)


def _ours(value: str) -> str:
    """The course's own sentences (mistake titles, fixes, hints): escaped, `code` spans kept."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(value, quote=False))


def render_html(data: dict) -> str:
    title = f"Feedback: {_text(data['file'])}"
    who = f"<p>Student: {_text(data['student'])}</p>" if data["student"] else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;"
        "padding:0 1em;line-height:1.5;color:#1a1a1a}code{background:#f3f3f3;padding:0 .2em}"
        ".passed{color:#00704F}.not-passed{color:#A63F00}</style>",
        "</head><body><main>",
        f"<h1>{title}</h1>", who,
        f"<p><strong>Total: {data['total'][0]} of {data['total'][1]} points.</strong></p>",
    ]
    for ex in data["exercises"]:
        css = "passed" if ex["status"] == "passed" else "not-passed"
        parts.append(f"<section><h2>{_ours(ex['title'])}</h2>")
        line = f'<p class="{css}"><strong>{html.escape(ex["verdict"])}</strong>'
        if ex["points"]:
            line += f": {ex['points'][0]} of {ex['points'][1]} points"
        parts.append(line + ".</p>")
        right, cases = ex["cases"]
        if cases:
            parts.append(f"<p>{right} of {cases} hidden cases right.</p>")
        if ex["detail"]:
            parts.append(f"<p>What happened: <code>{_text(ex['detail'])}</code></p>")
        if ex["mistakes"]:
            parts.append("<h3>Mistakes</h3><ul>")
            for code, title, detail, fix in ex["mistakes"]:
                measured = f" (measured: {_text(detail)})" if detail else ""
                parts.append(f"<li><code>{html.escape(code)}</code> {_ours(title)}{measured}"
                             f"<br><strong>Fix:</strong> {_ours(fix)}</li>")
            parts.append("</ul>")
        if ex["hint"]:
            parts.append(f"<h3>Hint</h3><p>{_ours(ex['hint'])}</p>")
        if ex["reproduce"]:
            parts.append("<h3>See it again</h3><p>In your notebook, run "
                         f"<code>{html.escape(ex['reproduce'])}</code>: it draws the same hidden "
                         "inputs as this grading run.</p>")
        parts.append("</section>")
    parts.append(f"<p><small>Run seed {data['seed']}.</small></p></main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>])")


def _md(value) -> str:
    """A submission's text for Markdown: one line, HTML escaped, Markdown syntax escaped."""
    text = html.escape(report.clean(value, 2000), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _md_ours(value: str) -> str:
    return html.escape(value, quote=False)


def render_markdown(data: dict) -> str:
    lines = [f"# Feedback: {_md(data['file'])}", ""]
    if data["student"]:
        lines += [f"Student: {_md(data['student'])}", ""]
    lines += [f"**Total: {data['total'][0]} of {data['total'][1]} points.**", ""]
    for ex in data["exercises"]:
        lines += [f"## {_md_ours(ex['title'])}", ""]
        line = f"**{ex['verdict']}**"
        if ex["points"]:
            line += f": {ex['points'][0]} of {ex['points'][1]} points"
        lines += [line + ".", ""]
        right, cases = ex["cases"]
        if cases:
            lines += [f"{right} of {cases} hidden cases right.", ""]
        if ex["detail"]:
            lines += [f"What happened: {_md(ex['detail'])}", ""]
        if ex["mistakes"]:
            lines += ["### Mistakes", ""]
            for code, title, detail, fix in ex["mistakes"]:
                measured = f" (measured: {_md(detail)})" if detail else ""
                lines += [f"- `{code}` {_md_ours(title)}{measured}  ", f"  Fix: {_md_ours(fix)}"]
            lines.append("")
        if ex["hint"]:
            lines += ["### Hint", "", _md_ours(ex["hint"]), ""]
        if ex["reproduce"]:
            lines += ["### See it again", "", f"In your notebook, run `{ex['reproduce']}`: it "
                      "draws the same hidden inputs as this grading run.", ""]
    lines += [f"Run seed {data['seed']}.", ""]
    return "\n".join(lines)
