"""The single place that decides which backend runs.

``TYPE_CHECKING`` reads the pure-Python twin, so type checkers see readable
code. At run time: ``WSFAST_NO_EXTENSIONS`` or a non-CPython interpreter
gives :mod:`wsfast._py`; otherwise :mod:`wsfast._c` is imported, and an
ImportError propagates only under ``WSFAST_REQUIRE_EXTENSIONS``.
"""

from __future__ import annotations

import platform
from types import ModuleType
from typing import TYPE_CHECKING

from ._env import env_flag

__all__ = ["BACKEND", "impl"]

if TYPE_CHECKING:
    from . import _py as impl
else:
    impl: ModuleType
    if env_flag("WSFAST_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        from . import _py as impl
    else:
        try:
            from . import _c as impl
        except ImportError:
            if env_flag("WSFAST_REQUIRE_EXTENSIONS"):
                raise
            from . import _py as impl

BACKEND: str = "c" if impl.__name__.endswith("._c") else "python"
