"""Lazy package exports (PEP 562) shared by the package ``__init__`` modules.

Each package keeps its literal ``__all__`` and a ``name -> relative module`` map; this helper
builds the module-level ``__getattr__`` / ``__dir__`` pair so that importing a package stays cheap
(``claude-force --help`` must not import the orchestrator, stores or FastAPI). Hand-written because
the standard library has no helper for it and it is a dozen lines; it imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for *package*.

    ``__getattr__`` imports ``exports[name]`` relative to *package*, caches the value on the package
    module (so the next access skips the hook) and raises ``AttributeError`` for unknown names.
    ``__dir__`` lists *names* (the package's ``__all__``) sorted.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
