"""The stand-in for a notebook's function in the grading process: calling a :class:`Proxy`
calls that function in the submission's process (see :mod:`initcourse.grading.runner`), with
the learner's signature rebuilt so the checks can inspect it."""

from __future__ import annotations

import functools
import inspect
import sys

#: The first call of each function may take this many times the per-call limit: it loads
#: (or compiles) JAX's code for the hidden inputs, which the check's own process already has.
FIRST_CALL_FACTOR = 3


class Proxy:
    """Stands for the notebook's function ``name``: calling it calls that function in the
    submission's process, at most ``timeout`` seconds per call."""

    def __init__(self, process, name: str, signature, timeout: float):
        self._process, self._timeout = process, timeout
        self.__name__ = self.__qualname__ = name
        self.calls = 0
        built = _signature(signature)
        if built is not None:
            self.__signature__ = built

    def __call__(self, *args, **kwargs):
        self.calls += 1
        timeout = self._timeout * (FIRST_CALL_FACTOR if self.calls == 1 else 1)
        # A check that watches which code a call runs (calls-flax, calls-reference) does so
        # with a profiler in this thread; it cannot see the other process, so that process
        # is asked to watch, and each file it names is "called" here, for the check's own
        # profiler to judge. The submission can forge that list: it can only add a finding
        # (a failure) or hide one, never turn wrong outputs into a pass.
        watch = sys.getprofile() is not None
        value = self._process.call(self.__name__, args, kwargs, timeout, watch=watch)
        if watch:
            for filename in getattr(self._process, "files", ()):
                _touch(filename)()
        return value

    def __repr__(self) -> str:
        return f"<the submission's {self.__name__}>"


class _Default:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _signature(data):
    """The learner's function's signature, rebuilt from its description (or None)."""
    if not isinstance(data, list):
        return None
    try:
        kinds = type(inspect.Parameter.POSITIONAL_ONLY)
        params = [inspect.Parameter(str(name), kinds(int(kind)),
                                    default=_Default(str(text)) if has else inspect.Parameter.empty)
                  for name, kind, has, text in data]
        return inspect.Signature(params)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def _touch(filename: str):
    """A function that does nothing, whose code says it comes from ``filename``."""
    namespace: dict = {}
    exec(compile("def touch():\n    pass\n", filename, "exec"), namespace)  # noqa: S102
    return namespace["touch"]
