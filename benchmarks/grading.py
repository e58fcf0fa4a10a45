"""Grading a class: wall time of ``python -m initcourse grade`` on generated submissions.

    python benchmarks/grading.py [--count 200] [--jobs N] [--no-sandbox]

Generates ``--count`` notebooks cycling through every correct and every wrong solution of
the test corpus (tests/solutions: right in 9 ways, wrong in each known way, a time-out
included) and the cheap hostile submissions of tests/fixtures/hostile (forgeries, fake
results, os._exit, patched numpy, a memory hog, endless output, nbformat 3, invalid UTF-8,
solve only in markdown), grades them in one run of the command, and prints::

    grading: submissions=200 wall_s=<n> per_submission_s=<n> overhead_ratio=<n>

``overhead_ratio`` is the wall time per submission divided by the time of the check alone,
in this process, on the same functions (the mean over the class's non-hostile submissions,
each solution timed once after a warm-up, weighted by how often it occurs in the class).
The time per submission falls with ``--jobs``; the check alone runs one at a time.
"""

from __future__ import annotations

import argparse
import collections
import csv
import inspect
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    with tempfile.TemporaryDirectory(prefix="initcourse-bench-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        made = write_class(folder, args.count)
        command = [sys.executable, "-m", "initcourse", "grade", str(folder), "--out",
                   str(Path(tmp) / "grades.csv"), "--jobs", str(args.jobs), "--seed", "1"]
        if args.no_sandbox:
            command.append("--no-sandbox")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"grading failed ({done.returncode}): {done.stderr[-2000:]}")
        with open(Path(tmp) / "grades.csv", newline="") as handle:
            statuses = collections.Counter(row["status"] for row in csv.DictReader(handle))
        alone = check_alone(made, seed=1)
    per = wall / args.count
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    print(f"  check alone in-process: {alone:.2f} s per submission; jobs={args.jobs}; "
          f"sandbox={'off' if args.no_sandbox else 'on'}")
    print(f"grading: submissions={args.count} wall_s={wall:.1f} per_submission_s={per:.2f} "
          f"overhead_ratio={per / alone:.2f}")


if __name__ == "__main__":
    main()
