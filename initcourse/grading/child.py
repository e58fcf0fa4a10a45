"""The submission's process: run the notebook's code cells, then call its functions on demand.

Started by :mod:`initcourse.grading.runner` (inside the sandbox when there is one) as::

    python -B .../initcourse/grading/child.py IN_FD OUT_FD SETTINGS_JSON

(a script, not ``-m``: nothing of ``initcourse`` may be imported before the answer-key
stub is in place).

It never sees the notebook file, the answer keys or the report: the cells' sources arrive on
``IN_FD``, and the only things it sends back on ``OUT_FD`` (see
:mod:`initcourse.grading.protocol`) are which cell is running, how the cells ended, which of
the exercise functions exist, and the raw outputs (or exceptions) of the calls the grading
process asks for. Every verdict is computed in the grading process; nothing printed or
written here counts.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import inspect
import json
import os
import resource
import sys
import time

#: The functions a notebook may define, one per exercise.
EXERCISES = ("solve", "lecun_normal_init", "init_block")
#: The checks a notebook may call in a cell; while grading they only say so.
CHECKS = ("check", "check_initializer", "check_block", "show_solution")


class _AnswerKeyHook(importlib.abc.MetaPathFinder):
    """Serves the stub in place of ``initcourse.solver`` (see ``answer_key_stub.py``)."""

    def __init__(self, stub_path: str):
        self.stub_path = stub_path

    def find_spec(self, name, path=None, target=None):
        if name == "initcourse.solver":
            return importlib.util.spec_from_file_location(name, self.stub_path)
        return None


class NotRunWhileGrading:
    """What ``initcourse.check(...)`` returns in a notebook being graded."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        return self

    def __repr__(self) -> str:
        return (f"initcourse.{self.name} is not run while grading: the grader checks your "
                "functions itself")


def _limit(which, value: int, grace: int = 0) -> None:
    """Set the limit ``which`` to ``value`` (the hard limit ``grace`` above it)."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value, grace = min(value, hard), min(grace, hard - min(value, hard))
    resource.setrlimit(which, (value, value + grace))


def _drop_privileges(uid: int) -> None:
    """Run as ``uid`` from here on (only when started as root inside the sandbox)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _die_with_parent() -> None:
    """Be killed when the grading process ends, however it ends (a plain process; in the
    sandbox, bwrap's --die-with-parent does the same)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _signature(fn) -> list | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [[p.name, int(p.kind), p.default is not inspect.Parameter.empty,
             "" if p.default is inspect.Parameter.empty else repr(p.default)[:80]]
            for p in sig.parameters.values()]


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    _die_with_parent()
    if argv[0] == "zygote":  # see initcourse.grading.zygote
        control_fd, settings = int(argv[1]), json.loads(argv[2])
        shell = _load(settings)
        from initcourse.grading import zygote

        zygote.serve(control_fd, lambda in_fd, out_fd, more: _run(
            in_fd, out_fd, {**settings, **more}, shell))
        return
    in_fd, out_fd, settings = int(argv[0]), int(argv[1]), json.loads(argv[2])
    if settings.get("uid") is not None and os.getuid() == 0:
        _drop_privileges(settings["uid"])
    _limits(settings)
    _run(in_fd, out_fd, settings, _load(settings))


def _limits(settings: dict) -> None:
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NPROC, settings["processes"])
    _limit(resource.RLIMIT_CPU, settings["cpu_s"], grace=5)  # SIGXCPU first, then SIGKILL
    _limit(resource.RLIMIT_FSIZE, settings["file_bytes"])


def _load(settings: dict):
    """Import what learners' notebooks import anyway, with the answer keys stubbed and the
    checks replaced; the IPython shell the cells will run in. No JAX backend is started."""
    if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
        del sys.path[0]  # this script's folder: not a place to import from
    if any(name.startswith("initcourse") for name in sys.modules):
        raise RuntimeError("initcourse was imported before the answer-key stub was in place")
    sys.meta_path.insert(0, _AnswerKeyHook(settings["stub"]))
    import jax  # noqa: F401
    import jax.numpy  # noqa: F401
    import numpy  # noqa: F401
    from flax import linen  # noqa: F401
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import initcourse
    from initcourse.grading import protocol, warmup  # noqa: F401

    for name in CHECKS:
        try:
            original = getattr(initcourse, name)
        except AttributeError:
            continue
        stand_in = NotRunWhileGrading(name)
        setattr(sys.modules[original.__module__], name, stand_in)
        setattr(initcourse, name, stand_in)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    # A cell that runs out of memory: free what it holds before anything else (IPython's own
    # traceback printing needs memory too, and fails in odd ways without it).
    shell.set_custom_exc((MemoryError,), _out_of_memory)
    return shell


def _run(in_fd: int, out_fd: int, settings: dict, shell) -> None:
    """Start JAX's backend, run the cells that arrive on ``in_fd``, then serve calls."""
    import jax

    from initcourse.grading import protocol, warmup

    if "zygote" in settings:  # a fresh fork: its own limits (it runs as its own user now)
        _limits(settings)
    # A process the submission forks cannot speak for it: the channel stays with this one.
    os.register_at_fork(after_in_child=lambda: (_close(in_fd), _close(out_fd)))
    os.makedirs(os.environ["HOME"], exist_ok=True)
    os.chdir(settings["workdir"])
    if settings.get("jax_cache"):
        for key, value in warmup.cache_settings(settings["jax_cache"], write=False).items():
            jax.config.update(key, value)
    jax.numpy.zeros(1).block_until_ready()  # start JAX's backend before the clock runs
    if settings.get("memory_bytes"):
        _limit(resource.RLIMIT_AS, _address_space() + settings["memory_bytes"])

    protocol.send(out_fd, {"op": "ready"})
    header, _ = protocol.receive(in_fd)
    error = None
    for index, source in enumerate(header["cells"]):
        protocol.send(out_fd, {"op": "cell", "index": index})
        try:
            result = shell.run_cell(source, store_history=False, silent=False)
            failure = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # noqa: BLE001 - e.g. IPython failing after a MemoryError
            failure = exc
        memory = _memory_error_in(failure)
        if memory is not None:
            # Free what the cell held, so the answer can still be sent.
            shell.user_ns.clear()
            failure = memory
        if failure is not None:
            error = {"cell": index, **protocol.encode_error(failure)}
            break
    sys.stdout.flush()
    functions, found = {}, {}
    for name in EXERCISES:
        if name in shell.user_ns:
            value = shell.user_ns[name]
            found[name] = {"callable": callable(value), "type": type(value).__name__[:80],
                           "signature": _signature(value) if callable(value) else None}
            functions[name] = value
    protocol.send(out_fd, {"op": "cells-done", "error": error, "found": found})
    _serve(protocol, in_fd, out_fd, functions)


def _out_of_memory(shell, etype, value, tb, tb_offset=None):
    shell.user_ns.clear()
    print(f"{etype.__name__}: the notebook ran out of memory", file=sys.stderr)


def _memory_error_in(error):
    """The MemoryError in ``error``'s chain of causes and contexts, or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, MemoryError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _serve(protocol, in_fd: int, out_fd: int, functions: dict) -> None:
    while True:
        header, blobs = protocol.receive(in_fd)
        if header.get("op") != "call":
            os._exit(0)
        fn = functions[header["name"]]
        args = protocol.decode(header["args"], blobs)
        kwargs = protocol.decode(header["kwargs"], blobs)
        start, files = time.perf_counter(), set()
        if header.get("watch"):  # the check watches this call: say which files' code it ran
            sys.setprofile(lambda frame, event, arg, files=files: event == "call"
                           and len(files) < 4096
                           and files.add(frame.f_code.co_filename))
        try:
            try:
                value = fn(*args, **kwargs)
            finally:
                sys.setprofile(None)
            seconds = time.perf_counter() - start
            out: list = []
            reply = {"op": "returned", "value": protocol.encode(value, out)}
            size = sum(len(blob) for blob in out)
            if size > protocol.MAX_MESSAGE // 2:
                raise ValueError(f"{header['name']} returned {size:,} bytes of arrays: more "
                                 "than the grader accepts")
        except BaseException as exc:  # noqa: BLE001 - the learner's exception is the answer
            seconds = time.perf_counter() - start
            out, reply = [], {"op": "raised", "error": protocol.encode_error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        protocol.send(out_fd, {**reply, "id": header["id"], "seconds": seconds,
                               "files": sorted(files)}, out)


if __name__ == "__main__":
    main()
