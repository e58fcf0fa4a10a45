"""What the unit tests share: a compilation counter (fixture ``compiles``); the notebook
helpers are in :mod:`tests.notebook_runs`, the corpora of solutions in ``solutions``."""

from __future__ import annotations

import jax
import pytest


class Compiles:
    """The XLA compilations while the ``with`` block runs: ``len(c)``, and ``c.names`` (the
    compiled functions' names, as JAX reports them)."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        self.names: list[str] = []

    def __call__(self, event, duration, **kwargs):
        if event == self.EVENT:
            self.names.append(str(kwargs.get("fun_name")))

    def __len__(self):
        return len(self.names)

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


@pytest.fixture
def compiles():
    """``with compiles() as c: ...`` counts what the block compiles."""
    return Compiles
