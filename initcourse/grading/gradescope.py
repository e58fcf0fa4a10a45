"""The Gradescope autograder: the package (``python -m initcourse autograder``) and what it
runs on Gradescope (``run_autograder``).

The zip holds, at its top (Gradescope unzips it into ``/autograder/source``):

- ``setup.sh``: run once by Gradescope, as root, on its Ubuntu image: a Python >= 3.11
  (the image's, or Ubuntu's ``python3.11``), a virtual environment in ``/autograder/venv``,
  and the course installed there from ``course/`` with ``constraints.txt`` (the versions
  the course is tested with);
- ``run_autograder``: run for each submission: grades ``/autograder/submission/**/*.ipynb``
  with the same sandbox and checks as ``python -m initcourse grade`` and writes
  ``/autograder/results/results.json`` in Gradescope's format (one test per exercise, with
  its points, its feedback and its visibility; the total score; the execution time);
- ``autograder.json``: the exercises and their points, as given to the command;
- ``course/``: the course's source (``pyproject.toml``, ``constraints.txt``, ``initcourse/``).

``run_autograder`` reads ``submission_metadata.json`` for the student's name only. The
sandbox hides ``source/``, ``results/`` and ``submission/`` from the submission's process:
it can neither read the autograder nor write the results, which are written after every
submission process has ended (replacing any file of that name).

Environment variables (for testing it anywhere): ``AUTOGRADER_ROOT`` (default
``/autograder``), ``AUTOGRADER_PYTHON`` (default: ``/autograder/venv/bin/python``, which
``setup.sh`` made), ``AUTOGRADER_SEED`` (the run seed; default: a fresh one, printed in the
feedback so that a student can see the same hidden inputs).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from initcourse.grading import feedback, points, report

#: The files of the course that the autograder's ``course/`` folder holds.
_COURSE_FILES = ("pyproject.toml", "constraints.txt", "README.md", "LICENSE")
_NAMES = {1: "Exercise 1: solve (a Dense layer with lecun_normal)",
          2: "Exercise 2: lecun_normal_init (the initializer from jax.random)",
          3: "Exercise 3: init_block (GPT-2's initialization of a block)"}

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image: a Python >= 3.11,
# a virtual environment in /autograder/venv, the course installed there with the versions
# it is tested with (constraints.txt).
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

good_python() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

PY=""
for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && good_python "$candidate" \
        && "$candidate" -c 'import ensurepip, venv' 2>/dev/null; then
        PY="$(command -v "$candidate")"; break
    fi
done
if [ -z "$PY" ] && command -v apt-get >/dev/null; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates
    good_python python3 && PY="$(command -v python3)"
    if [ -z "$PY" ]; then
        apt-get install -y -q --no-install-recommends python3.11 python3.11-venv
        PY="$(command -v python3.11)"
    fi
fi
if [ -z "$PY" ] || ! good_python "$PY"; then
    echo "setup.sh: the course needs Python >= 3.11 with venv; this image has none" >&2
    exit 1
fi
"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade "pip>=24"
"$ROOT/venv/bin/python" -m pip install --quiet -c "$SOURCE/course/constraints.txt" "$SOURCE/course"
"$ROOT/venv/bin/python" -c 'import initcourse, jax, flax; print("initcourse installed")'
"$ROOT/venv/bin/python" -c 'from initcourse.grading import sandbox
print("sandbox:", sandbox.sandbox_problem() or "bubblewrap works")'
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission/*.ipynb and write
# /autograder/results/results.json.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
export JAX_PLATFORMS=cpu
cd "$ROOT"
exec "$PYTHON" -m initcourse.grading.gradescope --root "$ROOT"
"""


def course_root() -> Path:
    """The folder holding the course's ``pyproject.toml`` (the source being packaged)."""
    return Path(__file__).resolve().parents[2]


def build(out: Path, exercises, max_points: dict[int, float]) -> list[str]:
    """Write the autograder zip to ``out``; returns the names it holds."""
    root = course_root()
    missing = [name for name in _COURSE_FILES[:2] if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the course's {' and '.join(missing)} are not beside the "
                                f"package ({root}): build the autograder from a clone")
    config = {"exercises": list(exercises),
              "points": {str(n): max_points[n] for n in exercises}}
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    names = []
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
            names.append(name)
        archive.writestr("autograder.json", json.dumps(config, indent=2) + "\n")
        names.append("autograder.json")
        for name in _COURSE_FILES:
            if (root / name).is_file():
                archive.write(root / name, f"course/{name}")
                names.append(f"course/{name}")
        for path in sorted((root / "initcourse").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                arcname = f"course/{path.relative_to(root).as_posix()}"
                archive.write(path, arcname)
                names.append(arcname)
    os.replace(temporary, out)
    return names


def command(argv) -> int:
    """``python -m initcourse autograder``: build the zip. Exit 0, or 2 for bad arguments."""
    parser = argparse.ArgumentParser(
        prog="initcourse autograder",
        description="Build the Gradescope autograder (upload the zip as the assignment's "
                    "autograder; students submit their exercise notebooks).")
    add_arguments(parser)
    return build_command(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="autograder.zip",
                        help="the zip to write (default: autograder.zip); never replaced "
                             "unless --overwrite is given")
    parser.add_argument("--exercises", default=None, metavar="N,...",
                        help="the exercises it grades, like 1,3 (default: 1,2,3)")
    parser.add_argument("--points", default=None, metavar="N=P,...",
                        help="points of each exercise, like 1=10,2=10,3=20 (default: 10 each)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def build_command(args) -> int:
    out = Path(args.out)
    try:
        exercises = points.parse_exercises(args.exercises)
        worth = points.parse_points(args.points, exercises)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if out.suffix != ".zip" or out.is_dir() or not out.resolve().parent.is_dir():
        print(f"--out must name a .zip file in an existing folder; received {args.out!r}",
              file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite:
        print(f"--out {args.out!r} exists already: name another file, or pass --overwrite to "
              "replace it", file=sys.stderr)
        return 2
    try:
        names = build(out, exercises, worth)
    except (OSError, FileNotFoundError) as exc:
        print(f"the autograder could not be built: {exc}", file=sys.stderr)
        return 1
    total = sum(worth.values())
    print(f"autograder: {out} ({len(names)} files; exercises "
          f"{', '.join(map(str, exercises))}; {points.show(total)} points). Upload it as the "
          "assignment's autograder on Gradescope; students submit their exercise notebooks.")
    return 0


# --- run_autograder -------------------------------------------------------------------------

def student_name(root: Path) -> str:
    """The submitters' names from ``submission_metadata.json`` (nothing else is read)."""
    try:
        data = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        users = data.get("users") or []
        names = [str(u.get("name", "")).strip() for u in users if isinstance(u, dict)]
    except (OSError, ValueError, AttributeError):
        return ""
    return " and ".join(n for n in names if n)


def _config(root: Path) -> tuple[tuple[int, ...], dict[int, float]]:
    path = root / "source" / "autograder.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        exercises = tuple(int(n) for n in data["exercises"])
        worth = {int(n): float(v) for n, v in data["points"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"run_autograder: {path} cannot be read ({exc}): rebuild the "
                         "autograder with python -m initcourse autograder") from None
    return exercises, worth


def run(root: Path) -> dict:
    """Grade the submission under ``root`` and write ``root/results/results.json``; returns
    what it wrote."""
    from initcourse.grading import cli

    start = time.monotonic()
    exercises, worth = _config(root)
    name = student_name(root)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    submission = root / "submission"
    notebooks = cli.find_submissions([submission]) if submission.is_dir() else []
    seed_text = os.environ.get("AUTOGRADER_SEED", "")
    seed = int(seed_text) if seed_text.strip().isdigit() else secrets.randbelow(2**31)
    grades, writer, isolated, problem = [], None, True, ""
    if notebooks:
        with tempfile.TemporaryDirectory(prefix="initcourse-autograder-") as work:
            parser = argparse.ArgumentParser(prog="run_autograder")
            cli.add_arguments(parser)
            args = parser.parse_args([
                str(submission), "--out", str(Path(work) / "grades.csv"), "--seed", str(seed),
                "--points", ",".join(f"{n}={worth[n]:g}" for n in exercises),
                "--exercises", ",".join(map(str, exercises))])
            status, writer, _ = cli.grade_class(
                args, hide_also=[root / "source", results_dir, submission])
            if writer is None:
                problem = "the grader refused its arguments (see the autograder's output)"
            else:
                grades, isolated = writer.grades, writer.isolated
                if status == 1:
                    problem = "grading itself failed for some rows (status grading-error)"
    if writer is None:
        writer = report.Scores(run_seed=seed, isolated=isolated,
                               max_scores={points.EXERCISES[n]: worth[n] for n in exercises})
    results = results_json(grades, writer, exercises, name, notebooks, submission,
                           time.monotonic() - start, problem)
    temporary = results_dir / f".results.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, results_dir / "results.json")
    return results


def results_json(grades, writer, exercises, name, notebooks, submission, seconds,
                 problem="") -> dict:
    """Gradescope's results: one test per exercise (the best of the submission's notebooks
    for it), the total, the time, and a summary for the student."""
    tests = []
    for number in exercises:
        function = points.EXERCISES[number]
        most = float(writer.max_scores.get(function, 0.0))
        rows = [g for g in grades if g.exercise == function]
        best = max(rows, key=lambda g: (writer.score(g), g.passed), default=None)
        if best is None:
            output = (f"No notebook of your submission defines `{function}` (exercise "
                      f"{number}): submit the exercise's notebook with the function in it.")
            tests.append({"name": _NAMES[number], "number": str(number), "score": 0.0,
                          "max_score": most, "status": "failed", "output": output,
                          "output_format": "md", "visibility": "visible"})
            continue
        data = feedback.sections([best], writer)
        exercise = data["exercises"][0]
        text = feedback.render_markdown({**data, "exercises": [exercise], "student": ""})
        body = text.split("\n## ", 1)[1] if "\n## " in text else text
        body = body.split("\n", 1)[1] if "\n" in body else body
        where = f"Graded from `{feedback._md(_relative(best.file, submission))}`.\n\n"
        tests.append({"name": _NAMES[number], "number": str(number),
                      "score": writer.score(best), "max_score": most,
                      "status": "passed" if best.passed else "failed",
                      "output": where + body.strip() + "\n", "output_format": "md",
                      "visibility": "visible"})
    unreadable = [g for g in grades if g.exercise not in points.NUMBERS]
    lines = [f"Feedback for {feedback._md(name)}." if name else "Feedback.", ""]
    if not notebooks:
        lines += ["Your submission has no notebook (.ipynb): upload your exercise notebooks.",
                  ""]
    for g in unreadable:
        lines += [f"`{feedback._md(_relative(g.file, submission))}`: {g.status} "
                  f"({feedback._md(g.detail)})", ""]
    if not writer.isolated:
        lines += ["The autograder could not isolate submissions on this machine (bubblewrap "
                  "could not start); your instructor can see this note.", ""]
    if problem:
        lines += [f"Note: {problem}.", ""]
    lines += [f"Run seed {writer.run_seed}: the same hidden inputs as "
              f"`initcourse.check(..., seed={writer.run_seed})`."]
    return {"score": round(sum(t["score"] for t in tests), 2),
            "execution_time": max(0, int(round(seconds))),
            "output": "\n".join(lines) + "\n", "output_format": "md",
            "test_output_format": "md", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def _relative(file: str, submission: Path) -> str:
    try:
        return str(Path(file).resolve().relative_to(submission.resolve()))
    except ValueError:
        return file


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    args = parser.parse_args(argv)
    run(Path(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
