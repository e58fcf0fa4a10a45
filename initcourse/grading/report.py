"""The grading report: one row per exercise of each submission, in a CSV file and a table.

Rows are appended to the CSV as each submission finishes (an interrupted run keeps them);
when grading ends the file is rewritten in a stable order (by file, then exercise). Every
text that came from a submission is cleaned first: no terminal escape codes or control
characters, and nothing a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from initcourse.grading import points

COLUMNS = ("file", "student_id", "exercise", "status", "passed", "score", "max_score",
           "mistakes", "runtime_s", "detail", "run_seed", "isolated")
#: The exercises, in report order: the function a notebook defines -> its number.
EXERCISE_ORDER = {"solve": 1, "lecun_normal_init": 2, "init_block": 3, "-": 4}
#: Statuses that mean grading itself failed (not the submission): the command exits 1.
GRADING_FAILURES = ("grading-error",)

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, limit: int = 400) -> str:
    """``text`` without terminal escape codes or control characters, on one line, at most
    ``limit`` characters."""
    text = _ESCAPES.sub("", str(text))
    text = " ".join(_CONTROL.sub("?", text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _cell(text: str) -> str:
    """A CSV field a spreadsheet shows as text (never evaluates as a formula)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") and text != "-" else text


@dataclass(frozen=True)
class Grade:
    """One exercise of one submission: a line of the report.

    ``exercise`` is the function graded (``solve``, ``lecun_normal_init``, ``init_block``)
    or ``-`` when the notebook could not be graded for any exercise. ``right`` of ``cases``
    hidden cases had an output the check verified as right (0 of 0 when the check did not
    run); ``blocks`` are the check's message, as ``(code, title, detail, fix)`` (see
    :class:`initcourse.exercises.report.Block`), for the students' feedback.
    """

    file: str
    exercise: str
    status: str
    passed: bool
    mistakes: tuple[str, ...]
    runtime_s: float
    detail: str
    right: int = 0
    cases: int = 0
    blocks: tuple = ()

    def row(self, run_seed: int, isolated: bool, max_score: float = 0.0,
            student: str = "") -> dict:
        return {"file": _cell(clean(self.file, 1000)), "student_id": _cell(clean(student, 200)),
                "exercise": self.exercise, "status": self.status,
                "passed": "yes" if self.passed else "no",
                "score": points.show(points.score(self, max_score)),
                "max_score": points.show(max_score) if self.exercise in points.NUMBERS else "0",
                "mistakes": clean(" ".join(self.mistakes)),
                "runtime_s": f"{self.runtime_s:.1f}", "detail": _cell(clean(self.detail)),
                "run_seed": str(run_seed), "isolated": "yes" if isolated else "NO"}

    def order(self) -> tuple:
        return (self.file, EXERCISE_ORDER.get(self.exercise, 9), self.exercise)


class Scores:
    """A run's points: ``max_scores`` maps an exercise's function name to its points (an
    exercise left out is worth 0); the run seed, and whether submissions were isolated."""

    def __init__(self, *, run_seed: int, isolated: bool, max_scores=None):
        self.run_seed, self.isolated = run_seed, isolated
        self.max_scores = dict(max_scores if max_scores is not None else
                               {name: points.DEFAULT_POINTS for name in points.NUMBERS})
        self.grades: list[Grade] = []

    def max_score(self, grade: Grade) -> float:
        return float(self.max_scores.get(grade.exercise, 0.0))

    def score(self, grade: Grade) -> float:
        return points.score(grade, self.max_score(grade))


class ReportWriter(Scores):
    """Writes rows to ``path`` as they come, and all of them in order at the end.

    ``max_scores`` as :class:`Scores` takes it; ``students`` maps a submission's file (as
    its rows name it) to the student it belongs to (none: the column stays empty)."""

    def __init__(self, path: Path, *, run_seed: int, isolated: bool, max_scores=None,
                 students=None):
        super().__init__(run_seed=run_seed, isolated=isolated, max_scores=max_scores)
        self.path = Path(path)
        self.students = dict(students or {})
        self._handle = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=COLUMNS)
        self._writer.writeheader()
        self._handle.flush()

    def add(self, grades) -> None:
        for grade in grades:
            self.grades.append(grade)
            self._writer.writerow(self._row(grade))
        self._handle.flush()

    def _row(self, grade: Grade) -> dict:
        return grade.row(self.run_seed, self.isolated, self.max_score(grade),
                         self.students.get(grade.file, ""))

    def finish(self) -> None:
        """Rewrite the report with every row in a stable order (atomically)."""
        self._handle.close()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for grade in sorted(self.grades, key=Grade.order):
                writer.writerow(self._row(grade))
        os.replace(temporary, self.path)


def print_table(grades, out=None, max_scores=None) -> None:
    """The summary on the terminal: file, exercise, status, passed, points, runtime,
    mistakes (``max_scores`` as :class:`ReportWriter` takes it)."""
    out = out or sys.stdout
    grades = sorted(grades, key=Grade.order)
    worth = dict(max_scores if max_scores is not None else
                 {name: points.DEFAULT_POINTS for name in points.NUMBERS})
    width = max([len("file")] + [len(clean(g.file, 1000)) for g in grades])
    print(f"{'file':<{width}}  {'exercise':<19}{'status':<18}{'passed':<8}{'points':<12}"
          f"{'runtime':>9}  mistakes", file=out)
    for g in grades:
        most = float(worth.get(g.exercise, 0.0))
        earned = (f"{points.show(points.score(g, most))}/{points.show(most)}"
                  if g.exercise in points.NUMBERS else "-")
        print(f"{clean(g.file, 1000):<{width}}  {g.exercise:<19}{g.status:<18}"
              f"{'yes' if g.passed else 'no':<8}{earned:<12}{g.runtime_s:>7.1f} s  "
              f"{clean(' '.join(g.mistakes)) or '-'}", file=out)
