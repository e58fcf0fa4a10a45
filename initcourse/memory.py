"""Handing freed memory back to the OS in a long session.

glibc keeps the heap a program frees, for reuse; an XLA compilation frees 20-100 MB of it,
so a JupyterLab kernel that compiles as a learner moves the explorers would only grow (by
about 150 MB in ``benchmarks/session.py``). The package's entry points run inside
:func:`releasing`: when an XLA compilation ran since the last release, the freed heap goes
back to the OS as the call ends (10-70 ms, against the compilation's seconds). An
explorer that is garbage-collected (its cell re-run, or dropped) asks for a release once
the collection that frees it ends (:func:`release_after_collection`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc

import jax

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
# The only state: XLA compilations counted in this process, the count at the last release,
# and whether a finalizer asked for a release after the garbage collection that runs it.
_count = {"compiled": 0, "released": 0, "after_collection": False}


def _on_event(event: str, duration: float, **kwargs) -> None:
    if event == _COMPILE_EVENT:
        _count["compiled"] += 1


def _on_collection(phase: str, info: dict) -> None:
    if phase == "stop" and _count["after_collection"]:
        release_memory()


def _install() -> None:
    """Add the two hooks (a compile listener, a ``gc.callbacks`` entry) on first use, not at
    import: importing the package changes nothing global."""
    if not _count.get("installed"):
        _count["installed"] = True
        jax.monitoring.register_event_duration_secs_listener(_on_event)
        gc.callbacks.append(_on_collection)


def release_memory() -> None:
    """Hand freed heap memory back to the OS (10-70 ms; a no-op without glibc)."""
    _count["released"], _count["after_collection"] = _count["compiled"], False
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


@contextlib.contextmanager
def releasing():
    """Run a block; if an XLA compilation ran since the last release (in it or before it),
    release the freed heap when it ends, even if it raised."""
    _install()
    try:
        yield
    finally:
        if _count["compiled"] != _count["released"]:
            release_memory()


def release_after_collection() -> None:
    """Release the freed heap once the next garbage collection ends: a finalizer calls
    this, since what its object holds is freed only after the finalizer returns."""
    _install()
    _count["after_collection"] = True
