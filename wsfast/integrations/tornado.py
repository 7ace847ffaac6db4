"""Patches for tornado's WebSocket framing and masking.

- ``tornado.websocket._websocket_mask(mask, data) -> bytes`` (and the name in
  ``tornado.util``, where it is defined, so code that imports it from there
  later gets wsfast's too). The argument order is tornado's: mask first.
- ``WebSocketProtocol13._write_frame`` (every frame sent, server and client):
  the frame is built by one wsfast call, header and (masked) payload in one
  buffer, instead of packing and concatenating it piece by piece.
- ``WebSocketProtocol13._receive_frame`` (every frame received): tornado's
  checks, in tornado's order and with tornado's responses, but the masking
  key is read together with the payload (one stream read fewer per frame:
  each read goes through tornado's IOStream machinery), the stream is read
  directly rather than through a coroutine per read, and the payload is
  unmasked while copied out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .._backend import impl
from . import Patch

__all__ = ["patches", "websocket_mask"]

_mask = impl.mask
_build = impl._frame_build
_unmask = impl._frame_unmask


def websocket_mask(mask: Any, data: Any) -> bytes:
    """Return ``data`` XORed with the 4-byte ``mask`` (tornado's argument order)."""
    return _mask(data, mask)


def _write_frame(self: Any, fin: bool, opcode: int, data: bytes, flags: int = 0) -> Any:
    """``WebSocketProtocol13._write_frame``, with the same checks and errors."""
    data_len = len(data)
    if opcode & 0x8:
        # Control frames: at most 125 bytes, never fragmented (RFC 6455 §5.5).
        if not fin:
            raise ValueError("control frames may not be fragmented")
        if data_len > 125:
            raise ValueError("control frame payloads may not exceed 125 bytes")
    first = (0x80 if fin else 0) | opcode | flags
    frame = _build(first, data, os.urandom(4) if self.mask_outgoing else None)
    self._wire_bytes_out += len(frame)
    return self.stream.write(frame)


async def _receive_frame(self: Any) -> None:
    """``WebSocketProtocol13._receive_frame``: the same checks in the same order."""
    # The stream's reads straight, not through _read_bytes (a coroutine per read).
    stream = self.stream
    header, second = await stream.read_bytes(2)
    self._wire_bytes_in += 2
    is_final_frame = header & 0x80
    reserved_bits = header & 0x70
    opcode = header & 0x0F
    opcode_is_control = opcode & 0x8
    if self._decompressor is not None and opcode != 0:
        # RSV1 on the first frame marks a compressed message (RFC 7692).
        self._frame_compressed = bool(reserved_bits & 0x40)
        reserved_bits &= ~0x40
    if reserved_bits:
        self._abort()  # an extension nobody negotiated
        return
    is_masked = second & 0x80
    payloadlen = second & 0x7F
    if opcode_is_control and payloadlen >= 126:
        self._abort()
        return
    if payloadlen < 126:
        self._frame_length = payloadlen
    elif payloadlen == 126:
        payloadlen = int.from_bytes(await stream.read_bytes(2), "big")
        self._wire_bytes_in += 2
    else:
        payloadlen = int.from_bytes(await stream.read_bytes(8), "big")
        self._wire_bytes_in += 8
    new_len = payloadlen
    if self._fragmented_message_buffer is not None:
        new_len += len(self._fragmented_message_buffer)
    if new_len > self.params.max_message_size:
        self.close(1009, "message too big")
        self._abort()
        return

    if is_masked:
        # The key and the payload in one read; unmasked while copied out.
        data = await stream.read_bytes(4 + payloadlen)
        self._wire_bytes_in += 4 + payloadlen
        self._frame_mask = data[:4]
        data = _unmask(data, 4, payloadlen, int.from_bytes(self._frame_mask, "little"))
    else:
        data = await stream.read_bytes(payloadlen)
        self._wire_bytes_in += payloadlen

    if opcode_is_control:
        # Control frames may come between a fragmented message's frames and
        # do not touch its state; they must not be fragmented themselves.
        if not is_final_frame:
            self._abort()
            return
    elif opcode == 0:  # a continuation frame
        if self._fragmented_message_buffer is None:
            self._abort()  # nothing to continue
            return
        self._fragmented_message_buffer.extend(data)
        if is_final_frame:
            opcode = self._fragmented_message_opcode
            data = bytes(self._fragmented_message_buffer)
            self._fragmented_message_buffer = None
    else:  # the first frame of a message
        if self._fragmented_message_buffer is not None:
            self._abort()  # the previous message is not finished
            return
        if not is_final_frame:
            self._fragmented_message_opcode = opcode
            self._fragmented_message_buffer = bytearray(data)

    if is_final_frame:
        handled_future = self._handle_message(opcode, data)
        if handled_future is not None:
            await handled_future


def patches() -> Iterator[Patch]:
    """What ``install("tornado")`` replaces."""
    from tornado import util, websocket

    yield (util, "_websocket_mask", websocket_mask)
    yield (websocket, "_websocket_mask", websocket_mask)
    yield (websocket.WebSocketProtocol13, "_write_frame", _write_frame)
    yield (websocket.WebSocketProtocol13, "_receive_frame", _receive_frame)
