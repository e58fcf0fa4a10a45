"""Calling a learner's function as a black box: a time limit, fresh inputs, bounded outputs.

Both exercise checks call the learner's function (``solve`` or ``lecun_normal_init``) only
through a :class:`Caller`:

- each call runs in a thread with a time limit; a call that runs past it is stopped by an
  asynchronous exception (a Python loop ends at its next bytecode), so it does not keep a
  core busy for the rest of the session;
- a callable that raises :class:`TimeoutError` itself (the grading proxy does when its
  sandboxed process runs too long) counts as timed out too;
- NumPy arrays are passed as fresh copies, compared with the original afterwards: a function
  that writes into its input is caught (``Outcome.mutated``) and cannot spoil the next call;
- an output whose size is not the expected one is refused before any conversion, so a
  function that returns 10**8 numbers costs nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import io
import os
import re
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from initcourse.exercises.report import Finding
from initcourse.memory import release_memory

#: How long a runaway call gets to honour the stop request before the check gives up on it.
STOP_GRACE_S = 2.0


@contextlib.contextmanager
def quietly():
    """The block of a check's calls: the learner's prints and warnings (they would repeat
    once per probe call) are kept out, and the heap the calls freed goes back to the OS
    (10-70 ms, against a check's 0.3 s or more)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        release_memory()


class TimedOut(Exception):
    """A call ran past the time limit. ``state`` says what became of its thread:
    ``"stopped"``, ``"waiting"`` (in compiled code: a sleep, an XLA computation),
    ``"parked"`` (a loop that swallows the stop at every level, parked where it uses no
    CPU) or ``"looping"`` (running Python that swallows the stop and could not be parked);
    ``stopped`` is whether it ended."""

    def __init__(self, call: str, limit: float, *, state: str, observed: str = ""):
        super().__init__(call)
        self.call, self.limit, self.state, self.observed = call, limit, state, observed
        self.stopped = state == "stopped"

    def detail(self) -> str:
        states = {
            "stopped": "the call was stopped",
            "waiting": "the check could not stop it (it is waiting inside compiled code: a "
                       "sleep or an XLA computation); it may still be running in the background",
            "looping": "the check could not stop it: it runs Python code that catches the "
                       "exception the check stops it with (an `except BaseException:` or a bare "
                       "`except:` inside a loop), and it keeps a core busy until you restart "
                       "the kernel (Kernel > Restart Kernel)",
            "parked": "its code catches the exception the check stops it with (an `except "
                      "BaseException:` or a bare `except:` in nested loops), so the check "
                      "parked it: it waits, using no CPU, and its memory is freed when you "
                      "restart the kernel (Kernel > Restart Kernel)",
        }
        if self.observed:  # what the process that ran the call saw (grading)
            return f"`{self.call}`: {self.observed}"
        return f"`{self.call}` ran longer than {self.limit:g} s; {states[self.state]}"


#: Threads the check is stopping (their ``threading.get_ident()``), and those of them it
#: has parked (see :func:`_stop`).
_STOPPING: set[int] = set()
_PARKED: set[int] = set()
_NEVER = threading.Event()


class StopCall(BaseException):  # noqa: N818 - raised into a runaway thread, not an error
    """Raised asynchronously into a call that ran past its time limit.

    A learner's loop may catch it (``except BaseException:`` or a bare ``except:`` inside a
    ``while True``) and go on. So when one is made in a thread the check is stopping (that
    is, when the learner's ``except`` catches it), it turns on line tracing in that thread
    (:func:`_trace`): the next line of the ``except`` block raises it again, from inside the
    block, where the same ``try`` cannot catch it, and the call unwinds. A loop that catches
    it at every level of several nested ``try`` blocks re-enters them faster than they
    unwind; such a thread is *parked* instead: it waits on an event that is never set, using
    no CPU, until the kernel restarts."""

    def __init__(self, *args):
        super().__init__(*args)
        if threading.get_ident() in _STOPPING:
            sys.settrace(_trace)
            frame = sys._getframe(1)
            while frame is not None and not _ours(frame):
                frame.f_trace, frame.f_trace_lines = _trace, True
                frame = frame.f_back


def _ours(frame) -> bool:
    """Whether ``frame`` is the caller's own (the thread's target, which catches the stop)."""
    return frame.f_code.co_name == "target" and frame.f_globals is globals()


def _trace(frame, event, arg):
    """The line tracer of a thread being stopped: in a block that caught the stop, raise it
    again (or park the thread, once :func:`_stop` has marked it); elsewhere, go on."""
    ident = threading.get_ident()
    if ident not in _STOPPING or _ours(frame):
        return None
    if event == "line" and isinstance(sys.exc_info()[1], StopCall):
        if ident in _PARKED:
            while True:
                try:
                    _NEVER.wait()
                except StopCall:  # one already on its way when the thread was parked
                    continue
        raise StopCall
    return _trace


@dataclass(frozen=True)
class Outcome:
    """What one call returned: ``values`` (float64) or ``error``.

    Attributes:
        values: the output as float64, or None (wrong kind, wrong size, or an error).
        shape: the output's shape (also when ``values`` is None because of its size).
        dtype: the output's dtype name ("float32", "bfloat16", ...), "" if not an array.
        kind: the output's type name ("ArrayImpl", "ndarray", "list", "NoneType", ...).
        error: the exception the call raised, or None.
        mutated: names of the arguments the call wrote into.
        touched: whether a watched call ran code from the watched files.
        raw: for a call made with ``raw=True``, the value itself (a parameter tree), unread.
    """

    values: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    dtype: str = ""
    kind: str = ""
    error: BaseException | None = None
    mutated: tuple[str, ...] = ()
    touched: bool = False
    raw: object = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def of(cls, value, size: int | None = None) -> Outcome:
        """Read ``value``; with ``size``, refuse any other number of elements unconverted."""
        kind = type(value).__name__
        if isinstance(value, list):
            count = _list_size(value, limit=size)
            if size is not None and count != size:
                return cls(None, _list_shape(value) if count >= 0 else None, "", kind)
        elif _is_array(value):
            shape = tuple(int(n) for n in np.shape(value))
            if size is not None and int(np.prod(shape, dtype=np.int64)) != size:
                return cls(None, shape, str(getattr(value, "dtype", "")), kind)
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            return cls(None, None, "", kind)
        try:
            arr = np.asarray(value)
            values = np.asarray(arr, np.float64)
        except (TypeError, ValueError, OverflowError):
            return cls(None, None, "", kind)
        dtype = str(arr.dtype)
        # A list (`y.tolist()`) holds Python floats, float64 by type: it counts as float32
        # when every number is a float32 number.
        if isinstance(value, list) and _is_float32(values):
            dtype = "float32"
        return cls(values, values.shape, dtype, kind)


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith(
        ("jax", "jaxlib"))


def _list_size(value, limit: int | None) -> int:
    """Number of leaves of a nested list, counting stops just past ``limit``; -1 if ragged
    or holding something other than numbers."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            count += 1
        if limit is not None and count > limit:
            return count
    return count


def _list_shape(value) -> tuple[int, ...]:
    """The shape a nested list has along its first elements (``[[1, 2]] * 3`` is (3, 2)):
    read without converting it, as it may be huge."""
    shape = []
    while isinstance(value, (list, tuple)):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _is_float32(values: np.ndarray) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.array_equal(values.astype(np.float32), values, equal_nan=True))


class Caller:
    """Call ``fn`` with at most ``timeout`` seconds per call (see the module's docstring).

    Arguments:
        fn: the learner's function, or a proxy that forwards each call elsewhere.
        timeout: seconds per call.
        name: the function's name in messages ("solve", "lecun_normal_init").
        arg_names: its parameters' names, to say which argument a call wrote into.
    """

    def __init__(self, fn, timeout: float, name: str, arg_names: tuple[str, ...]):
        self.fn, self.timeout, self.name, self.arg_names = fn, timeout, name, arg_names
        if _UNSTOPPED:
            retry_unstopped()

    def __call__(self, *args, size: int | None = None, text: str = "",
                 watch: tuple[str, ...] = (), raw: bool = False) -> Outcome:
        """Call ``fn(*args)``; ``size`` is the expected number of output elements, ``text``
        the call as the learner would write it (for messages), ``watch`` file-name prefixes
        whose code, when run by the call, sets ``Outcome.touched``; with ``raw`` the value
        is returned as it came (``Outcome.raw``), for a check that reads a tree itself."""
        text = text or f"{self.name}(...)"
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
        box: dict = {}

        def profiler(frame, event, arg):
            if event == "call" and frame.f_code.co_filename.startswith(watch):
                box["touched"] = True

        def target():
            if watch:
                sys.setprofile(profiler)
            try:
                box["value"] = self.fn(*copies)
            except StopCall:
                box["stopped"] = True
            except BaseException as exc:  # noqa: BLE001 - any failure is the learner's to see
                box["error"] = exc
            finally:
                sys.settrace(None)
                _STOPPING.discard(threading.get_ident())
                if watch:
                    sys.setprofile(None)

        thread = threading.Thread(target=target, name=f"initcourse-{self.name}", daemon=True)
        thread.start()
        thread.join(self.timeout * (3 if watch else 1))
        if thread.is_alive():
            raise TimedOut(text, self.timeout, state=_stop(thread))
        error = box.get("error")
        if isinstance(error, TimeoutError):
            raise TimedOut(text, self.timeout, state="stopped", observed=str(error))
        mutated = tuple(self.arg_names[i] for i in _mutated(args, copies))
        touched = bool(box.get("touched"))
        if error is not None:
            return Outcome(error=error, mutated=mutated, touched=touched)
        if raw:
            value = box.get("value")
            return Outcome(kind=type(value).__name__, mutated=mutated, touched=touched, raw=value)
        outcome = Outcome.of(box.get("value"), size)
        if mutated or touched:
            outcome = Outcome(outcome.values, outcome.shape, outcome.dtype, outcome.kind,
                              None, mutated, touched)
        return outcome


def _mutated(originals, copies):
    for number, (original, copy) in enumerate(zip(originals, copies, strict=True)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, copy,
                                                                   equal_nan=True):
            yield number


#: Runaway threads that could not be stopped yet (waiting in compiled code, or swallowing
#: the exception that stops them): each new check
#: tries again, briefly.
_UNSTOPPED: list[threading.Thread] = []


def _raise_in(thread: threading.Thread, exc) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                               ctypes.py_object(exc) if exc else None)


def _cpu_seconds(thread: threading.Thread) -> float | None:
    """CPU time ``thread`` has used (Linux: /proc), or None where it cannot be read."""
    try:
        fields = open(f"/proc/self/task/{thread.native_id}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def _stop(thread: threading.Thread, grace: float = STOP_GRACE_S) -> str:
    """Raise :class:`StopCall` in ``thread`` until it ends (a learner's ``except`` that
    swallows one is traced, and the stop raised again from inside it: see
    :class:`StopCall`): ``"stopped"`` if it ended within ``grace`` seconds; past half of
    ``grace`` the thread is parked at its next catch (``"parked"``); else ``"looping"`` if
    it used most of a core meanwhile, or ``"waiting"``.

    A thread that does not end is waiting in compiled code (a sleep, an XLA computation). Its
    pending exception is then withdrawn, and CPython's process-wide "an asynchronous exception
    is pending" flag cleared (:func:`_clear_pending_flag`): left set, it hung every later
    call made under a profiler (the ``calls-reference`` watch) on Python 3.11. Later calls
    retry (:func:`retry_unstopped`).
    """
    _STOPPING.add(thread.ident)
    start, cpu = time.monotonic(), _cpu_seconds(thread)
    while thread.is_alive() and time.monotonic() < start + grace:
        if time.monotonic() > start + grace / 2:
            _PARKED.add(thread.ident)  # still running: park it at its next catch
        if _parked(thread):
            break
        _raise_in(thread, StopCall)
        thread.join(0.05)
    if not thread.is_alive():
        _PARKED.discard(thread.ident)
        return "stopped"
    used, after = time.monotonic() - start, _cpu_seconds(thread)
    _raise_in(thread, None)
    _clear_pending_flag()
    if _parked(thread):
        return "parked"
    if thread not in _UNSTOPPED:
        _UNSTOPPED.append(thread)
    busy = cpu is not None and after is not None and after - cpu > 0.5 * used
    return "looping" if busy else "waiting"


def _parked(thread: threading.Thread) -> bool:
    """Whether ``thread`` waits in :func:`_trace`'s park (its innermost frame is there)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code is _trace.__code__:
            return True
        frame = frame.f_back
    return False


def _clear_pending_flag() -> None:
    """Clear the interpreter's pending-asynchronous-exception flag: only a thread that
    receives such an exception clears it, so give one to a short-lived thread of our own."""
    running = threading.Event()

    def sink():
        running.set()
        try:
            while True:
                time.sleep(0.001)
        except StopCall:
            pass

    helper = threading.Thread(target=sink, name="initcourse-flag", daemon=True)
    helper.start()
    running.wait()
    while helper.is_alive():
        _raise_in(helper, StopCall)
        helper.join(0.05)


def retry_unstopped() -> None:
    """Try once more, for 0.1 s each, to stop the runaway threads earlier calls left."""
    for thread in list(_UNSTOPPED):
        if not thread.is_alive() or _stop(thread, grace=0.1) == "stopped":
            _UNSTOPPED.remove(thread)


def signature_finding(fn, name: str, calls) -> Finding | None:
    """A ``wrong-signature`` finding if ``fn`` cannot take one of ``calls`` (tuples of
    argument names, passed positionally); None if it can or its signature is unknown."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    for names in calls:
        try:
            signature.bind(*names)
        except TypeError as exc:
            return Finding("wrong-signature", f"`{name}{signature}` cannot be called as "
                                              f"`{name}({', '.join(names)})`: {exc}")
    return None


def classify_error(error: BaseException, call: str = "", name: str = "solve") -> Finding:
    """The finding for an exception raised by the learner's function ``name``; ``call`` is
    the call that raised, as code."""
    if isinstance(error, NotImplementedError):
        return Finding("not-solved")
    text = f"{type(error).__name__}: {_first_line(error)}".rstrip(": ")
    if call:
        text = f"`{call}` raised {text}"
    message = str(error)
    if isinstance(error, TypeError) and re.match(
            rf"{re.escape(name)}\(\) (takes|missing|got)", message):
        return Finding("wrong-signature", text)
    if "missing 2 required positional arguments: 'key' and 'shape'" in message:
        return Finding("factory-called", text)
    if isinstance(error, TypeError) and (
        ("Value '<function" in message and "not a valid JAX" in message)
        or ("positional argument" in message and "but 3 were given" in message)
    ):
        return Finding("factory-not-called", text)
    return Finding("raises", text)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= 300 else line[:297] + "..."
