"""wsfast: a fast, strict WebSocket frame codec (RFC 6455, RFC 7692).

The public API is the same whichever backend runs: the compiled extension
(``wsfast._c``, SIMD kernels chosen at run time) or the pure-Python twin
(``wsfast._py``). ``BACKEND`` says which.
"""

from __future__ import annotations

import sys
from typing import Any

from ._backend import BACKEND, impl
from ._version import __version__
from .constants import CloseCode, Opcode
from .exceptions import ProtocolError

__all__ = [
    "BACKEND",
    "CloseCode",
    "Masker",
    "Opcode",
    "ProtocolError",
    "__version__",
    "features",
    "mask",
    "mask_inplace",
]

mask = impl.mask
mask_inplace = impl.mask_inplace
Masker = impl.Masker


def features() -> dict[str, Any]:
    """What this install runs.

    Returns:
        ``backend`` ("c" or "python"), ``mask`` and ``utf8`` (the kernels in
        use), ``zlib`` (the deflate implementation), ``kernels`` (the kernel
        levels this CPU supports, best first), ``build`` (compiler and flags
        of the extension, empty for Python) and ``free_threaded``.
    """
    compiled = BACKEND == "c"
    return {
        "backend": BACKEND,
        "mask": impl.KERNEL_NAMES["mask"],
        "utf8": impl.KERNEL_NAMES["utf8"],
        "zlib": "zlib",
        "kernels": impl._kernels() if compiled else [],
        "build": impl._build_info() if compiled else {},
        "free_threaded": not getattr(sys, "_is_gil_enabled", lambda: True)(),
    }
