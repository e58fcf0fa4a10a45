"""One submission's process, seen from the grading process, and the functions that stand for
the notebook's functions there.

:class:`SubmissionProcess` starts :mod:`initcourse.grading.child` (in the sandbox, or not),
sends it the code cells, and then calls the notebook's functions through it; :class:`Proxy`
is a callable the exercise checks use as if it were the learner's function. A call that runs
past its time limit kills the process (a Python loop cannot be stopped any other way) and
raises :class:`TimeoutError`, as does every later call.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from initcourse.grading import procs, protocol, sandbox
from initcourse.grading.proxy import FIRST_CALL_FACTOR, Proxy

__all__ = ["FIRST_CALL_FACTOR", "Proxy", "SubmissionGone", "SubmissionProcess", "kill_all", "live_count"]

#: Seconds the submission's process may take to start (load Python, JAX and Flax).
START_TIMEOUT = 180.0
#: A call's limit is on CPU time; the clock allows this many times more (a call that only
#: sleeps, or waits for a core on a busy machine).
WALL_FACTOR = 4
#: Seconds an answer may take to arrive once it has started.
ANSWER_TIMEOUT = 60.0
#: What a submission's messages say when it runs out of memory or processes.
MEMORY_SIGNS = ("MemoryError", "bad_alloc", "RESOURCE_EXHAUSTED", "Cannot allocate memory",
                "Out of memory", "out of memory")
PROCESS_SIGNS = ("BlockingIOError", "Resource temporarily unavailable",
                 "can't start new thread", "Cannot create thread", "pthread_create")


_LIVE: set = set()
_LIVE_LOCK = threading.Lock()
_CLOSING = threading.Event()


def kill_all() -> None:
    """Kill every submission's process (now and from now on): for Ctrl-C."""
    _CLOSING.set()
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        process.kill("")


def live_count() -> int:
    """How many submissions' processes have not been closed yet."""
    with _LIVE_LOCK:
        return len(_LIVE)


class SubmissionGone(RuntimeError):
    """The submission's process ended (or was stopped) before answering."""


class SubmissionProcess:
    """The process that runs one notebook's cells and then its functions."""

    _uids = iter(range(10**9))
    _uid_lock = threading.Lock()

    def __init__(self, *, sandboxed: bool, limits: sandbox.Limits, hide=(), jax_cache="",
                 zygote=None):
        self.limits = limits
        self.stopped_for = ""  # "time-limit", "output-limit", ... once stopped for a limit
        self.output_bytes = 0
        self.stderr_tail = b""
        self.call_seconds = self.function_seconds = 0.0  # for the benchmark's figures
        self.files: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._dead = False
        self._workdir = tempfile.mkdtemp(prefix="initcourse-grade-")
        with self._uid_lock:
            uid = sandbox.FIRST_UID + next(self._uids) % 2000
        workdir = "/tmp" if sandboxed else self._workdir
        settings = {
            "uid": uid if sandboxed else None,
            "processes": self._process_limit(sandboxed),
            "cpu_s": limits.cpu_s, "file_bytes": limits.file_bytes,
            "memory_bytes": limits.memory_bytes, "workdir": workdir,
            "stub": str(sandbox.package_folder() / "grading" / "answer_key_stub.py"),
            "jax_cache": jax_cache,
        }
        if zygote is not None:
            self._fork(zygote, {**settings, "zygote": True, "tmp_bytes": limits.file_bytes * 4})
        else:
            self._spawn(sandboxed, settings, hide)
        with _LIVE_LOCK:
            _LIVE.add(self)
            if _CLOSING.is_set():
                self.kill("")
        self._drains = [threading.Thread(target=self._drain, args=(stream, name), daemon=True)
                        for stream, name in ((self._stdout, "stdout"),
                                             (self._stderr, "stderr"))]
        self._drains.append(threading.Thread(target=self._watch_processes, daemon=True))
        for thread in self._drains:
            thread.start()

    def _spawn(self, sandboxed: bool, settings: dict, hide) -> None:
        """A fresh process (in a sandbox of its own, or not) for this submission."""
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        command = sandbox.child_command(to_child, from_child, settings)
        env = sandbox.child_environment(os.path.join(settings["workdir"], "home"))
        if sandboxed:
            jax_cache = settings["jax_cache"]
            command = sandbox.bwrap_command(command, stub=settings["stub"], hide=hide,
                                            limits=self.limits, env=env,
                                            read_only=[jax_cache] if jax_cache else [])
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(to_child, from_child),
                env=env, cwd=self._workdir, start_new_session=True)
        finally:
            os.close(to_child)
            os.close(from_child)
        self._stdout, self._stderr = self.process.stdout, self.process.stderr

    def _fork(self, zygote, settings: dict) -> None:
        """A process forked for this submission by the run's zygote."""
        from initcourse.grading.zygote import ForkedProcess

        try:
            self._to_child, self._from_child, stdout, stderr, status = zygote.fork(settings)
        except OSError as exc:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise SubmissionGone(f"the grading sandbox ended ({exc})") from None
        self._stdout, self._stderr = open(stdout, "rb"), open(stderr, "rb")
        self.process = ForkedProcess(status, zygote, time.monotonic() + START_TIMEOUT)

    def _process_limit(self, sandboxed: bool) -> int:
        if sandboxed or os.getuid() == 0:
            return self.limits.processes
        # Without a sandbox the count is the user's: what they run already, plus the limit.
        return procs.tasks_of(os.getuid()) + self.limits.processes

    def _drain(self, stream, name: str) -> None:
        while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
            self.output_bytes += len(chunk)
            if name == "stderr":
                self.stderr_tail = (self.stderr_tail + chunk)[-4096:]
            if self.output_bytes > self.limits.output_bytes:
                self.kill("output-limit")

    def _watch_processes(self) -> None:
        """Stop the submission when its processes reach the limit: a fork bomb that hits
        RLIMIT_NPROC would otherwise keep hundreds of processes spinning until --timeout."""
        # Processes that hit the limit fail and end while others fork again: the count hovers
        # just under the limit, which no ordinary submission comes near.
        threshold = max(self.limits.processes * 3 // 4, self.limits.processes - 64)
        while not self._dead and self.process.poll() is None:
            if self.process.pid and procs.tasks_under(self.process.pid) >= threshold:
                self.kill("process-limit")
                return
            time.sleep(0.25)

    # -- the conversation ----------------------------------------------------------------

    def receive(self, deadline: float):
        """The next message, or :class:`SubmissionGone` (after a kill, an exit or garbage)."""
        try:
            return protocol.receive(self._from_child, deadline)
        except TimeoutError:
            raise
        except (EOFError, OSError, protocol.ProtocolError) as exc:
            self.kill("")
            raise SubmissionGone(self.ending(str(exc))) from None

    def send(self, header: dict, blobs=()) -> None:
        try:
            protocol.send(self._to_child, header, blobs)
        except OSError:
            self.kill("")
            raise SubmissionGone(self.ending("it stopped reading")) from None

    def start(self) -> None:
        if self.process.pid is None:
            self.kill("")
            raise SubmissionGone("the submission's process did not start")
        header, _ = self.receive(time.monotonic() + START_TIMEOUT)
        if header.get("op") != "ready":
            raise SubmissionGone("the submission's process did not start")

    def ending(self, why: str = "") -> str:
        """How the process ended, in words (for the report's detail)."""
        if self.stopped_for == "output-limit":
            return (f"stopped: output-limit (it printed more than {self.limits.output_bytes} "
                    "bytes)")
        if self.stopped_for:
            return f"stopped: {self.stopped_for}"
        if self.out_of_cpu_time:
            self.stopped_for = "time-limit"
            return f"stopped: time-limit (it used {self.limits.cpu_s} s of CPU time)"
        code = self.process.poll()
        if code is None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        tail = self.stderr_tail.decode("utf-8", "replace").strip().splitlines()
        last = f"; it last printed: {tail[-1][:160]}" if tail else ""
        status = f"exit status {code}" if code is not None else "still running"
        return f"the submission's process ended ({status}{', ' + why if why else ''}){last}"

    def call(self, name: str, args, kwargs, timeout: float, *, watch: bool = False):
        """``name(*args, **kwargs)`` in the submission's process: its value, or its exception
        raised here (rebuilt by type name and message). With ``watch``, ``self.files`` is then
        what the process says were the source files of the code the call ran."""
        with self._lock:
            if self._dead:
                if self.stopped_for == "time-limit":
                    raise TimeoutError("an earlier call ran past the time limit and the "
                                       "submission's process was stopped")
                raise SubmissionGone(self.ending())
            started = time.monotonic()
            blobs: list = []
            self.files = ()
            header = {"op": "call", "id": os.urandom(8).hex(), "name": name, "watch": watch,
                      "args": protocol.encode(tuple(args), blobs),
                      "kwargs": protocol.encode(dict(kwargs), blobs)}
            self.send(header, blobs)
            overrun = self._wait_for_answer(timeout)
            if overrun:
                self.kill("time-limit")
                raise TimeoutError(f"{name} was stopped after {overrun}") from None
            try:
                reply, blobs = self.receive(time.monotonic() + ANSWER_TIMEOUT)
            except TimeoutError:
                self.kill("")
                raise SubmissionGone("the submission's answer stopped halfway") from None
            self.call_seconds += time.monotonic() - started
            if isinstance(reply.get("seconds"), float):  # the submission's word: figures only
                self.function_seconds += reply["seconds"]
            files = reply.get("files")
            if watch and isinstance(files, list):  # its word too: see Proxy.__call__
                self.files = tuple(str(f)[:4096] for f in files[:4096])
            try:
                if reply.get("id") != header["id"]:
                    raise protocol.ProtocolError("an answer to another call")
                if reply.get("op") == "raised":
                    error = protocol.decode_error(reply.get("error"))
                elif reply.get("op") == "returned":
                    return protocol.decode(reply.get("value"), blobs)
                else:
                    raise protocol.ProtocolError("an answer of unknown form")
            except (protocol.ProtocolError, KeyError, TypeError, ValueError) as exc:
                self.kill("")
                raise SubmissionGone(f"the submission's answer was malformed: {exc}") from None
        if any(sign in f"{type(error).__name__}: {error}" for sign in MEMORY_SIGNS):
            self.stopped_for = self.stopped_for or "memory-limit"
        raise error

    def _wait_for_answer(self, timeout: float) -> str:
        """Wait until an answer starts arriving (then ""); once the call has used ``timeout``
        seconds of CPU time (its process tree's), or ``WALL_FACTOR`` times that in all, what
        was observed, for the report ("12.0 s: it used 3.1 s of CPU time, ...").

        CPU time, not the clock: on a machine busy with other work a call may wait for a
        core, and that is not the submission's fault; a loop that never ends still uses
        CPU time and is stopped, and one that only sleeps meets the clock's limit.
        """
        start_cpu, start = procs.cpu_seconds(self.process.pid), time.monotonic()
        while True:
            if select.select([self._from_child], [], [], 0.1)[0]:
                return ""
            used, elapsed = procs.cpu_seconds(self.process.pid) - start_cpu, time.monotonic() - start
            if used > timeout:
                return (f"{elapsed:.1f} s: it used {used:.1f} s of CPU time, past its limit of "
                        f"{timeout:g} s")
            if elapsed > timeout * WALL_FACTOR:
                return (f"{elapsed:.1f} s on the clock ({WALL_FACTOR:g} times its limit of "
                        f"{timeout:g} s of CPU time) without answering; it used {used:.1f} s "
                        "of CPU time: it was waiting, not computing")

    @property
    def out_of_cpu_time(self) -> bool:
        """Ended by RLIMIT_CPU (SIGXCPU; bwrap reports it as 128 + the signal)."""
        return self.process.poll() in (-signal.SIGXCPU, 128 + signal.SIGXCPU)

    @property
    def alive(self) -> bool:
        return not self._dead and self.process.poll() is None

    def kill(self, reason: str) -> None:
        """Stop the process and everything it started (the whole sandbox)."""
        if reason and not self.stopped_for and not self._dead:
            self.stopped_for = reason
        self._dead = True
        if not isinstance(self.process, subprocess.Popen):
            self.process.kill()
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Kill the process if it still runs, wait for it, and remove its folder."""
        self.kill("")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            pass
        for thread in self._drains:
            thread.join(timeout=5)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if not isinstance(self.process, subprocess.Popen):
            self.process.close()
            self._stdout.close()
            self._stderr.close()
        shutil.rmtree(self._workdir, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)
