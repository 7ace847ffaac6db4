"""The single place that decides which backend runs.

A backend is a pair of modules, used together or not at all: the primitives
(``impl``) and the frame and message codec built on them (``codec``).
:data:`MODULES` names the pairs; the test fixture reads the same table.

``TYPE_CHECKING`` reads the pure-Python pair, so type checkers see readable
code. At run time: ``WSFAST_NO_EXTENSIONS`` or a non-CPython interpreter
gives the Python pair; otherwise the compiled pair is imported, and if either
module fails to import, the Python pair runs instead (the ImportError
propagates only under ``WSFAST_REQUIRE_EXTENSIONS``).
"""

from __future__ import annotations

import importlib
import platform
from types import ModuleType
from typing import TYPE_CHECKING

from ._env import env_flag

__all__ = ["BACKEND", "MODULES", "codec", "impl"]

# Backend name -> (primitives module, codec module). The compiled codec is
# wsfast/_codec_py.py built by Cython (how: docs/build.md).
MODULES: dict[str, tuple[str, str]] = {
    "c": ("wsfast._c", "wsfast._codec_c"),
    "python": ("wsfast._py", "wsfast._codec_py"),
}


def _load(name: str) -> tuple[ModuleType, ModuleType]:
    primitives, codec_module = MODULES[name]
    return importlib.import_module(primitives), importlib.import_module(codec_module)


def _choose() -> str:
    if env_flag("WSFAST_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        return "python"
    try:
        _load("c")
    except ImportError:
        if env_flag("WSFAST_REQUIRE_EXTENSIONS"):
            raise
        return "python"
    return "c"


BACKEND: str = _choose()

if TYPE_CHECKING:
    from . import _codec_py as codec
    from . import _py as impl
else:
    impl, codec = _load(BACKEND)
