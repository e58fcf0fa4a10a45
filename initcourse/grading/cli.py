"""Grade a class's submitted exercise notebooks, for instructors.

    python -m initcourse grade SUBMISSION... [--out grades.csv] [--jobs N] [--seed S]

Each submission (a notebook, or every *.ipynb under a folder) runs in a sandbox of its own
(bubblewrap: no network, the filesystem read-only, home folders, other submissions and the
report hidden, limits on memory, processes, CPU time and output). Its code cells run there;
then each exercise's check runs in this process, calling the notebook's function (solve
for exercise 1, lecun_normal_init for exercise 2, init_block for exercise 3) on hidden
inputs drawn from the run seed.
Nothing a notebook prints, writes or patches changes a verdict: only its functions' outputs.
Submissions are only read, never written.

Statuses: passed, failed (the mistake codes say why), invalid-notebook, no-solve,
execution-error (a cell raised or the process ended; a function defined before is still
checked), time-limit, memory-limit, output-limit, process-limit, and grading-error (grading
itself failed: the command then exits with status 1). The report records the run seed:
--seed SEED grades again with the same hidden inputs.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from initcourse import _validate
from initcourse.grading import grade, report, runner, sandbox, warmup, zygote

#: Bounds of the options (finite, and short of what would make a run pointless).
TIMEOUT_MAX, CALL_TIMEOUT_MAX, JOBS_MAX = 86_400.0, 600.0, 256
SEED_MAX = _validate.RUN_SEED_RANGE[1]
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def find_submissions(paths) -> list[Path]:
    """The notebooks named by ``paths`` (files, or folders searched recursively), sorted."""
    found: dict[Path, Path] = {}  # resolved path -> the path as named
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            for p in path.rglob("*.ipynb"):
                if ".ipynb_checkpoints" not in p.parts and p.is_file():
                    found.setdefault(p.resolve(), p)
        elif path.is_file():
            if path.suffix != ".ipynb":
                raise FileNotFoundError(
                    f"SUBMISSION {str(arg)!r} is not a notebook: name .ipynb files or folders")
            found.setdefault(path.resolve(), path)
        else:
            raise FileNotFoundError(f"SUBMISSION {str(arg)!r}: no such file or folder")
    return sorted(found.values())


def _bounded(name: str, low: float, high: float, kind=float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a {'whole ' if kind is int else ''}number; received "
                f"{text!r}") from None
        if not (math.isfinite(value) and low < value <= high):
            raise argparse.ArgumentTypeError(
                f"{name} must be finite, > {low:g} and <= {high:g}; received {text!r}")
        return value
    return parse


def _size(name: str):
    def parse(text: str) -> int:
        number, unit = text.strip().lower().rstrip("ib"), ""
        if number and number[-1] in _UNITS:
            number, unit = number[:-1], number[-1]
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 2**20 <= value <= 2**40):
            raise argparse.ArgumentTypeError(
                f"{name} must be a size from 1M to 1024G (like 512M or 2G); received {text!r}")
        return int(value)
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="exercise notebooks, or folders searched for *.ipynb")
    parser.add_argument("--out", default="grades.csv",
                        help="the CSV report to write (default: grades.csv); an existing file "
                             "is never replaced unless --overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the --out file if it exists")
    parser.add_argument("--timeout", type=_bounded("--timeout", 0, TIMEOUT_MAX), default=120.0,
                        help="seconds allowed for each notebook's cells (default: 120)")
    parser.add_argument("--call-timeout", type=_bounded("--call-timeout", 0, CALL_TIMEOUT_MAX),
                        default=5.0, help="seconds allowed for each call of a notebook's "
                                          "function by the check (default: 5)")
    parser.add_argument("--jobs", type=_bounded("--jobs", 0, JOBS_MAX, int),
                        default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--seed", type=_bounded("--seed", -1, SEED_MAX, int), default=None,
                        help="the run seed (default: a fresh one); the report records it")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions without isolation (resource limits only)")
    parser.add_argument("--no-zygote", action="store_true",
                        help="start a fresh sandbox and Python for each submission instead of "
                             "forking each from one sandbox that loaded JAX once (slower; "
                             "the same isolation)")
    limits = sandbox.Limits()
    parser.add_argument("--memory", type=_size("--memory"), default=limits.memory_bytes,
                        help="memory each submission may use on top of Python, JAX and Flax "
                             "(default: 2G)")
    parser.add_argument("--processes", type=_bounded("--processes", 15, 100_000, int),
                        default=limits.processes,
                        help=f"processes and threads per submission (default: "
                             f"{limits.processes})")
    parser.add_argument("--cpu-time", type=_bounded("--cpu-time", 0, TIMEOUT_MAX, int),
                        default=limits.cpu_s,
                        help=f"CPU seconds per submission (default: {limits.cpu_s})")
    parser.add_argument("--max-output", type=_size("--max-output"),
                        default=limits.output_bytes,
                        help="bytes a submission may print (default: 10M)")


def _check_out(args, submissions) -> str:
    out = Path(args.out)
    if out.suffix != ".csv" or any(out.resolve() == s.resolve() for s in submissions):
        return f"--out must name a .csv file that is not a submission; received {args.out!r}"
    if not out.resolve().parent.is_dir() or out.is_dir():
        return f"--out must be a file in an existing folder; received {args.out!r}"
    if out.exists() and not args.overwrite:
        return (f"--out {args.out!r} exists already: name another file, or pass --overwrite "
                "to replace it")
    return ""


def run(args: argparse.Namespace) -> int:
    """The ``grade`` command. Returns the exit status: 0 when every submission was graded,
    1 when grading itself failed for some, 2 for bad arguments, 130 when interrupted."""
    stdout, stderr = sys.stdout, sys.stderr
    try:
        submissions = find_submissions(args.submissions)
    except FileNotFoundError as exc:
        print(exc, file=stderr)
        return 2
    problem = _check_out(args, submissions)
    if not submissions:
        problem = problem or "no notebooks (*.ipynb) found in " + " ".join(args.submissions)
    if problem:
        print(problem, file=stderr)
        return 2
    out = Path(args.out)
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    why_not = "--no-sandbox was given" if args.no_sandbox else sandbox.sandbox_problem()
    if why_not:
        print(f"WARNING: submissions are NOT isolated ({why_not}): their code runs with your "
              "files and network, under resource limits only.", file=stderr)
    limits = sandbox.Limits(memory_bytes=args.memory, processes=args.processes,
                            cpu_s=args.cpu_time, output_bytes=args.max_output)
    hide = {str(p.resolve().parent) for p in submissions} | {str(out.resolve().parent)}
    hide |= {str(Path(a).resolve()) for a in args.submissions if Path(a).is_dir()}
    settings = grade.Settings(timeout=args.timeout, call_timeout=args.call_timeout, seed=seed,
                              sandboxed=not why_not, limits=limits,
                              hide=tuple(sorted(hide | {os.getcwd()})))
    noun = "submission" if len(submissions) == 1 else "submissions"
    print(f"grading {len(submissions)} {noun} ({min(args.jobs, len(submissions))} at once, "
          f"run seed {seed}); report: {out}", file=stderr)
    try:
        writer = report.ReportWriter(out, run_seed=seed, isolated=not why_not)
    except OSError as exc:
        print(f"--out cannot be written: {exc}", file=stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="initcourse-jax-cache-") as cache:
        zygotes = None
        if not why_not and not args.no_zygote and not sandbox.zygote_problem():
            zygotes = zygote.Shared(limits=limits, hide=settings.hide, jax_cache=cache)
        settings = grade.Settings(**{**settings.__dict__, "jax_cache": cache,
                                     "prepare": _once(warmup.prepare, cache, seed),
                                     "zygotes": zygotes})
        try:
            interrupted = _grade_all(submissions, settings, writer, args.jobs, stderr)
        finally:
            if zygotes is not None:
                zygotes.close()
    sys.stdout, sys.stderr = stdout, stderr  # a check in a thread may have swapped them
    writer.finish()
    report.print_table(writer.grades, stdout)
    passed = sum(g.passed for g in writer.grades)
    failures = [g for g in writer.grades if g.status in report.GRADING_FAILURES]
    if interrupted:
        print(f"\ninterrupted: {len({g.file for g in writer.grades})} of {len(submissions)} "
              f"{noun} graded, {passed} passed. Report: {out}", file=stdout)
        return 130
    print(f"\n{len(submissions)} {noun}, {passed} passed. Report: {out}", file=stdout)
    if why_not:
        print(f"WARNING: these submissions were NOT isolated ({why_not}).", file=stdout)
    if failures:
        print(f"grading itself failed for {len(failures)} row(s): see status grading-error",
              file=stderr)
        return 1
    return 0


def _grade_all(submissions, settings, writer, jobs: int, stderr) -> bool:
    """Grade in ``jobs`` threads, rows written as each finishes. True if interrupted."""
    from tqdm import tqdm

    stop = threading.Event()

    def one(path: Path) -> list[report.Grade]:
        if stop.is_set():
            return []
        name = _display_name(path)
        try:
            return grade.grade_notebook(path, name, settings)
        except Exception as exc:  # noqa: BLE001 - one failure must not stop the class
            return [report.Grade(name, "-", "grading-error", False, (), 0.0,
                                 f"{type(exc).__name__}: {exc}")]

    bar = tqdm(total=len(submissions), unit="notebook", file=stderr, dynamic_ncols=True,
               disable=not stderr.isatty())
    passed = 0
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(submissions))),
                              thread_name_prefix="initcourse-grade")
    pending = {pool.submit(one, path) for path in submissions}
    try:
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                rows = future.result()
                writer.add(rows)
                passed += sum(g.passed for g in rows)
                bar.update(1)
                bar.set_postfix(passed=passed)
                for g in rows:
                    bar.write(f"graded {report.clean(g.file, 200)} [{g.exercise}]: {g.status}",
                              file=stderr)
        return False
    except KeyboardInterrupt:
        stop.set()
        for future in pending:
            future.cancel()
        runner.kill_all()
        deadline = time.monotonic() + 30
        while runner.live_count() and time.monotonic() < deadline:
            runner.kill_all()
            time.sleep(0.1)
        return True
    finally:
        pool.shutdown(wait=not stop.is_set(), cancel_futures=True)
        bar.close()


def _once(fn, *args):
    """``fn(*args)`` the first time the result is called, in whichever thread; later calls
    wait for that one to finish."""
    lock, done = threading.Lock(), []

    def call() -> None:
        with lock:
            if not done:
                fn(*args)
                done.append(True)
    return call


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
