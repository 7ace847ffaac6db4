"""aiohttp's receive and send hot paths, written once (used by
:mod:`wsfast.integrations.aiohttp`).

As for the codec (docs/build.md): imported as ``wsfast._aiohttp_py`` this is
plain Python over the primitives of :mod:`wsfast._py`; setup.py compiles a
copy with Cython as ``wsfast._aiohttp_c``, typed by the augmenting
``wsfast/_aiohttp_c.pxd`` and calling the C primitives of ``wsfast._c``, so
the per-frame path makes no Python call of its own but aiohttp's queue.

aiohttp's classes are not imported here: :func:`bind` receives them when the
patches are made, so importing this module never imports aiohttp.
"""

from __future__ import annotations

from typing import Any

from ._py import _frame_build, _frame_header, _frame_parse, _frame_unmask, _tuple3

__all__ = ["WebSocketReader", "bind", "write_websocket_frame"]


class WebSocketReader:
    """aiohttp's ``WebSocketReader(queue, max_msg_size, compress, decode_text)``:
    ``feed_data(data) -> (error, tail)`` and ``feed_eof()``, delivering
    ``WSMessage`` tuples to ``queue`` exactly as aiohttp's reader does.

    It takes complete, unfragmented text, binary, ping and pong frames
    itself. The first frame it does not take (a fragment, a close frame, RSV
    bits, an oversized or invalid frame, invalid UTF-8, a full queue, or a
    connection with permessage-deflate) hands that frame and the rest of the
    connection to aiohttp's own reader, so errors, limits and flow control
    are aiohttp's.
    """

    __slots__ = ("queue", "_args", "_max_length", "_limit", "_decode_text", "_inner", "_buffer",
                 "_need", "_fast", "__weakref__")

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
            self._inner = _fallback(queue, max_msg_size, compress=compress,
                                    decode_text=decode_text)

    def feed_eof(self) -> None:
        self.queue.feed_eof()

    def _hand_over(self, data: bytes) -> tuple[bool, bytes]:
        max_msg_size, compress, decode_text = self._args
        self._fast = False
        self._inner = _fallback(self.queue, max_msg_size, compress=compress,
                                decode_text=decode_text)
        result: tuple[bool, bytes] = self._inner.feed_data(data)
        return result

    def feed_data(self, data: Any) -> tuple[bool, bytes]:
        # The common read: exactly one whole, final binary or text frame and
        # nothing buffered. A header that fails any rule has status <= 0 and
        # length 0, so "header + payload == the read" alone says it is complete.
        if self._fast and type(data) is bytes:
            raw: bytes = data
            n = len(raw)
            if n > 1:
                size, first, length, key = _frame_parse(raw, 0, n, 0, raw[1] > 0x7F,
                                                        self._max_length)
                queued = self.queue._size
                if size + length == n and queued <= self._limit:
                    if first == 0x82:
                        self.queue.feed_data(_tuple3(
                            _WSMessage, _BINARY, _frame_unmask(raw, size, length, key), ""), length)
                        return _NO_ERROR
                    if first == 0x81:
                        payload = _frame_unmask(raw, size, length, key)
                        if not self._decode_text:
                            self.queue.feed_data(
                                _tuple3(_WSMessageTextBytes, _TEXT, payload, ""), length)
                            return _NO_ERROR
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            return self._hand_over(raw)
                        self.queue.feed_data(_tuple3(_WSMessage, _TEXT, text, ""), length)
                        return _NO_ERROR
        return self._feed(data)

    def _feed(self, data: Any) -> tuple[bool, bytes]:
        inner = self._inner
        if inner is not None:
            result: tuple[bool, bytes] = inner.feed_data(data)
            return result
        raw: bytes = data if type(data) is bytes else bytes(data)
        buffer = self._buffer
        if buffer:
            buffer += raw
            if len(buffer) < self._need:
                return _NO_ERROR
            raw = bytes(buffer)
            buffer.clear()
        queue = self.queue
        limit = self._limit
        self._need = 0
        pos = 0
        n = len(raw)
        while pos < n:
            queued = queue._size
            if queued > limit:
                # aiohttp's reader stalls here until the queue drains.
                return self._hand_over(raw[pos:])
            if n - pos < 2:
                break
            # aiohttp takes masked and unmasked frames from either side.
            size, first, length, key = _frame_parse(raw, pos, n, 0, raw[pos + 1] > 0x7F,
                                                    self._max_length)
            if size <= 0:
                if size == 0:
                    break
                # RSV bits, a bad opcode or length, too big: aiohttp's error.
                return self._hand_over(raw[pos:])
            opcode = first & 0x0F
            if not first & 0x80 or opcode == 0 or opcode == 8:
                return self._hand_over(raw[pos:])  # a fragment or a close frame
            room = n - pos - size  # header + payload may pass the largest Py_ssize_t
            if length > room:
                self._need = size + length  # only a hint: no harm if it wraps
                break
            end = pos + size + length
            payload = _frame_unmask(raw, pos + size, length, key)
            if opcode == 1:
                if self._decode_text:
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        return self._hand_over(raw[pos:])
                    queue.feed_data(_tuple3(_WSMessage, _TEXT, text, ""), length)
                else:
                    queue.feed_data(_tuple3(_WSMessageTextBytes, _TEXT, payload, ""), length)
            elif opcode == 2:
                queue.feed_data(_tuple3(_WSMessage, _BINARY, payload, ""), length)
            else:
                control: Any = payload
                if raw[pos + 1] & 0x80:
                    control = bytearray(payload)  # what aiohttp's reader delivers
                queue.feed_data(
                    _tuple3(_WSMessage, _PING if opcode == 9 else _PONG, control, ""), length)
            pos = end
        if pos < n:
            buffer += raw[pos:] if pos else raw
        self._fast = not buffer
        return _NO_ERROR


def write_websocket_frame(self: Any, message: Any, opcode: int, rsv: int) -> None:
    """``WebSocketWriter._write_websocket_frame``: an unmasked frame (a server's)
    built by one call, header and payload in one buffer; above aiohttp's
    ``MSG_SIZE`` the header and the payload are written separately, as aiohttp
    does. A masking writer (a client) runs aiohttp's own."""
    if self.use_mask:
        _aiohttp_write_frame(self, message, opcode, rsv)
        return
    transport = self.transport
    if transport.is_closing():
        raise _ClientConnectionResetError("Cannot write to closing transport")
    n = len(message)
    if n > _MSG_SIZE:
        header = _frame_header(0x80 | rsv | opcode, n, None)
        transport.write(header)
        transport.write(message)
        self._output_size += len(header) + n
        return
    frame = _frame_build(0x80 | rsv | opcode, message, None)
    transport.write(frame)
    self._output_size += len(frame)


def bind(fallback: Any, models: Any, aiohttp_write_frame: Any, reset_error: Any,
         msg_size: int) -> None:
    """Receive aiohttp's reader class, its ``models`` module, the writer's own
    ``_write_websocket_frame``, ``ClientConnectionResetError`` and ``MSG_SIZE``."""
    global _fallback, _WSMessage, _WSMessageTextBytes, _TEXT, _BINARY, _PING, _PONG
    global _aiohttp_write_frame, _ClientConnectionResetError, _MSG_SIZE
    _fallback = fallback
    _WSMessage = models.WSMessage
    _WSMessageTextBytes = models.WSMessageTextBytes
    _TEXT, _BINARY = models.WSMsgType.TEXT, models.WSMsgType.BINARY
    _PING, _PONG = models.WSMsgType.PING, models.WSMsgType.PONG
    _aiohttp_write_frame = aiohttp_write_frame
    _ClientConnectionResetError = reset_error
    _MSG_SIZE = msg_size


_NO_ERROR = (False, b"")
_fallback: Any = None
_aiohttp_write_frame: Any = None
_ClientConnectionResetError: Any = None
_MSG_SIZE = 0
_WSMessage: Any = None
_WSMessageTextBytes: Any = None
_TEXT: Any = None
_BINARY: Any = None
_PING: Any = None
_PONG: Any = None
