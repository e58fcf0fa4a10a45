"""Grading a class: wall time of ``python -m initcourse grade`` on generated submissions.

    python benchmarks/grading.py [--count 200] [--jobs N] [--no-sandbox] [--no-course]

Generates ``--count`` notebooks cycling through every correct and every wrong solution of
the test corpus (tests/solutions: right in 9 ways, wrong in each known way, a time-out
included) and the cheap hostile submissions of tests/fixtures/hostile (forgeries, fake
results, os._exit, patched numpy, a memory hog, endless output, nbformat 3, invalid UTF-8,
solve only in markdown), grades them in one run of the command, and prints::

    grading: submissions=200 wall_s=<n> per_submission_s=<n> overhead_ratio=<n>

The class is graded as a course grades it: with points (1=10,2=10,3=20) and a feedback page
per submission (``--no-course``: without them, to compare). Then one submission (a right
exercise 1) is graded by ``python -m initcourse grade`` and by the Gradescope autograder's
``run_autograder`` in a Gradescope-like folder (each three times, alternately; the fastest
of each), and printed::

    autograder: grade_s=<n> run_autograder_s=<n> ratio=<n>

``overhead_ratio`` is the wall time per submission divided by the time of the check alone,
in this process, on the same functions (the mean over the class's non-hostile submissions,
each solution timed once after a warm-up, weighted by how often it occurs in the class),
measured just before the grading run (and again just after, printed to compare: the
machine's load moves). The time per submission falls with ``--jobs``; the check alone runs
one at a time. The line is printed even when some rows are ``grading-error`` (their count
is printed above it), with the load averages and the mean time per submission in each
phase (waiting for the warm-up, starting its process, its cells, the checks, the calls
through the proxies, and the time inside the notebook's functions).
"""

from __future__ import annotations

import argparse
import collections
import csv
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOSTILE = ["forgery_write_result", "forgery_patch_check", "fake_results", "exit_in_cell",
           "exit_in_solve", "patches_numpy", "memory_hog", "infinite_output", "nbformat3",
           "invalid_utf8", "solve_in_markdown"]


def _module_source(path: Path) -> str:
    text = path.read_text()
    text = text.replace("from __future__ import annotations\n", "")
    return re.sub(r"^from \._layer import .*$", "", text, flags=re.M)


def kinds():
    """(name, notebook writer or hostile file, the function for the in-process check)."""
    from tests.solutions import correct, wrong

    layer = _module_source(ROOT / "tests" / "solutions" / "_layer.py")
    out = []
    for module, path in ((correct, "correct.py"), (wrong, "wrong.py")):
        source = _module_source(ROOT / "tests" / "solutions" / path)
        for name, fn in module.SOLUTIONS.items():
            cells = [layer, source, f"solve = {name}"]
            out.append((f"{path[:-3]}_{name}", cells, fn))
    out += [(f"hostile_{name}", ROOT / "tests" / "fixtures" / "hostile" / f"{name}.ipynb", None)
            for name in HOSTILE]
    return out


def write_class(folder: Path, count: int):
    catalogue = kinds()
    made = []
    for number in range(count):
        name, cells, fn = catalogue[number % len(catalogue)]
        path = folder / f"{number:03d}_{name}.ipynb"
        if isinstance(cells, Path):
            path.write_bytes(cells.read_bytes())
        else:
            nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), path)
        made.append((name, fn))
    return made


def check_alone(made, seed: int) -> float:
    """Mean seconds of ``initcourse.check`` in this process per non-hostile submission."""
    import initcourse

    kwargs = {"seed": seed} if "seed" in inspect.signature(initcourse.check).parameters else {}
    functions = {name: fn for name, fn in made if fn is not None}
    initcourse.check(functions[next(iter(functions))], **kwargs)  # compile once, untimed
    seconds = {}
    for name, fn in functions.items():
        start = time.perf_counter()
        initcourse.check(fn, **kwargs)
        seconds[name] = time.perf_counter() - start
    timed = [seconds[name] for name, fn in made if fn is not None]
    return sum(timed) / len(timed)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _split(path: Path, count: int) -> str:
    """Mean seconds per submission in each phase (from the grader's timings file)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if not rows:
        return "no timings recorded"
    names = ["prepare", "start", "cells", "checks", "calls", "in_functions", "total"]
    means = {n: sum(r.get(n, 0.0) for r in rows) / len(rows) for n in names}
    return (f"{len(rows)} submissions timed; mean s per submission: "
            + " ".join(f"{n}={means[n]:.2f}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--no-zygote", action="store_true",
                        help="a fresh sandbox and Python per submission (to compare)")
    parser.add_argument("--no-course", action="store_true",
                        help="grade without points and feedback (to compare)")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    with tempfile.TemporaryDirectory(prefix="initcourse-bench-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        made = write_class(folder, args.count)
        load_before = _load()
        alone = check_alone(made, seed=1)
        timings = Path(tmp) / "timings.jsonl"
        command = [sys.executable, "-m", "initcourse", "grade", str(folder), "--out",
                   str(Path(tmp) / "grades.csv"), "--jobs", str(args.jobs), "--seed", "1"]
        command += ["--no-sandbox"] * args.no_sandbox + ["--no-zygote"] * args.no_zygote
        if not args.no_course:
            command += ["--points", "1=10,2=10,3=20", "--feedback", str(Path(tmp) / "feedback")]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "INITCOURSE_GRADING_TIMINGS": str(timings)}
        load_start = _load()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        load_end = _load()
        if done.returncode not in (0, 1):  # 1: some rows are grading-error (counted below)
            sys.exit(f"grading failed ({done.returncode}): {done.stderr[-2000:]}")
        with open(Path(tmp) / "grades.csv", newline="") as handle:
            statuses = collections.Counter(row["status"] for row in csv.DictReader(handle))
        split = _split(timings, args.count)
        alone_after = check_alone(made, seed=1)
    per = wall / args.count
    mode = "off" if args.no_sandbox else "on, " + ("fresh per submission" if args.no_zygote
                                                  else "forked from one zygote")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    print(f"  grading-error rows: {statuses.get('grading-error', 0)}")
    print(f"  check alone in-process: {alone:.2f} s per submission before grading, "
          f"{alone_after:.2f} s after; jobs={args.jobs}; sandbox={mode}")
    print(f"  load average (1/5/15 min): before the check alone {load_before}; grading "
          f"started at {load_start}, ended at {load_end}")
    print(f"  where the time went: {split}")
    print(f"grading: submissions={args.count} wall_s={wall:.1f} per_submission_s={per:.2f} "
          f"overhead_ratio={per / alone:.2f} course={'off' if args.no_course else 'on'}")
    grade_s, autograder_s = autograder_against_grade()
    print(f"autograder: grade_s={grade_s:.1f} run_autograder_s={autograder_s:.1f} "
          f"ratio={autograder_s / grade_s:.2f}")


def autograder_against_grade(repeats: int = 3) -> tuple[float, float]:
    """Seconds of ``grade`` and of ``run_autograder`` on one right exercise 1 (fastest of
    ``repeats`` each, run alternately; building the zip and setup.sh excluded)."""
    import zipfile

    solution = ROOT / "tests" / "fixtures" / "submissions" / "correct.ipynb"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    with tempfile.TemporaryDirectory(prefix="initcourse-bench-gs-") as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "initcourse", "autograder", "--out",
                        str(tmp / "a.zip")], check=True, env=env, capture_output=True)
        times = {"grade": [], "autograder": []}
        for attempt in range(repeats):
            root = tmp / f"root{attempt}"
            for sub in ("source", "submission", "results"):
                (root / sub).mkdir(parents=True)
            with zipfile.ZipFile(tmp / "a.zip") as archive:
                archive.extractall(root / "source")
            (root / "submission" / "09.ipynb").write_bytes(solution.read_bytes())
            (root / "submission_metadata.json").write_text('{"users": [{"name": "A"}]}')
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "initcourse", "grade",
                            str(root / "submission" / "09.ipynb"), "--out",
                            str(tmp / f"g{attempt}.csv"), "--seed", "1"],
                           check=True, env=env, capture_output=True)
            times["grade"].append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(["bash", str(root / "source" / "run_autograder")], check=True,
                           capture_output=True,
                           env={**env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_SEED": "1",
                                "AUTOGRADER_PYTHON": sys.executable})
            times["autograder"].append(time.perf_counter() - start)
    return min(times["grade"]), min(times["autograder"])


if __name__ == "__main__":
    main()
