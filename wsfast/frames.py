"""Frames (RFC 6455 §5): :class:`Frame`, :func:`encode_frame`, :class:`FrameDecoder`.

The classes come from the codec module of the backend in use
(:data:`wsfast.BACKEND`): ``wsfast._codec_c``, the compiled build of
``wsfast/_codec_py.py``, or that source itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._backend import BACKEND

if TYPE_CHECKING or BACKEND != "c":
    from ._codec_py import Frame, FrameDecoder, encode_frame
else:
    from ._codec_c import Frame, FrameDecoder, encode_frame

__all__ = ["Frame", "FrameDecoder", "encode_frame"]
