"""Patches for aiohttp's WebSocket reader and writer.

- ``websocket_mask(mask, data)`` masks a ``bytearray`` in place (returns
  None) in ``aiohttp._websocket.writer`` (every frame a client sends),
  ``aiohttp._websocket.helpers`` and ``aiohttp._websocket.reader_py`` (the
  reader used when aiohttp's extensions are not compiled, or with
  ``AIOHTTP_NO_EXTENSIONS``).
- ``WebSocketWriter._write_websocket_frame`` (every frame sent): an unmasked
  frame is built by wsfast in one call; a masking writer keeps aiohttp's.
- ``set_zlib_backend``: when zlib-ng is installed, aiohttp is switched to it;
  uninstall puts aiohttp's previous backend back.
- ``WebSocketReader`` as ``aiohttp.web_ws`` and ``aiohttp.client`` name it
  (the receive path of every server and client connection):
  :class:`WebSocketReader`, the same interface, which takes complete,
  unfragmented text, binary, ping and pong frames itself, unmasking with
  wsfast's kernel in one pass (aiohttp's reader copies the payload into a
  ``bytearray``, unmasks it there and copies it again into ``bytes``). The
  first frame it does not take (a fragment, a close frame, RSV bits, an
  oversized or invalid frame, invalid UTF-8, a full queue, or a connection
  with permessage-deflate) hands that frame and the rest of the connection
  to aiohttp's own reader, so errors, limits and flow control are aiohttp's.
  ``aiohttp._websocket.reader.WebSocketReader`` itself is left alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from .._backend import impl
from . import Patch

__all__ = ["WebSocketReader", "patches", "websocket_mask"]

# ``mask_inplace`` in aiohttp's argument order, returning None as aiohttp's
# does: aiohttp calls the kernel with no Python frame in between (a wrapper
# costs more than the masking saves at 1 KiB).
websocket_mask: Any = impl._mask_inplace_keyfirst


def _faster_zlib() -> Any:
    """zlib-ng's zlib-compatible module, when installed. Not ISA-L's, even where
    wsfast's deflate compresses with it: aiohttp compresses at
    ``Z_BEST_SPEED``, which ISA-L maps to its level 0, whose output for a
    4-byte message is over 100 bytes."""
    try:
        return importlib.import_module("zlib_ng.zlib_ng")
    except ImportError:
        return None


class WebSocketReader:
    """aiohttp's ``WebSocketReader(queue, max_msg_size, compress, decode_text)``:
    ``feed_data(data) -> (error, tail)`` and ``feed_eof()``, delivering
    ``WSMessage`` tuples to ``queue`` exactly as aiohttp's reader does."""

    __slots__ = ("queue", "_args", "_max_length", "_limit", "_decode_text", "_inner", "_buffer",
                 "_need", "_fast", "__weakref__")

    # aiohttp's own reader class, set by patches().
    fallback: Any = None

    def __init__(self, queue: Any, max_msg_size: int, compress: bool, decode_text: bool) -> None:
        self.queue = queue
        self._args = (max_msg_size, compress, decode_text)
        self._decode_text = decode_text
        # aiohttp refuses a data frame of max_msg_size bytes or more.
        self._max_length = max_msg_size - 1 if max_msg_size else (1 << 64) - 1
        # aiohttp's reader, once it has taken over (for good).
        self._inner: Any = None
        self._buffer = bytearray()  # an unfinished frame
        self._need = 0  # bytes the unfinished frame needs in all, when known
        self._limit = queue._limit  # fixed when the queue is made
        # No unfinished frame and aiohttp's reader not in charge: feed_data's short way.
        self._fast = not compress
        if compress:
            self._inner = self.fallback(queue, max_msg_size, compress=compress,
                                        decode_text=decode_text)

    def feed_eof(self) -> None:
        self.queue.feed_eof()

    def _hand_over(self, data: bytes) -> tuple[bool, bytes]:
        max_msg_size, compress, decode_text = self._args
        self._fast = False
        self._inner = self.fallback(self.queue, max_msg_size, compress=compress,
                                    decode_text=decode_text)
        result: tuple[bool, bytes] = self._inner.feed_data(data)
        return result

    def feed_data(self, data: Any) -> tuple[bool, bytes]:
        # The common read: exactly one whole, final binary or text frame and
        # nothing buffered. The fewest Python steps (aiohttp's own reader is
        # compiled): a header that fails any rule has status <= 0 and length
        # 0, so "header + payload == the read" alone says it is complete.
        if self._fast and type(data) is bytes:
            n = len(data)
            if n > 1:
                size, first, length, key = _parse(data, 0, n, 0, data[1] > 0x7F, self._max_length)
                if size + length == n and self.queue._size <= self._limit:
                    if first == 0x82:
                        self.queue.feed_data(_tuple_new(_WSMessage, (
                            _BINARY, _unmask(data, size, length, key), "")), length)
                        return _NO_ERROR
                    if first == 0x81:
                        payload = _unmask(data, size, length, key)
                        if not self._decode_text:
                            self.queue.feed_data(
                                _tuple_new(_WSMessageTextBytes, (_TEXT, payload, "")), length)
                            return _NO_ERROR
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            return self._hand_over(data)
                        self.queue.feed_data(_tuple_new(_WSMessage, (_TEXT, text, "")), length)
                        return _NO_ERROR
        return self._feed(data)

    def _feed(self, data: Any) -> tuple[bool, bytes]:
        inner = self._inner
        if inner is not None:
            result: tuple[bool, bytes] = inner.feed_data(data)
            return result
        if type(data) is not bytes:
            data = bytes(data)
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return _NO_ERROR
            data = bytes(buffer)
            buffer.clear()
        queue = self.queue
        limit = self._limit
        self._need = 0
        pos = 0
        n = len(data)
        while pos < n:
            if queue._size > limit:
                # aiohttp's reader stalls here until the queue drains.
                return self._hand_over(data[pos:])
            if n - pos < 2:
                break
            # aiohttp takes masked and unmasked frames from either side.
            size, first, length, key = _parse(data, pos, n, 0, data[pos + 1] > 0x7F,
                                              self._max_length)
            if size <= 0:
                if size == 0:
                    break
                # RSV bits, a bad opcode or length, too big: aiohttp's error.
                return self._hand_over(data[pos:])
            opcode = first & 0x0F
            if not first & 0x80 or opcode not in _TAKEN:
                return self._hand_over(data[pos:])  # a fragment or a close frame
            end = pos + size + length
            if end > n:
                self._need = end - pos
                break
            if opcode == 1:
                payload = _unmask(data, pos + size, length, key)
                if self._decode_text:
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        return self._hand_over(data[pos:])
                    queue.feed_data(_tuple_new(_WSMessage, (_TEXT, text, "")), length)
                else:
                    queue.feed_data(_tuple_new(_WSMessageTextBytes, (_TEXT, payload, "")), length)
            elif opcode == 2:
                payload = _unmask(data, pos + size, length, key)
                queue.feed_data(_tuple_new(_WSMessage, (_BINARY, payload, "")), length)
            else:
                control: Any = _unmask(data, pos + size, length, key)
                if data[pos + 1] & 0x80:
                    control = bytearray(control)  # what aiohttp's reader delivers
                queue.feed_data(
                    _tuple_new(_WSMessage, (_PING if opcode == 9 else _PONG, control, "")), length)
            pos = end
        if pos < n:
            buffer += data[pos:] if pos else data
        self._fast = not buffer
        return _NO_ERROR


def _write_websocket_frame(self: Any, message: Any, opcode: int, rsv: int) -> None:
    """``WebSocketWriter._write_websocket_frame``: an unmasked frame (a server's)
    built by one call, header and payload in one buffer; above aiohttp's
    ``MSG_SIZE`` the header and the payload are written separately, as aiohttp
    does. A masking writer (a client) runs aiohttp's own, on wsfast's mask."""
    if self.use_mask:
        _aiohttp_write_frame(self, message, opcode, rsv)
        return
    transport = self.transport
    if transport.is_closing():
        raise _ClientConnectionResetError("Cannot write to closing transport")
    if len(message) > _MSG_SIZE:
        header = _header(0x80 | rsv | opcode, len(message), None)
        transport.write(header)
        transport.write(message)
        self._output_size += len(header) + len(message)
        return
    frame = _build(0x80 | rsv | opcode, message, None)
    transport.write(frame)
    self._output_size += len(frame)


_NO_ERROR = (False, b"")
_TAKEN = frozenset((1, 2, 9, 10))
_tuple_new = tuple.__new__
_parse = impl._frame_parse
_unmask = impl._frame_unmask
_build = impl._frame_build
_header = impl._frame_header
_aiohttp_write_frame: Any = None
_ClientConnectionResetError: Any = None
_MSG_SIZE = 0
_WSMessage: Any = None
_WSMessageTextBytes: Any = None
_TEXT = _BINARY = _PING = _PONG = None


def _bind_models() -> None:
    global _WSMessage, _WSMessageTextBytes, _TEXT, _BINARY, _PING, _PONG
    global _aiohttp_write_frame, _ClientConnectionResetError, _MSG_SIZE
    from aiohttp._websocket import helpers, models, reader, writer
    from aiohttp.client_exceptions import ClientConnectionResetError

    original = writer.WebSocketWriter.__dict__["_write_websocket_frame"]
    if original is not _write_websocket_frame:  # not bound again while installed
        _aiohttp_write_frame = original
    _ClientConnectionResetError = ClientConnectionResetError
    _MSG_SIZE = helpers.MSG_SIZE

    _WSMessage = models.WSMessage
    _WSMessageTextBytes = models.WSMessageTextBytes
    _TEXT, _BINARY = models.WSMsgType.TEXT, models.WSMsgType.BINARY
    _PING, _PONG = models.WSMsgType.PING, models.WSMsgType.PONG
    WebSocketReader.fallback = reader.WebSocketReader


def patches() -> Iterator[Patch]:
    """What ``install("aiohttp")`` replaces."""
    from aiohttp import client, compression_utils, web_ws
    from aiohttp._websocket import helpers, reader_py, writer

    _bind_models()
    yield (web_ws, "WebSocketReader", WebSocketReader)
    yield (client, "WebSocketReader", WebSocketReader)
    yield (writer.WebSocketWriter, "_write_websocket_frame", _write_websocket_frame)

    yield (writer, "websocket_mask", websocket_mask)
    yield (helpers, "websocket_mask", websocket_mask)
    yield (reader_py, "websocket_mask", websocket_mask)
    zlib_module = _faster_zlib()
    if zlib_module is not None:
        # What set_zlib_backend() sets, recorded so uninstall restores it.
        yield (compression_utils.ZLibBackend, "_zlib_backend", zlib_module)
