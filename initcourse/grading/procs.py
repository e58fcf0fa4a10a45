"""What the grading process reads about a submission's processes in ``/proc``: how many
tasks its tree holds, how much CPU time it used, and where a process of a sandbox is."""

from __future__ import annotations

import os


def descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (``pid`` excluded), found through every thread's
    ``children`` list."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        if parent != pid:
            found.append(parent)
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
            except (OSError, ValueError):
                pass
    return found


def tasks_under(pid: int) -> int:
    """Processes and threads in the tree of processes under ``pid`` (``pid`` excluded)."""
    count = 0
    for child in descendants(pid):
        try:
            count += len(os.listdir(f"/proc/{child}/task"))
        except OSError:
            pass
    return count


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and the processes under it, in seconds."""
    ticks = 0
    for process in (pid, *descendants(pid)):
        try:
            with open(f"/proc/{process}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def tasks_of(uid: int) -> int:
    """How many processes and threads ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    status = handle.read()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            if fields.get("Uid", "").split()[:1] == [str(uid)]:
                count += int(fields.get("Threads", "1"))
    return count


def host_pid(root: int, sandbox_pid: int) -> int | None:
    """The pid (here) of the process under ``root`` that is ``sandbox_pid`` in the sandbox's
    process namespace and the first process of a namespace of its own (``NSpid`` reads
    ``<here> <sandbox_pid> 1``), or None."""
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/status") as handle:
                line = next((x for x in handle if x.startswith("NSpid:")), "")
        except OSError:
            continue
        if line.split()[1:] == [str(pid), str(sandbox_pid), "1"]:
            return pid
    return None
