"""Frames (RFC 6455 §5): :class:`Frame`, :func:`encode_frame`, :class:`FrameDecoder`.

The classes come from the codec of the backend in use (:mod:`wsfast._backend`).
"""

from __future__ import annotations

from ._backend import codec

Frame = codec.Frame
FrameDecoder = codec.FrameDecoder
encode_frame = codec.encode_frame

__all__ = ["Frame", "FrameDecoder", "encode_frame"]
