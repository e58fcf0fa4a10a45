"""Grade one submitted notebook: run its code cells in a process of their own, then run each
exercise's check here, in the grading process, on the functions the notebook defines.

The check (:func:`initcourse.check` for ``solve``, :func:`initcourse.check_initializer` for
``lecun_normal_init``, :func:`initcourse.check_block` for ``init_block``) is given a
:class:`~initcourse.grading.runner.Proxy`, so every
comparison with the answer key, every classification and every mistake code is computed
here; the submission's process only answers calls with its functions' raw outputs.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from initcourse.grading import report, runner, sandbox

#: The function a notebook defines for each exercise -> the check that grades it.
CHECKS = {"solve": "check", "lecun_normal_init": "check_initializer",
          "init_block": "check_block"}
#: The check's own per-call limit is this much longer than the proxy's, so that the proxy
#: (which can stop the submission's process) always acts first.
CALL_MARGIN_S = 5.0


class GradingError(Exception):
    """Grading itself failed (not the submission): the report says so and the exit is 1."""


@dataclass(frozen=True)
class Settings:
    """How to grade: time limits (seconds), resource limits, sandbox, folders to hide."""

    timeout: float = 120.0
    call_timeout: float = 5.0
    seed: int = 0
    sandboxed: bool = True
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    hide: tuple[str, ...] = ()
    jax_cache: str = ""
    #: Called (once per run, by whoever needs it first) before any submission's process starts.
    prepare: Callable[[], None] | None = None
    #: The run's :class:`~initcourse.grading.zygote.Shared` zygote, or None: a fresh
    #: sandbox for each submission.
    zygotes: object = None
    #: The exercises graded (the functions' names); a notebook's other functions are not
    #: checked.
    exercises: tuple[str, ...] = tuple(CHECKS)


class InvalidNotebook(Exception):
    """The file is not a notebook the grader can read."""


def code_cells(path: Path) -> list[str]:
    """The sources of the notebook's code cells (nbformat 3 and 4), in order."""
    import nbformat

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidNotebook(f"not a notebook: not UTF-8 text (byte {exc.start})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotebook(f"not a notebook: not valid JSON ({exc.msg}: line {exc.lineno}"
                              f", column {exc.colno})") from None
    except RecursionError:
        raise InvalidNotebook("not a notebook: JSON nested too deep") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
        return [str(cell.source) for cell in notebook.cells if cell.cell_type == "code"]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        raise InvalidNotebook(f"not a notebook: {type(exc).__name__}: "
                              f"{report.clean(exc, 200)}") from None


def grade_notebook(path: Path, name: str, settings: Settings) -> list[report.Grade]:
    """The report's rows for one submission (one per exercise it defines). A row's
    ``runtime_s`` is the time since the previous row's: the first row holds the start of
    the submission's process and its cells, each further row its own check."""
    clock = _Clock()

    def row(status, detail="", exercise="-", passed=False, mistakes=(), outcome=None):
        rows = tuple(getattr(outcome, "rows", ()))
        blocks = tuple((b.code, b.title, b.detail, b.fix)
                       for b in getattr(outcome, "blocks", ()))
        return report.Grade(name, exercise, status, passed, tuple(mistakes), clock.lap(),
                            detail, right=sum(bool(getattr(r, "ok", False)) for r in rows),
                            cases=len(rows), blocks=blocks)

    try:
        cells = code_cells(path)
    except InvalidNotebook as exc:
        return [row("invalid-notebook", str(exc))]
    if settings.prepare is not None:
        settings.prepare()
    clock.phase("prepare")
    zygote = settings.zygotes.get() if settings.zygotes is not None else None
    try:
        process = runner.SubmissionProcess(
            sandboxed=settings.sandboxed, limits=settings.limits, hide=settings.hide,
            jax_cache=settings.jax_cache, zygote=zygote)
    except runner.SubmissionGone as exc:
        return [row("grading-error", f"the submission's process could not start: {exc}")]
    try:
        try:
            process.start()
        except (runner.SubmissionGone, TimeoutError) as exc:
            return [row("grading-error", f"the submission's process could not start: {exc}")]
        clock.phase("start")
        done = _run_cells(process, cells, settings.timeout)
        clock.phase("cells")
        if isinstance(done, str):
            process.ending()  # notes a CPU time limit
            return [row(process.stopped_for or "execution-error", done)]
        error, found = done.get("error"), done.get("found")
        if not isinstance(found, dict) or not set(found) <= set(CHECKS):
            return [row("execution-error", "the submission's process answered nonsense")]
        cell_detail = _cell_error_text(error) if error else ""
        found = {name: info for name, info in found.items() if name in settings.exercises}
        if not found:
            names = list(settings.exercises)
            what = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
            detail = cell_detail or f"the notebook defines no function named {what}"
            return [row(_status(process, error, None), detail)]
        rows = []
        for exercise in (e for e in CHECKS if e in found):
            outcome = _check(process, exercise, found[exercise], settings)
            clock.phase("checks")
            if isinstance(outcome, GradingError):
                rows.append(row("grading-error", str(outcome), exercise))
                continue
            detail = "; ".join(filter(None, [cell_detail, _summary(outcome)]))
            if process.stopped_for:
                detail = "; ".join(filter(None, [process.ending(), detail]))
            rows.append(row(_status(process, error, outcome), detail, exercise,
                            bool(outcome.passed), tuple(outcome.mistakes), outcome))
        return rows
    finally:
        process.close()
        clock.record(name, process)


class _Clock:
    """Times of one submission's grading: laps for its rows, and (for the benchmark, when
    ``INITCOURSE_GRADING_TIMINGS`` names a file) where the time went."""

    def __init__(self):
        self.start = self._row = self._phase = time.monotonic()
        self.phases: dict[str, float] = {}

    def lap(self) -> float:
        now = time.monotonic()
        seconds, self._row = now - self._row, now
        return seconds

    def phase(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._phase
        self._phase = now

    def record(self, name: str, process: runner.SubmissionProcess) -> None:
        target = os.environ.get("INITCOURSE_GRADING_TIMINGS")
        if target:
            data = {"file": name, **self.phases, "calls": process.call_seconds,
                    "in_functions": process.function_seconds,
                    "total": time.monotonic() - self.start}
            with open(target, "a") as handle:
                handle.write(json.dumps({k: v if k == "file" else round(v, 3)
                                         for k, v in data.items()}) + "\n")


def _run_cells(process: runner.SubmissionProcess, cells: list[str], timeout: float):
    """Run the cells: the ``cells-done`` message, or why it never came (a string)."""
    deadline = time.monotonic() + timeout
    running = -1
    try:
        process.send({"op": "cells", "cells": cells})
        while True:
            header, _ = process.receive(deadline)
            if header.get("op") == "cell" and type(header.get("index")) is int:
                running = header["index"]
            elif header.get("op") == "cells-done":
                return header
            else:
                process.kill("")
                return "the submission's process answered nonsense"
    except TimeoutError:
        process.kill("time-limit")
        where = f"code cell {running + 1}" if running >= 0 else "the notebook's cells"
        return f"{where} did not finish within {timeout:g} s (the notebook's --timeout)"
    except runner.SubmissionGone as exc:
        where = f" while running code cell {running + 1}" if running >= 0 else ""
        if process.stopped_for:
            return f"{process.ending()}{where}"
        return f"{exc}{where} (does it call os._exit or crash Python?)"


def _cell_error_text(error: dict) -> str:
    cell = error.get("cell", -1) if isinstance(error, dict) else -1
    ename, evalue = str(error.get("type", "")), report.clean(error.get("message", ""), 200)
    return f"code cell {int(cell) + 1} raised {ename}: {evalue}".rstrip(": ")


def _status(process: runner.SubmissionProcess, error, outcome) -> str:
    if process.stopped_for:
        return process.stopped_for
    if error:
        text = f"{error.get('type')}: {error.get('message')}"
        if any(sign in text for sign in runner.MEMORY_SIGNS):
            return "memory-limit"
        if any(sign in text for sign in runner.PROCESS_SIGNS):
            return "process-limit"
        return "execution-error"
    if not process.alive:
        return "execution-error"
    if outcome is None:
        return "no-solve"
    if "timeout" in outcome.mistakes:
        return "time-limit"
    return "passed" if outcome.passed else "failed"


def _check(process, exercise: str, info: dict, settings: Settings):
    """Run the exercise's check on a proxy of the notebook's function: its report, or a
    :class:`GradingError`."""
    import initcourse

    check = getattr(initcourse, CHECKS[exercise], None)
    if check is None:
        return GradingError(f"this initcourse has no {CHECKS[exercise]} to grade {exercise}")
    if info.get("callable"):
        fn = runner.Proxy(process, exercise, info.get("signature"), settings.call_timeout)
    else:
        from initcourse.grading.protocol import stand_in

        fn = stand_in(str(info.get("type", "object")))()
    params = inspect.signature(check).parameters
    kwargs = {}
    if "timeout" in params:
        kwargs["timeout"] = (settings.call_timeout * runner.FIRST_CALL_FACTOR
                             * runner.WALL_FACTOR + CALL_MARGIN_S)
    if "seed" in params:
        kwargs["seed"] = settings.seed
    try:
        result = check(fn, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the check must not stop the class's grading
        return GradingError(f"{CHECKS[exercise]} failed: {type(exc).__name__}: "
                            f"{report.clean(exc, 200)}")
    if not (hasattr(result, "passed") and hasattr(result, "mistakes")):
        return GradingError(f"{CHECKS[exercise]} returned a {type(result).__name__}, not a "
                            "report with .passed and .mistakes")
    return result


def _summary(outcome) -> str:
    findings = getattr(outcome, "findings", ())
    return "; ".join(f"{f.code}: {f.detail}" if f.detail else f.code for f in findings)
