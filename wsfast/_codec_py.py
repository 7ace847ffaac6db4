"""Frames and messages (RFC 6455 §5, §7): the state machines, written once.

This module is both backends of the codec: imported as ``wsfast._codec_py`` it
is plain Python over the primitives of :mod:`wsfast._py`; setup.py compiles a
copy with Cython as ``wsfast._codec_c``, typed by the augmenting
``wsfast/_codec_c.pxd`` and calling the C primitives of ``wsfast._c``.
docs/build.md explains how, and what an edit here must keep (no ``cython``
import; every name the pxd declares keeps its meaning in both worlds).

Layout: :class:`_Reader` cuts the byte stream into frames (headers parsed by
``_frame_parse``, payloads unmasked while copied out by ``_frame_unmask`` or,
for a frame spread over several ``feed`` calls, by ``_Payload``); its
subclasses handle four events (``_on_*``). :class:`FrameDecoder` turns
them into :class:`Frame` objects, :class:`Decoder` into messages.
"""

from __future__ import annotations

import operator
import os
import sys
from typing import Any

from ._buffers import byte_view
from ._checks import check_flag, check_int
from ._py import (
    _frame_build, _frame_header, _frame_parse, _frame_unmask, _new_buffer, _new_payload, _utf8_feed,
)
from .constants import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    ERR_CLOSE_CODE,
    ERR_CLOSE_ONE_BYTE,
    ERR_CLOSE_REASON,
    ERR_CONTINUATION,
    ERR_EXPECTED_CONTINUATION,
    ERR_MESSAGE_TOO_BIG,
    ERR_OUT_OF_MEMORY,
    ERR_RSV1,
    ERR_TEXT,
    FRAME_E_TOO_BIG,
    FRAME_ERRORS,
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    MAX_FRAME_HEADER,
    NO_LIMIT,
    UTF8_ACCEPT,
    UTF8_REJECT,
    Opcode,
    is_valid_close_code,
)
from .exceptions import ProtocolError

__all__ = [
    "Close",
    "Decoder",
    "Encoder",
    "Frame",
    "FrameDecoder",
    "Message",
    "encode_frame",
]

# Byte 0 of a frame header (RFC 6455 §5.2).
FIN = 0x80
RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10
OPCODE_MASK = 0x0F
CONTROL = 0x08  # opcodes 8-15 are control frames (§5.5)

OP_CONTINUATION = 0
OP_TEXT = 1
OP_BINARY = 2
OP_CLOSE = 8
OP_PING = 9
OP_PONG = 10

# Opcode value -> Opcode member (None for reserved values), so that reading
# a frame's opcode costs a tuple lookup instead of an enum call.
_KNOWN_OPCODES = {member.value: member for member in Opcode}
OPCODES: tuple[Any, ...] = tuple(_KNOWN_OPCODES.get(value) for value in range(16))
MESSAGE_OPCODES = frozenset({OP_TEXT, OP_BINARY, OP_PING, OP_PONG})

# The largest buffer a message may need (a limit of None is capped here).
MAX_BUFFER = sys.maxsize


# ---- Argument checks ------------------------------------------------------------


def _is_server(role: object) -> bool:
    """True for "server" (expects masked frames), False for "client"."""
    if type(role) is not str:
        raise TypeError(f"role must be 'server' or 'client', not {type(role).__name__}")
    if role == "server":
        return True
    if role == "client":
        return False
    raise ValueError(f"role must be 'server' or 'client', not {role!r}")


def _limit(value: object, name: str) -> int:
    """A size limit: None means none (NO_LIMIT)."""
    if value is None:
        return NO_LIMIT
    return min(check_int(name, value, 0), NO_LIMIT)


def _opcode_value(opcode: object) -> int:
    """The value of a known opcode; ValueError for reserved or out-of-range ones."""
    if type(opcode) is bool:
        raise TypeError("opcode must be an int, not bool")
    value = operator.index(opcode)  # type: ignore[arg-type]
    if not 0 <= value <= 15 or OPCODES[value] is None:
        raise ValueError(f"unknown opcode {value!r}")
    return value


def _to_bytes(data: object) -> bytes:
    """Any C-contiguous buffer as bytes; TypeError/ValueError otherwise."""
    return byte_view(data, "data").tobytes()


def _protocol_error(error: tuple[int, str]) -> ProtocolError:
    return ProtocolError(error[0], error[1])


def _first_byte(opcode: object, fin: object, rsv1: object, rsv2: object, rsv3: object) -> int:
    """Byte 0 of a header (§5.2), from checked arguments."""
    # Type tests inline: this runs for every frame encoded.
    if not (type(fin) is bool and type(rsv1) is bool and type(rsv2) is bool and type(rsv3) is bool):
        for name, flag in (("fin", fin), ("rsv1", rsv1), ("rsv2", rsv2), ("rsv3", rsv3)):
            check_flag(name, flag)
    return (
        _opcode_value(opcode)
        | (FIN if fin else 0)
        | (RSV1 if rsv1 else 0)
        | (RSV2 if rsv2 else 0)
        | (RSV3 if rsv3 else 0)
    )


# ---- Frames (RFC 6455 §5.2) ------------------------------------------------------


class Frame:
    """One frame, payload unmasked. Immutable; compares by value.

    Args:
        opcode: an :class:`~wsfast.Opcode` (or its value).
        payload: any bytes-like object.
        fin, rsv1, rsv2, rsv3: the header bits.

    Raises:
        TypeError: ``payload`` is not a buffer, or a flag is not a bool.
        ValueError: ``opcode`` is reserved or out of range.
    """

    __slots__ = ("_first", "_payload")
    _first: int
    _payload: bytes

    def __init__(
        self,
        opcode: int,
        payload: object = b"",
        *,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
    ) -> None:
        self._first = _first_byte(opcode, fin, rsv1, rsv2, rsv3)
        self._payload = _to_bytes(payload)

    @property
    def fin(self) -> bool:
        """Whether this is the last frame of its message."""
        return bool(self._first & FIN)

    @property
    def rsv1(self) -> bool:
        """RSV1 (set by permessage-deflate on a message's first frame)."""
        return bool(self._first & RSV1)

    @property
    def rsv2(self) -> bool:
        """RSV2."""
        return bool(self._first & RSV2)

    @property
    def rsv3(self) -> bool:
        """RSV3."""
        return bool(self._first & RSV3)

    @property
    def opcode(self) -> Opcode:
        """The :class:`~wsfast.Opcode`."""
        return OPCODES[self._first & OPCODE_MASK]  # type: ignore[no-any-return]

    @property
    def payload(self) -> bytes:
        """The payload, unmasked."""
        return self._payload

    # Frame, Message and Close each spell out __eq__ and __hash__: compiled,
    # a shared base class would cost Frame and Message their freelists
    # (Cython keeps a freelist only on a type without a base).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self._first == other._first and self._payload == other._payload

    def __hash__(self) -> int:
        return hash((self._first, self._payload))

    def __repr__(self) -> str:
        bits = "".join(
            f", {name}=True"
            for name, bit in (("rsv1", RSV1), ("rsv2", RSV2), ("rsv3", RSV3))
            if self._first & bit
        )
        return (
            f"Frame({_opcode_name(self._first & OPCODE_MASK)}, {_preview(self._payload)}, "
            f"fin={bool(self._first & FIN)}{bits})"
        )


def _opcode_name(value: int) -> str:
    return f"Opcode.{OPCODES[value].name}"


def _preview(data: bytes | str) -> str:
    """A repr that stays readable for large payloads."""
    if len(data) <= 64:
        return repr(data)
    return f"{data[:60]!r}...<{len(data)} {'chars' if isinstance(data, str) else 'bytes'}>"


def _new_frame(first: int, payload: bytes) -> Frame:
    # __new__ skips __init__'s checks: the header parser already made them.
    frame = Frame.__new__(Frame)
    frame._first = first
    frame._payload = payload
    return frame


def encode_frame(
    opcode: int,
    payload: object = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: object = None,
) -> bytes:
    """Serialise one frame, with the shortest length encoding (RFC 6455 §5.2).

    Args:
        opcode: an :class:`~wsfast.Opcode` (or its value).
        payload: any bytes-like object.
        fin, rsv1, rsv2, rsv3: the header bits.
        mask: None or False: unmasked (server to client); True: masked with a
            fresh key from ``os.urandom`` (client to server); a 4-byte buffer:
            masked with that key.

    Raises:
        TypeError: ``payload`` or ``mask`` is not a buffer, or a flag is not a bool.
        ValueError: unknown opcode; a control frame (opcode >= 8) with
            ``fin=False`` or a payload over 125 bytes; a key not 4 bytes long.
    """
    first = _first_byte(opcode, fin, rsv1, rsv2, rsv3)
    if first & CONTROL:
        # §5.5: control frames are never fragmented and carry <= 125 bytes.
        payload = byte_view(payload, "payload")
        if not first & FIN:
            raise ValueError("control frames cannot be fragmented (fin=False)")
        if payload.nbytes > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"control frame payload over {MAX_CONTROL_PAYLOAD} bytes")
    # _frame_build checks the payload, then the key: each buffer once.
    return _frame_build(first, payload, _masking_key(mask))


def _masking_key(mask: object) -> object:
    """None (unmasked), a fresh key, or ``mask`` itself (a key _frame_build checks)."""
    if mask is None or mask is False:
        return None
    if mask is True:
        return os.urandom(4)  # §5.3: a fresh, unpredictable key per frame
    return mask


# ---- Splitting the stream into frames ---------------------------------------------


class _Reader:
    """The frame loop shared by FrameDecoder and Decoder.

    Cuts the byte stream into frames and tells its subclass four events:
    ``_on_first_byte`` (byte 0 of a header that is not complete yet),
    ``_on_header`` (a frame header passed the header rules), ``_on_chunk``
    (part of a payload spread over several feed() calls arrived),
    ``_on_frame`` (a frame is complete). An incomplete header waits in
    ``_tail`` (at most 13 bytes); an incomplete payload in ``_partial``, a
    buffer that grows with the bytes received up to the declared size (which
    the header limit bounds).

    Threads: a decoder holds one stream's state, so feed() is one call at a
    time; a call that overlaps a running one (from another thread, possibly
    while that one runs without the GIL) raises RuntimeError and consumes
    nothing, so the running call and the decoder's state are unaffected.
    """

    __slots__ = (
        "_allowed_rsv",
        "_closed",
        "_error",
        "_events",
        "_first",
        "_gate",
        "_key",
        "_masked",
        "_max_length",
        "_partial",
        "_remaining",
        "_tail",
    )
    _masked: bool
    _max_length: int
    _allowed_rsv: int
    _tail: bytes
    _partial: Any  # a _Payload of the backend, while a payload spans feed() calls
    _first: int
    _key: int
    _remaining: int
    _closed: bool
    _error: tuple[int, str] | None
    _events: list[Any]  # the running feed() call's events (None between calls)
    _gate: list[None]  # [None] while no feed() runs, [] while one does

    def _init_reader(self, role: object, max_length: int, allowed_rsv: int) -> None:
        self._masked = _is_server(role)  # a server receives masked frames (§5.1)
        self._max_length = max_length
        self._allowed_rsv = allowed_rsv
        self._tail = b""
        self._partial = None
        self._first = 0
        self._key = 0
        self._remaining = 0
        self._closed = False
        self._error = None
        self._events = None  # type: ignore[assignment]
        self._gate = [None]

    def feed(self, data: object) -> list[Any]:
        """Process received bytes; return the events they complete, in order.

        Args:
            data: any C-contiguous buffer (bytes is used without a copy).

        Raises:
            ProtocolError: the peer broke the protocol. Events this call
                completed before the error are on ``.events``; every later
                call raises the same error again.
            RuntimeError: another feed() on this decoder is running (another
                thread); this call consumed nothing.
            TypeError, ValueError: ``data`` is not a C-contiguous buffer.
        """
        # The test-and-set of the one-at-a-time rule: list.pop() is one C
        # call, atomic under the GIL (and under the list's own lock on a
        # free-threaded build), compiled or not, so no two calls can both
        # take the gate's only item, even while one runs without the GIL.
        gate = self._gate
        try:
            gate.pop()
        except IndexError:
            raise RuntimeError(
                f"{type(self).__name__}.feed() called while another feed() on it is running;"
                " a decoder must be fed by one thread at a time"
            ) from None
        try:
            if self._error is not None:
                raise ProtocolError(self._error[0], self._error[1])
            events: list[Any] = []
            self._events = events
            try:
                if type(data) is not bytes:
                    data = _to_bytes(data)  # TypeError/ValueError: not sticky
                if not self._closed:  # after a Close, later bytes are discarded (§5.5.1)
                    self._consume(data)
            except ProtocolError as exc:
                self._fail(exc.code, exc.reason)
                exc.events = events
                raise
            except MemoryError:
                # A buffer, the inflater or an event could not be allocated:
                # the peer sent more than this process can hold.
                self._fail(ERR_OUT_OF_MEMORY[0], ERR_OUT_OF_MEMORY[1])
                error = _protocol_error(ERR_OUT_OF_MEMORY)
                error.events = events
                raise error from None
            finally:
                self._events = None  # type: ignore[assignment]  # drop the references
            return events
        finally:
            gate.append(None)

    def _fail(self, code: int, reason: str) -> None:
        """Record the error every later feed() raises; free the stream's buffers now."""
        self._error = (code, reason)
        self._partial = None
        self._tail = b""
        self._drop()

    def _consume(self, data: bytes) -> None:
        end = len(data)
        pos = 0
        if self._partial is not None:
            pos = self._fill_payload(data, 0, end)
        while pos < end and not self._closed:
            tail = self._tail
            if tail:
                # Finish the header begun by an earlier call from at most 14
                # bytes: the rest of the buffer is never re-scanned or copied.
                head = tail + data[pos : pos + MAX_FRAME_HEADER - len(tail)]
                status, first, length, key = _frame_parse(
                    head, 0, len(head), self._allowed_rsv, self._masked, self._max_length
                )
                if status == 0:
                    self._tail = head  # shorter than 14 bytes, so data is used up
                    self._on_first_byte(head[0])
                    return
                self._tail = b""
                header_size = status - len(tail)
            else:
                status, first, length, key = _frame_parse(
                    data, pos, end, self._allowed_rsv, self._masked, self._max_length
                )
                if status == 0:
                    self._tail = data[pos:end]  # an incomplete header: < 14 bytes
                    self._on_first_byte(data[pos])
                    return
                header_size = status
            if status < 0:
                raise _protocol_error(FRAME_ERRORS[-status])
            pos += header_size
            self._on_header(first, length)
            available = end - pos
            if length <= available:
                # The whole payload is here: unmask it while copying it out.
                payload = _frame_unmask(data, pos, length, key)
                pos += length
                self._on_frame(first, payload, True)
            else:
                self._first = first
                self._key = key
                self._remaining = length
                try:
                    # One buffer, filled in place as the bytes arrive; it
                    # grows with them up to the declared size (within the
                    # limit already checked), so a header alone costs nothing.
                    self._partial = _new_payload(length)
                except OverflowError:
                    raise _protocol_error(FRAME_ERRORS[-FRAME_E_TOO_BIG]) from None
                pos = self._fill_payload(data, pos, end)

    def _fill_payload(self, data: bytes, pos: int, end: int) -> int:
        """Copy what is here of the pending payload; return the new position."""
        payload = self._partial
        n = end - pos
        n = min(n, self._remaining)
        payload.write(data, pos, n, self._key)
        self._remaining -= n
        self._on_chunk(payload)
        if self._remaining == 0:
            self._partial = None
            self._on_frame(self._first, payload.finish(), False)
        return pos + n

    # Events; the subclasses override them.
    def _drop(self) -> None:
        """Free the subclass's per-message state after an error."""

    def _on_first_byte(self, first: int) -> None:
        """Byte 0 of a header that is not complete yet, for rules it alone decides."""

    def _on_header(self, first: int, length: int) -> None:
        pass

    def _on_chunk(self, payload: Any) -> None:
        pass

    def _on_frame(self, first: int, payload: bytes, whole: bool) -> None:
        raise NotImplementedError


class FrameDecoder(_Reader):
    """Turns received bytes into :class:`Frame` objects (RFC 6455 §5).

    Args:
        role: "server" (frames must be masked) or "client" (must not be).
        max_frame_size: the largest payload accepted, refused from the header
            alone before any of it is buffered; None for no limit.
        allow_rsv: RSV bits claimed by an extension (0b100 = RSV1).

    Raises:
        TypeError, ValueError: an argument of the wrong type or value.

    ``feed(data)`` returns every frame completed so far, payloads unmasked,
    and raises :class:`~wsfast.ProtocolError` (1002 or 1009) as described in
    docs/api.md.

    Not thread-safe, but safe to misuse: one stream, one thread at a time.
    A ``feed`` that overlaps another on the same decoder raises RuntimeError
    and consumes nothing; it never mixes or loses frames.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        role: str = "server",
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        allow_rsv: int = 0,
    ) -> None:
        check_int("allow_rsv", allow_rsv, 0, 0b111)
        self._init_reader(role, _limit(max_frame_size, "max_frame_size"), allow_rsv)

    def _on_frame(self, first: int, payload: bytes, whole: bool) -> None:
        self._events.append(_new_frame(first, payload))


# ---- Messages (RFC 6455 §5.4-§5.6, §7) ------------------------------------------


class Message:
    """A complete data message, ping or pong. Immutable; compares by value.

    Args:
        opcode: TEXT, BINARY, PING or PONG.
        data: str for TEXT (bytes when decoded with ``decode_text=False``),
            bytes otherwise.

    Raises:
        TypeError: ``data`` has the wrong type.
        ValueError: ``opcode`` is not one of the four.
    """

    __slots__ = ("_data", "_opcode")
    _opcode: Opcode
    _data: str | bytes

    def __init__(self, opcode: int, data: object) -> None:
        value = _opcode_value(opcode)
        if value not in MESSAGE_OPCODES:
            raise ValueError(f"a Message cannot have opcode {OPCODES[value]!r}")
        self._opcode = OPCODES[value]
        if value == OP_TEXT and isinstance(data, str):
            self._data = str(data)
        else:
            self._data = data if type(data) is bytes else _to_bytes(data)

    @property
    def opcode(self) -> Opcode:
        """Opcode.TEXT, BINARY, PING or PONG."""
        return self._opcode

    @property
    def data(self) -> str | bytes:
        """str for TEXT (unless decode_text=False), bytes otherwise."""
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self._opcode == other._opcode and self._data == other._data

    def __hash__(self) -> int:
        return hash((self._opcode, self._data))

    def __repr__(self) -> str:
        return f"Message({_opcode_name(self._opcode)}, {_preview(self._data)})"


def _new_message(opcode: Opcode, data: str | bytes) -> Message:
    message = Message.__new__(Message)
    message._opcode = opcode
    message._data = data
    return message


class Close:
    """A close frame (RFC 6455 §5.5.1, §7.4). Immutable; compares by value.

    Args:
        code: the status code, or None when the frame had no payload.
        reason: the reason (empty unless there is a code).
    """

    __slots__ = ("_code", "_reason")
    _code: int | None
    _reason: str

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        if code is not None:
            code = operator.index(code)
        if type(reason) is not str:
            raise TypeError(f"reason must be a str, not {type(reason).__name__}")
        self._code = code
        self._reason = reason

    @property
    def code(self) -> int | None:
        """The status code, or None when the close frame had no payload."""
        return self._code

    @property
    def reason(self) -> str:
        """The reason, decoded from UTF-8."""
        return self._reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Close):
            return NotImplemented
        return self._code == other._code and self._reason == other._reason

    def __hash__(self) -> int:
        return hash((self._code, self._reason))

    def __repr__(self) -> str:
        return f"Close({self._code!r}, {self._reason!r})"


class Decoder(_Reader):
    """Turns received bytes into :class:`Message` and :class:`Close` events.

    Reassembles fragmented messages (control frames may come between the
    fragments, §5.4), validates text as it arrives (fail-fast, even within a
    frame), parses close frames (§5.5.1, §7.4) and inflates
    permessage-deflate messages (RFC 7692).

    Args:
        role: "server" (frames must be masked) or "client" (must not be).
        max_message_size: the largest message accepted, counted across
            fragments and after decompression; None for no limit.
        deflate: a negotiated :class:`~wsfast.PerMessageDeflate`, or None.
        decode_text: False delivers TEXT data as validated UTF-8 bytes.

    Raises:
        TypeError, ValueError: an argument of the wrong type or value.

    Not thread-safe, but safe to misuse: one stream, one thread at a time.
    A ``feed`` that overlaps another on the same decoder raises RuntimeError
    and consumes nothing; it never mixes or loses messages. (Its inflater is
    its own, so it is covered too.)
    """

    __slots__ = (
        "_buffer",
        "_compressed",
        "_decode_text",
        "_inflater",
        "_max_message",
        "_message_opcode",
        "_message_size",
        "_utf8_state",
    )
    _decode_text: bool
    _max_message: int
    _message_opcode: int
    _compressed: bool
    _message_size: int
    _utf8_state: int
    _buffer: Any  # a _Payload of the backend: the message so far, or None
    _inflater: Any

    def __init__(
        self,
        *,
        role: str = "server",
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        deflate: Any = None,
        decode_text: bool = True,
    ) -> None:
        max_message = _limit(max_message_size, "max_message_size")
        self._decode_text = check_flag("decode_text", decode_text)
        self._max_message = max_message
        self._message_opcode = 0  # opcode of the unfinished data message, 0 for none
        self._compressed = False
        self._message_size = 0
        self._utf8_state = UTF8_ACCEPT
        self._buffer = None  # the fragments received so far
        # The frame parser's limit: control frames (<= 125 bytes) never count
        # against max_message_size; _header checks data frames against it.
        max_frame = max(max_message, MAX_CONTROL_PAYLOAD)
        if deflate is None:
            self._inflater = None
            self._init_reader(role, max_frame, 0)
        else:
            _is_server(role)
            inflater = getattr(deflate, "_inflater", None)
            if inflater is None:
                raise TypeError(
                    f"deflate must be a PerMessageDeflate or None, not {type(deflate).__name__}"
                )
            self._inflater = inflater(role)
            if max_frame != NO_LIMIT:
                # A compressed frame may be longer than the message it
                # inflates to: as long as a deflater can make it.
                max_frame = min(self._inflater.frame_limit(max_frame), NO_LIMIT)
            self._init_reader(role, max_frame, 0b100)  # RFC 7692 claims RSV1

    def _on_first_byte(self, first: int) -> None:
        # The message rules byte 0 decides (RFC 6455 §5.4; RFC 7692 §6: RSV1
        # marks the first frame of a compressed message, and only that one).
        opcode = first & OPCODE_MASK
        if opcode & CONTROL or opcode == OP_CONTINUATION:
            if first & RSV1:
                raise _protocol_error(ERR_RSV1)
            if opcode == OP_CONTINUATION and not self._message_opcode:
                raise _protocol_error(ERR_CONTINUATION)
        elif self._message_opcode:
            raise _protocol_error(ERR_EXPECTED_CONTINUATION)

    def _on_header(self, first: int, length: int) -> None:
        # Checked before the payload is buffered.
        self._on_first_byte(first)
        opcode = first & OPCODE_MASK
        if opcode & CONTROL:
            return
        if opcode != OP_CONTINUATION:
            self._message_opcode = opcode
            self._compressed = bool(first & RSV1)
            self._message_size = 0
            self._utf8_state = UTF8_ACCEPT
        # Compressed sizes are counted after inflating, in _on_frame.
        if not self._compressed and length > self._max_message - self._message_size:
            raise _protocol_error(ERR_MESSAGE_TOO_BIG)

    def _on_chunk(self, payload: Any) -> None:
        # Fail fast inside a frame that arrives in pieces (Autobahn 6.4.x).
        if self._message_opcode == OP_TEXT and not self._compressed and not self._first & CONTROL:
            self._utf8_state = payload.utf8(self._utf8_state)
            if self._utf8_state == UTF8_REJECT:
                raise _protocol_error(ERR_TEXT)

    def _on_frame(self, first: int, payload: bytes, whole: bool) -> None:
        opcode = first & OPCODE_MASK
        if opcode & CONTROL:
            if opcode == OP_CLOSE:
                self._close(payload)
            else:
                self._events.append(_new_message(OPCODES[opcode], payload))
            return
        if first & FIN and not self._compressed and self._buffer is None:
            # A message in one frame, the common case: no reassembly.
            self._whole(payload, whole)
            return
        self._fragment(first, payload, whole)

    def _whole(self, payload: bytes, unchecked: bool) -> None:
        """Deliver a complete message; ``unchecked``: its text is not validated yet."""
        opcode = self._message_opcode
        self._message_opcode = 0
        if opcode == OP_TEXT:
            if self._decode_text:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    raise _protocol_error(ERR_TEXT)
                self._events.append(_new_message(OPCODES[OP_TEXT], text))
                return
            if unchecked:
                self._utf8_state = _utf8_feed(UTF8_ACCEPT, payload, 0, len(payload))
            if self._utf8_state != UTF8_ACCEPT:
                raise _protocol_error(ERR_TEXT)
        self._events.append(_new_message(OPCODES[opcode], payload))

    def _fragment(self, first: int, payload: bytes, whole: bool) -> None:
        """A fragment of a message, or a compressed message."""
        fin = bool(first & FIN)
        buffer = self._buffer
        if buffer is None:
            # Grows with the message, up to the limit: never sized by a header.
            buffer = self._buffer = _new_buffer(min(self._max_message, MAX_BUFFER))
        if self._compressed:
            limit = None
            if self._max_message != NO_LIMIT:
                limit = self._max_message - self._message_size
            # Inflated straight into the message buffer, unless it is a whole
            # message that one zlib call produced.
            output = self._inflater.inflate_into(payload, fin, limit, buffer)
            if output is not None:
                self._buffer = None
                self._whole(output, True)
                return
            self._message_size = buffer._fill
            if self._message_opcode == OP_TEXT:
                self._utf8_state = buffer.utf8(self._utf8_state)
                if self._utf8_state == UTF8_REJECT:
                    raise _protocol_error(ERR_TEXT)
        else:
            size = len(payload)
            if size > self._max_message - self._message_size:
                raise _protocol_error(ERR_MESSAGE_TOO_BIG)  # _on_header's check, kept as a guard
            self._message_size += size
            if self._message_opcode == OP_TEXT and whole:
                self._utf8_state = _utf8_feed(self._utf8_state, payload, 0, size)
                if self._utf8_state == UTF8_REJECT:
                    raise _protocol_error(ERR_TEXT)
            buffer.write(payload, 0, size, 0)
        if not fin:
            return
        opcode = self._message_opcode
        self._message_opcode = 0
        self._buffer = None
        data = buffer.finish()  # the buffer's own bytes object: no copy
        if opcode == OP_TEXT:
            if self._utf8_state != UTF8_ACCEPT:
                raise _protocol_error(ERR_TEXT)  # the message ends inside a code point
            if self._decode_text:
                self._events.append(_new_message(OPCODES[OP_TEXT], data.decode("utf-8")))
                return
        self._events.append(_new_message(OPCODES[opcode], data))

    def _drop(self) -> None:
        self._message_opcode = 0
        self._buffer = None
        self._inflater = None

    def _close(self, payload: bytes) -> None:
        # §5.5.1: an optional 2-byte code, then a UTF-8 reason; §7.4: codes.
        n = len(payload)
        code = None
        reason = ""
        if n == 1:
            raise _protocol_error(ERR_CLOSE_ONE_BYTE)
        if n >= 2:
            code = (payload[0] << 8) | payload[1]
            if not is_valid_close_code(code):
                raise _protocol_error(ERR_CLOSE_CODE)
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise _protocol_error(ERR_CLOSE_REASON)
        # The unfinished message, if any, is abandoned with the connection.
        self._message_opcode = 0
        self._buffer = None
        self._closed = True
        close = Close.__new__(Close)
        close._code = code
        close._reason = reason
        self._events.append(close)


# ---- Encoding messages ---------------------------------------------------------------


class Encoder:
    """Turns messages into wire bytes (RFC 6455 §5, §7; RFC 7692).

    Args:
        role: "server" (frames unmasked) or "client" (every frame masked
            with a fresh ``os.urandom`` key, §5.3).
        deflate: a negotiated :class:`~wsfast.PerMessageDeflate`, or None.

    Raises:
        TypeError, ValueError: an argument of the wrong type or value.

    Threads: without deflate an Encoder keeps no state, so threads may share
    it; each call returns whole, independent frames. With deflate the
    messages share one compression context (RFC 7692 §7.2.1), so they must
    be sent in the order they were encoded: hold one lock around encoding
    and sending. Overlapping calls raise RuntimeError rather than mix two
    messages in one payload.
    """

    __slots__ = ("_deflater", "_mask")
    _mask: bool
    _deflater: Any

    def __init__(self, *, role: str = "server", deflate: Any = None) -> None:
        self._mask = not _is_server(role)
        if deflate is None:
            self._deflater = None
        else:
            deflater = getattr(deflate, "_deflater", None)
            if deflater is None:
                raise TypeError(
                    f"deflate must be a PerMessageDeflate or None, not {type(deflate).__name__}"
                )
            self._deflater = deflater(role)

    def text(self, s: str, *, fragment_size: int | None = None) -> bytes:
        """A text message.

        Raises:
            TypeError: ``s`` is not a str.
            ValueError: ``s`` is not encodable (lone surrogates), or a bad ``fragment_size``.
        """
        return self._encode(OP_TEXT, _text_payload(s), fragment_size)

    def binary(self, data: object, *, fragment_size: int | None = None) -> bytes:
        """A binary message.

        Raises:
            TypeError: ``data`` is not a buffer.
            ValueError: ``data`` is not contiguous, or a bad ``fragment_size``.
        """
        # bytes, the common case, needs no view: _frame_build reads it directly.
        payload = data if type(data) is bytes else byte_view(data, "data")
        return self._encode(OP_BINARY, payload, fragment_size)

    def text_parts(self, s: str, *, fragment_size: int | None = None) -> list[Any]:
        """A text message as a list of buffers, for ``writev``/``writelines``.

        Same as :meth:`binary_parts` for :meth:`text`: the parts joined are
        exactly ``text(s, fragment_size=...)``; the payload parts are the one
        UTF-8 encoding of ``s`` (or slices of it), not a second copy.

        Raises:
            TypeError, ValueError: exactly as :meth:`text` raises them.
        """
        return self._parts(OP_TEXT, _text_payload(s), fragment_size)

    def binary_parts(self, data: object, *, fragment_size: int | None = None) -> list[Any]:
        """A binary message as a list of buffers, for ``writev``/``writelines``.

        The parts joined are exactly ``binary(data, fragment_size=...)``. For
        a server (unmasked frames) without deflate, nothing is copied: the
        list alternates each frame's header (bytes) and its payload, which is
        ``data`` itself when it is ``bytes`` and a zero-copy ``memoryview`` of
        it otherwise (a slice of it per fragment). Writing them with
        ``os.writev`` or ``transport.writelines`` saves the copy of the
        payload that :meth:`binary` makes (picows, aiohttp do the same for
        large messages). Lifetime: the parts share ``data``'s memory, so do
        not modify a mutable ``data`` until every part has been written
        (an asyncio transport may keep a reference to unsent parts).

        A client (masked frames) or an Encoder with deflate must transform
        the payload anyway: it returns ``[binary(data, fragment_size=...)]``.

        Raises:
            TypeError, ValueError: exactly as :meth:`binary` raises them.
        """
        payload = data if type(data) is bytes else byte_view(data, "data")
        return self._parts(OP_BINARY, payload, fragment_size)

    def ping(self, data: object = b"") -> bytes:
        """A ping (at most 125 bytes)."""
        return self._control(OP_PING, data)

    def pong(self, data: object = b"") -> bytes:
        """A pong (at most 125 bytes)."""
        return self._control(OP_PONG, data)

    def close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A close frame (§5.5.1); ``code=None`` sends an empty payload.

        Raises:
            ValueError: a code not allowed on the wire (§7.4), a reason with no
                code, or a reason over 123 bytes of UTF-8.
            TypeError: ``reason`` is not a str or ``code`` not an int.
        """
        if type(reason) is not str:
            raise TypeError(f"reason must be a str, not {type(reason).__name__}")
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            return self._control(OP_CLOSE, b"")
        if type(code) is bool:
            raise TypeError("code must be an int, not bool")
        code = operator.index(code)
        if not is_valid_close_code(code):
            raise ValueError(f"invalid close code {code}")
        encoded = reason.encode("utf-8")
        if len(encoded) > MAX_CLOSE_REASON:
            raise ValueError(f"close reason over {MAX_CLOSE_REASON} bytes of UTF-8")
        return self._control(OP_CLOSE, code.to_bytes(2, "big") + encoded)

    def _key(self) -> bytes | None:
        return os.urandom(4) if self._mask else None

    def _control(self, opcode: int, data: object) -> bytes:
        view = byte_view(data, "data")
        if view.nbytes > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"control frame payload over {MAX_CONTROL_PAYLOAD} bytes")
        return _frame_build(FIN | opcode, view, self._key())

    def _encode(self, opcode: int, payload: Any, fragment_size: object) -> bytes:
        size = _fragment_limit(fragment_size)
        rsv = 0
        if self._deflater is not None:
            compressed = self._deflater.compress_message(payload)
            if compressed is not None:
                payload = compressed
                rsv = RSV1  # RFC 7692 §6: RSV1 on the first frame only
        n = len(payload)
        if size == 0 or n <= size:
            return _frame_build(FIN | rsv | opcode, payload, self._key())
        view = memoryview(payload)
        frames = []
        first = rsv | opcode
        for start in range(0, n, size):
            stop = start + size
            frames.append(
                _frame_build((FIN if stop >= n else 0) | first, view[start:stop], self._key())
            )
            first = OP_CONTINUATION
        return b"".join(frames)

    def _parts(self, opcode: int, payload: Any, fragment_size: object) -> list[Any]:
        if self._mask or self._deflater is not None:
            # Masking or compressing writes a new payload anyway: one buffer.
            return [self._encode(opcode, payload, fragment_size)]
        size = _fragment_limit(fragment_size)
        n = len(payload)
        if size == 0 or n <= size:
            return [_frame_header(FIN | opcode, n, None), payload]
        view = memoryview(payload)
        parts: list[Any] = []
        first = opcode
        for start in range(0, n, size):
            stop = start + size
            if stop >= n:
                parts.append(_frame_header(FIN | first, n - start, None))
            else:
                parts.append(_frame_header(first, size, None))
            parts.append(view[start:stop])
            first = OP_CONTINUATION
        return parts


def _text_payload(s: object) -> bytes:
    """The payload of a text message (TypeError/ValueError as text() documents)."""
    if not isinstance(s, str):
        raise TypeError(f"text must be a str, not {type(s).__name__}")
    return s.encode("utf-8")


def _fragment_limit(fragment_size: object) -> int:
    """The checked ``fragment_size`` argument; 0 for None (no fragmenting)."""
    if fragment_size is None:
        return 0
    if type(fragment_size) is bool or not isinstance(fragment_size, int):
        raise TypeError(f"fragment_size must be an int or None, not {type(fragment_size).__name__}")
    if fragment_size < 1:
        raise ValueError(f"fragment_size must be >= 1, not {fragment_size}")
    return int(fragment_size)
