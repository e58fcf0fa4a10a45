"""A class's roster, which submission is whose, and the gradebook for the LMS.

The roster is a CSV file with a header row. Its columns (case and spaces do not matter, so
Canvas's own gradebook export can serve as the roster):

- ``id`` (Canvas: ``ID``), required: the student's id in the LMS;
- ``name`` (Canvas: ``Student``), required;
- ``sis_user_id`` (``SIS User ID``), ``sis_login_id`` (``SIS Login ID``; or ``login``),
  ``section`` (``Section``), ``email``: optional.

Canvas's export has a second row, ``Points Possible``, and maybe a ``Student, Test``: the
first is skipped, the second kept (it is a real row of the course).

A submission is matched to a student by the rules of ``--match``, tried in order (the
default: ``metadata;*{id}*;*{sis_login_id}*``): ``metadata`` reads
``metadata.initcourse.student_id`` of the notebook and compares it with each student's
``id``, ``sis_user_id`` and ``sis_login_id``; any other rule is a pattern on the
submission's path (as the report names it, ``*`` any characters) where ``{column}`` stands
for that column of a student, matched only as a whole word (``*{id}*`` finds ``1234`` in
``smith_1234_5678_09_exercise.ipynb``, Canvas's download name, but not in ``12345``). The
first rule that names exactly one student decides; a rule that names several makes the
submission ambiguous. A submission no rule matches, or an ambiguous one, is graded and
reported, never dropped: its report rows have an empty ``student_id``.

The gradebook (``--gradebook``) is Canvas's import layout: ``Student, ID, SIS User ID, SIS
Login ID, Section``, one column per exercise (``Exercise 1 (solve)``, ...) and ``Total``,
a ``Points Possible`` row, then one row per student of the roster. A student's score for an
exercise is the best of their submissions' rows for it (0 when their submissions do not
attempt it); a student with no submission has empty scores and is listed as missing.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from initcourse.grading import points, report

_ALIASES = {"student": "name", "name": "name", "id": "id", "sis_user_id": "sis_user_id",
            "sis_login_id": "sis_login_id", "login": "sis_login_id", "section": "section",
            "email": "email"}
COLUMNS = ("id", "name", "sis_user_id", "sis_login_id", "section", "email")
DEFAULT_MATCH = "metadata;*{id}*;*{sis_login_id}*"
GRADEBOOK_HEAD = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class RosterError(ValueError):
    """The roster or a --match rule cannot be used (the message says which row or part)."""


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""

    def field(self, column: str) -> str:
        return getattr(self, column)


#: The largest roster file read (a CSV of 100,000 students is about 10 MB).
MAX_ROSTER_BYTES = 50 * 2**20


def read_roster(path) -> list[Student]:
    """The students of the roster CSV at ``path`` (layout: this module's docstring)."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise RosterError(f"--roster {str(path)!r} is not a regular file (a folder, a device "
                              f"or a pipe); it must be a CSV file")
        if path.exists() and path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"--roster {str(path)!r} has {path.stat().st_size:,} bytes, above "
                              f"the bound of {MAX_ROSTER_BYTES:,} (a roster of 100,000 students "
                              f"is about 10 MB)")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"--roster {str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"--roster {str(path)!r} cannot be read: {exc}") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise RosterError(f"--roster {str(path)!r} is empty: it needs a header row with id "
                          "and name")
    keys = [_ALIASES.get(re.sub(r"\s+", "_", h.strip().lower())) for h in header]
    missing = [c for c in ("id", "name") if c not in keys]
    if missing:
        raise RosterError(f"--roster {str(path)!r} has no {' or '.join(missing)} column; its "
                          f"header is {header!r} (columns: id, name, and optionally "
                          "sis_user_id, sis_login_id, section, email)")
    students, seen = [], {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            raise RosterError(f"--roster {str(path)!r}, row {number} has {len(row)} cells, its "
                              f"header {len(header)} (a comma inside a name needs quotes); "
                              f"row: {row!r}")
        values = {}
        for key, cell in zip(keys, row, strict=False):
            if key and key not in values:
                values[key] = cell.strip()
        if values.get("name", "").strip().lower() == "points possible":
            continue
        if not values.get("id"):
            raise RosterError(f"--roster {str(path)!r}, row {number}: the id is empty "
                              f"(row: {row!r})")
        if not values.get("name"):
            raise RosterError(f"--roster {str(path)!r}, row {number}: the name is empty "
                              f"(row: {row!r})")
        if values["id"] in seen:
            raise RosterError(f"--roster {str(path)!r}: id {values['id']!r} is on rows "
                              f"{seen[values['id']]} and {number}")
        seen[values["id"]] = number
        students.append(Student(**{c: values.get(c, "") for c in COLUMNS}))
    return students


def parse_match(text: str | None) -> tuple[str, ...]:
    """The ``--match`` rules, checked: ``metadata`` or patterns naming roster columns."""
    rules = tuple(r.strip() for r in (DEFAULT_MATCH if text is None else text).split(";"))
    if not rules or not all(rules):
        raise RosterError(f"--match must be rules separated by ';' (like {DEFAULT_MATCH}); "
                          f"received {text!r}")
    for rule in rules:
        if rule == "metadata":
            continue
        names = re.findall(r"\{([^{}]*)\}", rule)
        if not names or any(n not in COLUMNS for n in names):
            raise RosterError(f"--match rule {rule!r} must be 'metadata' or a pattern with a "
                              f"{{column}} of the roster ({', '.join(COLUMNS)}); received "
                              f"{text!r}")
    return rules


def notebook_student_id(path) -> str:
    """``metadata.initcourse.student_id`` of the notebook at ``path``, or ``""``."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
        value = data["metadata"]["initcourse"]["student_id"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return ""
    return str(value).strip() if isinstance(value, (str, int)) else ""


def _pattern(rule: str, student: Student) -> re.Pattern | None:
    parts, out = re.split(r"(\{[a-z_]+\})", rule), []
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            value = student.field(part[1:-1])
            if not value:
                return None
            out.append(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
        else:
            out.append(".*".join(re.escape(bit) for bit in part.split("*")))
    return re.compile("".join(out), re.IGNORECASE)


@dataclass
class Matching:
    """Which submission is whose: ``owner`` (submission -> student id), and the rest."""

    owner: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)


def match(submissions, students, rules) -> Matching:
    """Match each submission (``(name, path)``: the report's name and the file) to one
    student by ``rules`` (:func:`parse_match`)."""
    result = Matching()
    compiled = {rule: [(s, _pattern(rule, s)) for s in students]
                for rule in rules if rule != "metadata"}
    for name, path in submissions:
        owners: list[str] = []
        for rule in rules:
            if rule == "metadata":
                tag = notebook_student_id(path)
                owners = [s.id for s in students
                          if tag and tag in (s.id, s.sis_user_id, s.sis_login_id)]
            else:
                owners = [s.id for s, p in compiled[rule] if p is not None and p.fullmatch(name)]
            if owners:
                break
        if len(owners) == 1:
            result.owner[name] = owners[0]
        elif owners:
            result.ambiguous[name] = owners
        else:
            result.unmatched.append(name)
    return result


def gradebook_rows(students, grades, writer: report.ReportWriter, exercises, matching):
    """The gradebook's header, its Points Possible row, and one row per student; and the
    students without a submission."""
    header = [*GRADEBOOK_HEAD, *(f"Exercise {n} ({points.EXERCISES[n]})" for n in exercises),
              "Total"]
    maxima = [float(writer.max_scores.get(points.EXERCISES[n], 0.0)) for n in exercises]
    possible = ["Points Possible", "", "", "", "", *(points.show(m) for m in maxima),
                points.show(sum(maxima))]
    best: dict[str, dict[int, float]] = {}
    for grade in grades:
        owner = matching.owner.get(grade.file)
        if owner is None:
            continue
        scores = best.setdefault(owner, {n: 0.0 for n in exercises})
        number = points.NUMBERS.get(grade.exercise)
        if number in scores:
            scores[number] = max(scores[number], writer.score(grade))
    rows, missing = [], []
    for s in students:
        head = [s.name, s.id, s.sis_user_id, s.sis_login_id, s.section]
        if s.id in best:
            values = [best[s.id][n] for n in exercises]
            rows.append([*head, *(points.show(v) for v in values), points.show(sum(values))])
        else:
            missing.append(s)
            rows.append([*head, *("" for _ in exercises), ""])
    return header, possible, rows, missing


def write_gradebook(path, header, possible, rows) -> None:
    """The gradebook CSV at ``path``, written whole (atomically)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(possible)
        for row in rows:
            writer.writerow([_text_cell(cell) for cell in row])
    os.replace(temporary, path)


def _text_cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
