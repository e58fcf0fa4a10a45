"""Names a package face loads on first access (PEP 562), so that importing it stays light."""

from __future__ import annotations

import importlib
import sys


def attach(package: str, lazy: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package``: each name of ``lazy`` is read from the
    module it maps to the first time it is used, then kept in the package's namespace."""

    def __getattr__(name: str):
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(lazy))

    return __getattr__, __dir__
