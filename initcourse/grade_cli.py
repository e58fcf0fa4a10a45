"""Grade a folder of submitted exercise notebooks, for instructors.

    python -m initcourse grade SUBMISSION... [--out report.csv] [--timeout 120]

Each submission (a notebook, or every ``*.ipynb`` under a folder) is executed top to bottom
in a fresh Jupyter kernel, with the kernel's working directory in a temporary folder; then
:func:`initcourse.check` runs on the ``solve`` it defines. Submissions are only read, never
written. A submission that is not notebook JSON, raises, loops, defines no ``solve`` or
calls the answer key is reported as such, and grading goes on with the next one.

Statuses in the report: ``passed``, ``failed`` (the check names the mistakes),
``invalid-notebook``, ``execution-error`` (a cell raised; the ``solve`` defined before it is
still checked), ``timeout`` (the cells ran past ``--timeout`` seconds), ``no-solve``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Seconds the check cell may take (each call of ``solve`` has its own limit inside it).
CHECK_CELL_TIMEOUT = 180
COLUMNS = ("file", "status", "passed", "mistakes", "runtime_s", "detail")

_CHECK_CELL = """\
import initcourse.grade_cli as _initcourse_grade_cli
_initcourse_grade_cli.write_result(globals().get("solve"), {path!r}, call_timeout={timeout!r})
"""


@dataclass(frozen=True)
class Grade:
    """One submission's line of the report."""

    file: str
    status: str
    passed: bool
    mistakes: tuple[str, ...]
    runtime_s: float
    detail: str

    def row(self) -> dict:
        return {"file": self.file, "status": self.status, "passed": "yes" if self.passed else "no",
                "mistakes": " ".join(self.mistakes), "runtime_s": f"{self.runtime_s:.1f}",
                "detail": self.detail}


def write_result(solve, path: str, *, call_timeout: float) -> None:
    """Run in the submission's kernel: check ``solve`` and write the report as JSON."""
    from initcourse.feedback import MISTAKES
    from initcourse.grader import check

    if solve is None:
        result = {"defined": False}
    else:
        report = check(solve, timeout=call_timeout)
        summary = "; ".join(f"{f.code}: {f.detail or MISTAKES[f.code].title}"
                            for f in report.findings)
        result = {"defined": True, "passed": report.passed, "mistakes": list(report.mistakes),
                  "summary": summary}
    Path(path).write_text(json.dumps(result), encoding="utf-8")


def find_submissions(paths) -> list[Path]:
    """The notebooks named by ``paths`` (files, or folders searched recursively), sorted."""
    found: dict[Path, Path] = {}  # resolved path -> the path as named
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            for p in path.rglob("*.ipynb"):
                if ".ipynb_checkpoints" not in p.parts:
                    found.setdefault(p.resolve(), p)
        elif path.is_file():
            if path.suffix != ".ipynb":
                raise FileNotFoundError(
                    f"SUBMISSION {str(arg)!r} is not a notebook: name .ipynb files or folders"
                )
            found.setdefault(path.resolve(), path)
        else:
            raise FileNotFoundError(f"SUBMISSION {str(arg)!r}: no such file or folder")
    return sorted(found.values())


def grade_notebook(path: Path, *, timeout: float, call_timeout: float) -> Grade:
    """Execute one submission in a fresh kernel and check its ``solve``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    start = time.monotonic()
    name = _display_name(path)

    def grade(status, detail="", passed=False, mistakes=()) -> Grade:
        return Grade(name, status, passed, tuple(mistakes), time.monotonic() - start, detail)

    try:
        text = path.read_bytes().decode("utf-8")
        json.loads(text)
        notebook = nbformat.reads(text, as_version=4)
    except json.JSONDecodeError as exc:
        return grade("invalid-notebook", f"not a notebook: not valid JSON ({exc.msg}: line "
                                         f"{exc.lineno}, column {exc.colno})")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return grade("invalid-notebook", f"not a notebook: {type(exc).__name__}: "
                                         f"{_one_line(exc)}")
    # Run a copy made of the code cells' sources only: the submission is never written.
    cells = [nbformat.v4.new_code_cell(c.source) for c in notebook.cells
             if c.cell_type == "code"]
    with tempfile.TemporaryDirectory(prefix="initcourse-grade-") as tmp:
        result_path = os.path.join(tmp, "check-result.json")
        check_cell = nbformat.v4.new_code_cell(
            _CHECK_CELL.format(path=result_path, timeout=call_timeout))
        run = nbformat.v4.new_notebook(cells=[*cells, check_cell])
        state = {"deadline": 0.0, "running": "the notebook's cells"}

        def cell_timeout(cell):
            if cell is check_cell:
                return CHECK_CELL_TIMEOUT
            return max(1, int(state["deadline"] - time.monotonic() + 0.999))

        client = _client_keeping_no_outputs(NotebookClient)(
            run, kernel_name="python3", timeout_func=cell_timeout, shutdown_kernel="immediate",
            resources={"metadata": {"path": tmp}})
        status, detail = "", ""
        try:
            # The kernel's own logs (not the notebook's output) would clutter the summary.
            with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
                state["deadline"] = time.monotonic() + timeout
                for index, cell in enumerate(cells):
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as exc:
                        status, detail = "execution-error", _cell_error(index, exc)
                        break
                state["running"] = "the check"
                client.execute_cell(check_cell, len(cells))
        except CellTimeoutError:
            limit = CHECK_CELL_TIMEOUT if state["running"] == "the check" else timeout
            return grade("timeout", f"{state['running']} did not finish within {limit:g} s")
        except DeadKernelError:
            in_check = state["running"] == "the check"
            cause = " (does solve call `os._exit` or crash Python?)" if in_check else ""
            return grade("execution-error",
                         f"the kernel died while running {state['running']}{cause}")
        except Exception as exc:  # noqa: BLE001 - one broken submission must not stop grading
            return grade("execution-error", f"{state['running']} failed: {type(exc).__name__}: "
                                            f"{_one_line(exc)}")
        result = json.loads(Path(result_path).read_text(encoding="utf-8"))
    if not result["defined"]:
        return grade("no-solve", detail or "the notebook defines no function named solve")
    passed, mistakes = result["passed"], result["mistakes"]
    status = status or ("passed" if passed else "failed")
    return grade(status, detail or result["summary"], passed, mistakes)


def _client_keeping_no_outputs(client_class):
    """``client_class`` (an nbclient ``NotebookClient``) made to drop every output as it
    arrives: grading needs none, and a cell that prints in a loop until its time limit would
    otherwise pile up gigabytes of text in this process."""

    class OutputlessClient(client_class):
        def output(self, outs, msg, display_id, cell_index):
            return None

    return OutputlessClient


def _cell_error(index, exc) -> str:
    ename = getattr(exc, "ename", "") or type(exc).__name__
    evalue = _one_line(getattr(exc, "evalue", "") or "")
    return f"code cell {index + 1} raised {ename}: {evalue}".rstrip(": ")


def _one_line(exc) -> str:
    lines = str(exc).strip().splitlines()
    line = lines[-1] if lines else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def print_table(grades, out=sys.stdout) -> None:
    """The summary: file, status, passed, mistake codes, runtime."""
    width = max([len("file")] + [len(g.file) for g in grades])
    print(f"{'file':<{width}}  {'status':<18}{'passed':<8}{'runtime':>9}  mistakes", file=out)
    for g in grades:
        print(f"{g.file:<{width}}  {g.status:<18}{'yes' if g.passed else 'no':<8}"
              f"{g.runtime_s:>7.1f} s  {' '.join(g.mistakes) or '-'}", file=out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="exercise notebooks, or folders searched for *.ipynb")
    parser.add_argument("--out", default="grades.csv",
                        help="the CSV report to write (default: grades.csv); an existing file "
                             "is never replaced unless --overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the --out file if it exists")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds allowed for each notebook's cells (default: 120)")
    parser.add_argument("--call-timeout", type=float, default=5.0,
                        help="seconds allowed for each call of solve by the check (default: 5)")


def run(args: argparse.Namespace) -> int:
    """The ``grade`` command. Returns the exit status (2 for bad arguments)."""
    for name in ("timeout", "call_timeout"):
        if not getattr(args, name) > 0:
            print(f"--{name.replace('_', '-')} must be > 0; received {getattr(args, name)!r}",
                  file=sys.stderr)
            return 2
    try:
        submissions = find_submissions(args.submissions)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.suffix != ".csv" or any(out.resolve() == s.resolve() for s in submissions):
        print(f"--out must name a .csv file that is not a submission; received {args.out!r}",
              file=sys.stderr)
        return 2
    if not out.resolve().parent.is_dir() or out.is_dir():
        print(f"--out must be a file in an existing folder; received {args.out!r}",
              file=sys.stderr)
        return 2
    if not submissions:
        print("no notebooks (*.ipynb) found in " + " ".join(args.submissions), file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite:
        print(f"--out {args.out!r} exists already: name another file, or pass --overwrite to "
              "replace it", file=sys.stderr)
        return 2
    noun = "submission" if len(submissions) == 1 else "submissions"
    print(f"grading {len(submissions)} {noun}; report: {out}", file=sys.stderr)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the kernels inherit it: no GPU probing
    grades = []
    try:
        handle = out.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        print(f"--out cannot be written: {exc}", file=sys.stderr)
        return 2
    # Each row is written as soon as its submission is graded: an interrupted run keeps them.
    with handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for path in submissions:
            grades.append(grade_notebook(path, timeout=args.timeout,
                                         call_timeout=args.call_timeout))
            writer.writerow(grades[-1].row())
            handle.flush()
            print(f"graded {grades[-1].file}: {grades[-1].status}", file=sys.stderr)
    print_table(grades)
    passed = sum(g.passed for g in grades)
    print(f"\n{len(grades)} {noun}, {passed} passed. Report: {out}")
    return 0
