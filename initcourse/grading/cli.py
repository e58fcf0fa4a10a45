"""Grade a class's submitted exercise notebooks, for instructors.

    python -m initcourse grade SUBMISSION... [--out grades.csv] [--jobs N] [--seed S]
        [--points 1=10,2=10,3=10] [--exercises 1,2,3] [--feedback DIR]
        [--roster roster.csv --gradebook gradebook.csv [--match RULES]]

Each submission (a notebook, or every *.ipynb under a folder) runs in a sandbox of its own
(bubblewrap: no network, the filesystem read-only, home folders, other submissions and the
report hidden, limits on memory, processes, CPU time and output). Its code cells run there;
then each exercise's check runs in this process, calling the notebook's function (solve
for exercise 1, lecun_normal_init for exercise 2, init_block for exercise 3) on hidden
inputs drawn from the run seed.
Nothing a notebook prints, writes or patches changes a verdict: only its functions' outputs.
Submissions are only read, never written.

Points (--points, 10 per exercise by default): a passed check gets the exercise's points; a
failed one gets points x (hidden cases right) / (hidden cases), one case fewer when every
case was right but the check failed for how it was computed; a submission whose function
the check never ran gets 0. --feedback DIR writes one HTML page and a Markdown copy per
submission for its student; --roster and --gradebook write Canvas's gradebook layout (see
initcourse.grading.roster for the roster's columns and the --match rules).

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
from dataclasses import dataclass, field
from pathlib import Path

from initcourse import _validate
from initcourse.grading import feedback, grade, points, report, roster, runner, sandbox, warmup, zygote

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
                        help="replace the --out, --gradebook and --feedback files if they exist")
    parser.add_argument("--points", default=None, metavar="N=P,...",
                        help="points of each exercise, like 1=10,2=10,3=20 (default: 10 each)")
    parser.add_argument("--exercises", default=None, metavar="N,...",
                        help="the exercises to grade, like 1,3 (default: 1,2,3); a notebook's "
                             "other functions are not checked")
    parser.add_argument("--feedback", default=None, metavar="DIR",
                        help="write one HTML page and one Markdown copy per submission, for "
                             "its student, in DIR (made if missing)")
    parser.add_argument("--roster", default=None, metavar="CSV",
                        help="the class's roster (columns id, name, and optionally "
                             "sis_user_id, sis_login_id, section, email; Canvas's gradebook "
                             "export works as it is)")
    parser.add_argument("--gradebook", default=None, metavar="CSV",
                        help="write the gradebook in Canvas's import layout (needs --roster)")
    parser.add_argument("--match", default=None, metavar="RULES",
                        help="how a submission is matched to a student of the roster, rules "
                             f"tried in order (default: {roster.DEFAULT_MATCH!r})")
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


def _check_csv(option: str, value: str, submissions, overwrite: bool, taken=()) -> str:
    out = Path(value)
    if out.suffix != ".csv" or any(out.resolve() == s.resolve() for s in submissions):
        return f"{option} must name a .csv file that is not a submission; received {value!r}"
    if any(out.resolve() == Path(t).resolve() for t in taken):
        return f"{option} must name another file than the other options; received {value!r}"
    if not out.resolve().parent.is_dir() or out.is_dir():
        return f"{option} must be a file in an existing folder; received {value!r}"
    if out.exists() and not overwrite:
        return (f"{option} {value!r} exists already: name another file, or pass --overwrite "
                "to replace it")
    return ""


def _check_out(args, submissions) -> str:
    return _check_csv("--out", args.out, submissions, args.overwrite)


@dataclass
class Course:
    """What the points, feedback and gradebook options resolved to."""

    exercises: tuple[int, ...]
    max_scores: dict[str, float]
    students: list = field(default_factory=list)
    matching: roster.Matching | None = None
    feedback: Path | None = None


def _course(args, submissions) -> tuple[Course | None, str]:
    """The options beyond the report's, checked before any grading: (course, problem)."""
    try:
        exercises = points.parse_exercises(getattr(args, "exercises", None))
        worth = points.parse_points(getattr(args, "points", None), exercises)
    except ValueError as exc:
        return None, str(exc)
    course = Course(exercises, {points.EXERCISES[n]: worth[n] for n in exercises})
    gradebook, roster_path = getattr(args, "gradebook", None), getattr(args, "roster", None)
    if gradebook is not None and roster_path is None:
        return None, "--gradebook needs --roster (which students the gradebook lists)"
    if getattr(args, "match", None) is not None and roster_path is None:
        return None, "--match needs --roster (whose names and ids it matches)"
    if gradebook is not None:
        problem = _check_csv("--gradebook", gradebook, submissions, args.overwrite,
                             taken=[args.out])
        if problem:
            return None, problem
    if roster_path is not None:
        try:
            rules = roster.parse_match(getattr(args, "match", None))
            course.students = roster.read_roster(roster_path)
        except roster.RosterError as exc:
            return None, str(exc)
        if any(Path(roster_path).resolve() == Path(p).resolve()
               for p in [args.out, *([gradebook] if gradebook else [])]):
            return None, f"--roster {roster_path!r} is also an output: name another file"
        course.matching = roster.match([(_display_name(p), p) for p in submissions],
                                       course.students, rules)
    if getattr(args, "feedback", None) is not None:
        folder = Path(args.feedback)
        if folder.exists() and not folder.is_dir():
            return None, f"--feedback must name a folder; received {args.feedback!r}"
        if not folder.resolve().parent.is_dir():
            return None, (f"--feedback must be a folder in an existing folder; received "
                          f"{args.feedback!r}")
        if any(folder.resolve() == s.resolve().parent or folder.resolve() in s.resolve().parents
               for s in submissions):
            return None, (f"--feedback {args.feedback!r} holds submissions: name a folder of "
                          "its own")
        clash = [folder / f"{feedback.file_name(_display_name(s))}.{ext}" for s in submissions
                 for ext in ("html", "md")]
        taken = [str(p) for p in clash if p.exists()]
        if taken and not args.overwrite:
            return None, (f"--feedback {args.feedback!r} already holds {taken[0]!r}"
                          f"{f' and {len(taken) - 1} more' if len(taken) > 1 else ''}: name "
                          "another folder, or pass --overwrite to replace them")
        names = [feedback.file_name(_display_name(s)) for s in submissions]
        if len(set(names)) != len(names):
            double = next(n for n in names if names.count(n) > 1)
            return None, (f"--feedback: two submissions would share the feedback file "
                          f"{double!r}: grade them in two runs")
        course.feedback = folder
    return course, ""


def run(args: argparse.Namespace) -> int:
    """The ``grade`` command. Returns the exit status: 0 when every submission was graded,
    1 when grading itself failed for some, 2 for bad arguments, 130 when interrupted."""
    return grade_class(args)[0]


def grade_class(args: argparse.Namespace, hide_also=()):
    """The ``grade`` command's work: ``(exit status, report writer, course)``, the last two
    None when the arguments were refused. ``hide_also``: folders the submissions must not
    see beyond the command's own (the Gradescope autograder's source and results)."""
    stdout, stderr = sys.stdout, sys.stderr
    try:
        submissions = find_submissions(args.submissions)
    except FileNotFoundError as exc:
        print(exc, file=stderr)
        return 2, None, None
    problem = _check_out(args, submissions)
    if not submissions:
        problem = problem or "no notebooks (*.ipynb) found in " + " ".join(args.submissions)
    course = None
    if not problem:
        course, problem = _course(args, submissions)
    if problem:
        print(problem, file=stderr)
        return 2, None, None
    out = Path(args.out)
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    why_not = "--no-sandbox was given" if args.no_sandbox else sandbox.sandbox_problem()
    if why_not:
        print(f"WARNING: submissions are NOT isolated ({why_not}): their code runs with your "
              "files and network, under resource limits only.", file=stderr)
    limits = sandbox.Limits(memory_bytes=args.memory, processes=args.processes,
                            cpu_s=args.cpu_time, output_bytes=args.max_output)
    hide = {str(Path(h).resolve()) for h in hide_also}
    hide |= {str(p.resolve().parent) for p in submissions} | {str(out.resolve().parent)}
    hide |= {str(Path(a).resolve()) for a in args.submissions if Path(a).is_dir()}
    for extra in (getattr(args, "gradebook", None), getattr(args, "roster", None)):
        if extra:
            hide.add(str(Path(extra).resolve().parent))
    if course.feedback is not None:
        hide.add(str(course.feedback.resolve().parent))
    settings = grade.Settings(timeout=args.timeout, call_timeout=args.call_timeout, seed=seed,
                              sandboxed=not why_not, limits=limits,
                              hide=tuple(sorted(hide | {os.getcwd()})),
                              exercises=tuple(course.max_scores))
    noun = "submission" if len(submissions) == 1 else "submissions"
    print(f"grading {len(submissions)} {noun} ({min(args.jobs, len(submissions))} at once, "
          f"run seed {seed}); report: {out}", file=stderr)
    try:
        writer = report.ReportWriter(out, run_seed=seed, isolated=not why_not,
                                     max_scores=course.max_scores,
                                     students=course.matching.owner if course.matching else {})
        if course.feedback is not None:
            course.feedback.mkdir(exist_ok=True)
    except OSError as exc:
        print(f"--out cannot be written: {exc}", file=stderr)
        return 2, None, None
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
    report.print_table(writer.grades, stdout, course.max_scores)
    _write_course_files(args, course, writer, stdout)
    passed = sum(g.passed for g in writer.grades)
    failures = [g for g in writer.grades if g.status in report.GRADING_FAILURES]
    if interrupted:
        print(f"\ninterrupted: {len({g.file for g in writer.grades})} of {len(submissions)} "
              f"{noun} graded, {passed} passed. Report: {out}", file=stdout)
        return 130, writer, course
    print(f"\n{len(submissions)} {noun}, {passed} passed. Report: {out}", file=stdout)
    if why_not:
        print(f"WARNING: these submissions were NOT isolated ({why_not}).", file=stdout)
    if failures:
        print(f"grading itself failed for {len(failures)} row(s): see status grading-error",
              file=stderr)
        return 1, writer, course
    return 0, writer, course


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


def _write_course_files(args, course: Course, writer: report.ReportWriter, out) -> None:
    """The feedback pages and the gradebook, from the report's rows; and what did not match."""
    names = {s.id: s.name for s in course.students}
    owner = course.matching.owner if course.matching else {}
    if course.feedback is not None:
        by_file: dict[str, list] = {}
        for g in writer.grades:
            by_file.setdefault(g.file, []).append(g)
        for name, rows in by_file.items():
            feedback.write(course.feedback, rows, writer, names.get(owner.get(name, ""), ""))
        print(f"feedback: {len(by_file)} submissions, in {course.feedback}/ "
              "(one .html and one .md each)", file=out)
    if course.matching is None:
        return
    matching = course.matching
    for name in matching.unmatched:
        print(f"NOT MATCHED to a student of the roster (kept in the report, student_id "
              f"empty): {report.clean(name, 300)}", file=out)
    for name, ids in matching.ambiguous.items():
        print(f"AMBIGUOUS, matches students {', '.join(ids)} (kept in the report, student_id "
              f"empty): {report.clean(name, 300)}", file=out)
    header, possible, rows, missing = roster.gradebook_rows(
        course.students, writer.grades, writer, course.exercises, matching)
    if missing:
        print(f"missing: {len(missing)} of {len(course.students)} students have no submission: "
              + ", ".join(f"{report.clean(s.name, 80)} ({report.clean(s.id, 40)})"
                          for s in missing), file=out)
    if getattr(args, "gradebook", None):
        roster.write_gradebook(args.gradebook, header, possible, rows)
        print(f"gradebook: {len(rows)} students, {len(rows) - len(missing)} with a submission: "
              f"{args.gradebook}", file=out)


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
