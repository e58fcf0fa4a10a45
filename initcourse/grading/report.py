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

COLUMNS = ("file", "exercise", "status", "passed", "mistakes", "runtime_s", "detail",
           "run_seed", "isolated")
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

    ``exercise`` is the function graded (``solve``, ``lecun_normal_init``) or ``-`` when
    the notebook could not be graded for any exercise.
    """

    file: str
    exercise: str
    status: str
    passed: bool
    mistakes: tuple[str, ...]
    runtime_s: float
    detail: str

    def row(self, run_seed: int, isolated: bool) -> dict:
        return {"file": _cell(clean(self.file, 1000)), "exercise": self.exercise,
                "status": self.status, "passed": "yes" if self.passed else "no",
                "mistakes": clean(" ".join(self.mistakes)),
                "runtime_s": f"{self.runtime_s:.1f}", "detail": _cell(clean(self.detail)),
                "run_seed": str(run_seed), "isolated": "yes" if isolated else "NO"}

    def order(self) -> tuple:
        return (self.file, EXERCISE_ORDER.get(self.exercise, 9), self.exercise)


class ReportWriter:
    """Writes rows to ``path`` as they come, and all of them in order at the end."""

    def __init__(self, path: Path, *, run_seed: int, isolated: bool):
        self.path, self.run_seed, self.isolated = Path(path), run_seed, isolated
        self.grades: list[Grade] = []
        self._handle = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=COLUMNS)
        self._writer.writeheader()
        self._handle.flush()

    def add(self, grades) -> None:
        for grade in grades:
            self.grades.append(grade)
            self._writer.writerow(grade.row(self.run_seed, self.isolated))
        self._handle.flush()

    def finish(self) -> None:
        """Rewrite the report with every row in a stable order (atomically)."""
        self._handle.close()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for grade in sorted(self.grades, key=Grade.order):
                writer.writerow(grade.row(self.run_seed, self.isolated))
        os.replace(temporary, self.path)


def print_table(grades, out=None) -> None:
    """The summary on the terminal: file, exercise, status, passed, runtime, mistakes."""
    out = out or sys.stdout
    grades = sorted(grades, key=Grade.order)
    width = max([len("file")] + [len(clean(g.file, 1000)) for g in grades])
    print(f"{'file':<{width}}  {'exercise':<19}{'status':<18}{'passed':<8}{'runtime':>9}  "
          "mistakes", file=out)
    for g in grades:
        print(f"{clean(g.file, 1000):<{width}}  {g.exercise:<19}{g.status:<18}"
              f"{'yes' if g.passed else 'no':<8}{g.runtime_s:>7.1f} s  "
              f"{clean(' '.join(g.mistakes)) or '-'}", file=out)
