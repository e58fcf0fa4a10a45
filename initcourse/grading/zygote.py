"""One sandbox that loads Python, JAX, Flax and IPython once and forks a process for each
submission, each in namespaces, folders and a user of its own.

Starting a fresh Python that imports JAX, Flax and IPython costs about 2 s of CPU: more than
the check itself. So, when grading as root, one sandbox per run (see :func:`sandbox.bwrap_command`)
runs :mod:`initcourse.grading.child` as a *zygote*: it imports everything (never JAX's
backend: XLA's thread pools do not survive a fork, and none is started before the fork;
BLAS runs one thread) and then, for each submission, forks:

- a middle process, which makes new namespaces (processes, mounts, network, IPC, host name)
  and forks the submission's process into them, then reports its pid and, later, how it ended;
- the submission's process: the first process of its own process namespace (ending it ends
  every process the submission started), with its own ``/proc``, an empty ``/tmp`` and
  ``/dev/shm`` of its own (what the zygote's sandbox showed under ``/tmp`` is shown again,
  read-only), no network interface, its own IPC objects, and a uid no other submission
  has; it drops every privilege (``setuid``) before it reads the notebook's cells.

Nothing of one submission is visible to another: they share only what the zygote holds
(read-only files, the modules it imported, copied on write) and the machine's CPU and memory.
The zygote itself never runs a notebook's code.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from initcourse.grading import procs, sandbox

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
#: Seconds the zygote may take to import everything.
START_TIMEOUT = 180.0


# -- in the grading process ------------------------------------------------------------------

class Zygote:
    """The zygote's sandbox, seen from the grading process (one per run; thread-safe)."""

    def __init__(self, *, limits: sandbox.Limits, hide=(), jax_cache: str = ""):
        self._lock = threading.Lock()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()
        stub = str(sandbox.package_folder() / "grading" / "answer_key_stub.py")
        settings = {"stub": stub, "jax_cache": jax_cache}
        command = sandbox.child_command("zygote", theirs.fileno(), settings)
        env = sandbox.child_environment("/tmp/home")
        command = sandbox.bwrap_command(command, stub=stub, hide=hide, limits=limits, env=env,
                                        read_only=[jax_cache] if jax_cache else [],
                                        zygote=True)
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                pass_fds=(theirs.fileno(),), env=env, start_new_session=True)
        finally:
            theirs.close()
        self._sock.settimeout(START_TIMEOUT)
        try:
            ready = self._sock.recv(64)
        except OSError:
            ready = b""
        self._sock.settimeout(None)
        if ready != b"ready":
            self.close()
            raise RuntimeError(f"the grading sandbox did not start: {self.last_words()}")

    def last_words(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:300] if lines else f"exit status {self.process.poll()}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, settings: dict):
        """A new submission's process: ``(to_child, from_child, stdout, stderr, status)``,
        the ends of its pipes on this side (``status`` tells its pid, then how it ended)."""
        pipes = [os.pipe() for _ in range(5)]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0], pipes[3][0], pipes[4][0]]
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1], pipes[4][1]]
        try:
            with self._lock:
                socket.send_fds(self._sock, [json.dumps(settings).encode()], theirs)
        except OSError:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        return ours

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self._sock.close()
        self._log.close()


class Shared:
    """The run's zygote, started on first use (and again if it ended); None where it
    cannot start (then each submission gets a sandbox of its own)."""

    def __init__(self, **kwargs):
        self._kwargs, self._zygote, self._lock = kwargs, None, threading.Lock()
        self.problem = ""
        self._closed = False

    def get(self) -> Zygote | None:
        with self._lock:
            if self._closed or self.problem:
                return None
            if self._zygote is not None and not self._zygote.alive:
                self._zygote.close()
                self._zygote = None
            if self._zygote is None:
                try:
                    self._zygote = Zygote(**self._kwargs)
                except (OSError, RuntimeError) as exc:
                    self.problem = str(exc)
                    print(f"note: {exc}; each submission gets a sandbox of its own (slower)",
                          file=sys.stderr)
            return self._zygote

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._zygote is not None:
                self._zygote.close()


class ForkedProcess:
    """A submission's process forked by the zygote, with the parts of
    :class:`subprocess.Popen` the runner uses (``pid`` is its pid here, None if it never
    started)."""

    def __init__(self, status_fd: int, zygote: Zygote, deadline: float):
        self._status, self._buffer, self._eof = status_fd, b"", False
        self._lock = threading.Lock()
        os.set_blocking(status_fd, False)
        self.returncode = self.pid = None
        while b"\n" not in self._buffer and not self._eof and time.monotonic() < deadline:
            self._fill(deadline - time.monotonic())
        line, _, rest = self._buffer.partition(b"\n")
        if line.startswith(b"pid ") and line[4:].isdigit():
            self._buffer = rest
            while self.pid is None and self.poll() is None and time.monotonic() < deadline:
                self.pid = procs.host_pid(zygote.process.pid, int(line[4:]))
                time.sleep(0 if self.pid else 0.01)

    def _fill(self, timeout: float) -> None:
        if not self._eof and select.select([self._status], [], [], max(0.0, timeout))[0]:
            with self._lock:
                try:
                    chunk = os.read(self._status, 256)
                except (BlockingIOError, OSError):
                    return
                self._buffer += chunk
                self._eof = not chunk

    def poll(self):
        if self.returncode is None:
            self._fill(0)
            found = re.search(rb"exit (-?\d+)\n", self._buffer)
            if found:
                self.returncode = int(found.group(1))
            elif self._eof:  # the middle process was killed
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = time.monotonic() + (1e9 if timeout is None else timeout)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("submission", timeout)
            self._fill(min(0.1, deadline - time.monotonic()))
        return self.returncode

    def kill(self) -> None:
        """End the submission: its first process, and with it every process of its
        namespace."""
        if self.pid is not None and self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        try:
            os.close(self._status)
        except OSError:
            pass


# -- in the zygote's sandbox -----------------------------------------------------------------

def serve(control_fd: int, run) -> None:
    """The zygote's loop: for each request, fork a submission's process that calls
    ``run(in_fd, out_fd, settings)``; end when the grading process goes."""
    sock = socket.socket(fileno=control_fd)
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a thread pool started by an import would be broken in every fork
        print(f"the zygote runs {threads} threads before forking, not 1", file=sys.stderr)
        os._exit(1)
    sock.sendall(b"ready")
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 5)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        if len(fds) != 5:
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            try:
                sock.close()
                _middle(fds, json.loads(message), run)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _middle(fds, settings: dict, run) -> None:
    """New namespaces, the submission's process in them, and its end reported."""
    in_fd, out_fd, stdout, stderr, status = fds
    _check(_libc().unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC
                           | CLONE_NEWUTS), "unshare")
    pid = os.fork()
    if pid == 0:
        os.close(status)
        _enter(in_fd, out_fd, stdout, stderr, settings)
        run(in_fd, out_fd, settings)
        os._exit(0)
    for fd in (in_fd, out_fd, stdout, stderr):
        os.close(fd)
    os.write(status, f"pid {pid}\n".encode())
    _, wait_status = os.waitpid(pid, 0)
    os.write(status, f"exit {os.waitstatus_to_exitcode(wait_status)}\n".encode())
    os._exit(0)


def _enter(in_fd: int, out_fd: int, stdout: int, stderr: int, settings: dict) -> None:
    """The submission's process, before any of its code: its outputs, its folders, its user."""
    libc = _libc()
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: end with the middle process
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    keep = sorted({0, 1, 2, in_fd, out_fd})
    for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
        os.closerange(low + 1, high)
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount /")
    # What the sandbox shows under /tmp (the compilation cache, ...) is shown again.
    shown = [(name, os.open(f"/tmp/{name}", os.O_PATH)) for name in os.listdir("/tmp")]
    size = f"size={settings['tmp_bytes']},mode=1777".encode()
    for folder in (b"/tmp", b"/dev/shm"):
        _check(libc.mount(b"tmpfs", folder, b"tmpfs", 0, size), f"mount {folder}")
    _check(libc.mount(b"proc", b"/proc", b"proc", 0, None), "mount /proc")
    for name, fd in shown:
        target = f"/tmp/{name}"
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        source = f"/proc/self/fd/{fd}".encode()
        _check(libc.mount(source, target.encode(), None, MS_BIND | MS_REC, None), target)
        _check(libc.mount(None, target.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None),
               target)
        os.close(fd)
    os.setgroups([])
    os.setgid(settings["uid"])
    os.setuid(settings["uid"])  # every capability goes with root
