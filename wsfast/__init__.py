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
from .deflate import PerMessageDeflate, zlib_backend
from .exceptions import ProtocolError
from .frames import Frame, FrameDecoder, encode_frame
from .handshake import accept_key
from .messages import Close, Decoder, Encoder, Message

__all__ = [
    "BACKEND",
    "Close",
    "CloseCode",
    "Decoder",
    "Encoder",
    "Frame",
    "FrameDecoder",
    "Masker",
    "Message",
    "Opcode",
    "PerMessageDeflate",
    "ProtocolError",
    "Utf8Validator",
    "__version__",
    "accept_key",
    "encode_frame",
    "features",
    "mask",
    "mask_inplace",
    "validate_utf8",
]

mask = impl.mask
mask_inplace = impl.mask_inplace
Masker = impl.Masker

validate_utf8 = impl.validate_utf8
Utf8Validator = impl.Utf8Validator


def features() -> dict[str, Any]:
    """What this install runs.

    Returns:
        ``backend`` ("c" or "python"), ``mask`` and ``utf8`` (the kernels in
        use), ``zlib`` (the deflate implementation), ``kernels`` (the kernel
        levels this CPU supports, best first), ``build`` (compiler and flags
        of the extension, empty for Python) and ``free_threaded``.
    """
    return {
        "backend": BACKEND,
        "mask": impl.KERNEL_NAMES["mask"],
        "utf8": impl.KERNEL_NAMES["utf8"],
        "zlib": zlib_backend(),
        "kernels": impl._kernels(),
        "build": impl._build_info(),
        "free_threaded": not getattr(sys, "_is_gil_enabled", lambda: True)(),
    }


def __dir__() -> list[str]:
    # dir(wsfast) lists the public API, not the imports it is built from.
    return sorted(__all__)
