"""Patches for wsproto's frame protocol (``wsproto.frame_protocol``).

- ``XorMaskerSimple``: :class:`Masker`, which unmasks with wsfast's kernel and
  continues the key phase across ``process`` calls (a payload that arrives in
  several pieces).
- ``getincrementaldecoder`` (the module's own binding, used for each text
  message): the fail-fast :class:`~wsfast._adapters.Utf8IncrementalDecoder`,
  still returning ``str`` and raising ``UnicodeDecodeError``.
- ``FrameDecoder.parse_header``: the same checks, in the same order, with the
  same exceptions and messages, reading the header straight from the buffer
  with wsfast's frame header parser instead of through three
  ``consume_exactly`` calls, a ``struct`` unpack and an enum call. It runs the
  original for anything it does not take over: a buffer subclass, a header
  that is not complete, or any header error before the extensions are
  consulted.
- ``Connection.send`` of a text or binary message on an open connection with
  no extension: wsproto's ``send_data`` steps (the same opcode and
  continuation bookkeeping, the same ``TypeError`` errors), then header and
  payload written into one ``bytes`` by wsfast, masked in the same pass on
  a client (key from ``os.urandom``, as wsproto). wsproto copies the
  payload four times on that path. Anything else runs the original.
- ``FrameDecoder.process_buffer``: with no extension and the rest of the
  frame's payload already buffered, the payload is unmasked straight out of
  the buffer into the frame's ``bytes`` (one copy instead of four); anything
  else runs the original. A frame whose payload is only partly buffered is
  delivered as far as it goes, as wsproto does, with the same single copy.
- ``FrameProtocol._parse_more_gen`` (the generator behind
  ``received_frames``, made per connection): a whole unfragmented text or
  binary message that is already buffered, on a connection with no
  extension and no message in progress, is parsed, unmasked and decoded in
  one step, leaving the frame and message decoders in the state wsproto's
  own steps leave them in. Every other frame (control frames, fragments,
  partial payloads, anything that fails a check) goes through wsproto's
  steps: ``process_buffer``, ``MessageDecoder.process_frame``,
  ``_process_close``.
- ``Connection.events``: wsproto's loop, reading the frame generator
  directly instead of through ``received_frames``; ``Connection.receive_data``
  appends to the frame buffer directly. Both run the original for any
  subclass of wsproto's protocol, decoder or buffer.
- ``WSConnection.events`` (what uvicorn iterates): the handshake's queued
  events read directly, then the connection's events, as wsproto does.
"""

from __future__ import annotations

import codecs
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from .._adapters import getincrementaldecoder
from .._backend import impl
from ..constants import MAX_FRAME_HEADER, NO_LIMIT
from . import Patch

__all__ = ["Masker", "patches"]

_mask = impl.mask
_utf_8_decode = codecs.utf_8_decode


class Masker:
    """wsproto's ``XorMaskerSimple``: ``process(bytearray) -> bytearray``, the key
    phase continuing from the previous call.

    Args:
        masking_key: the 4-byte key from the frame header (RFC 6455 §5.3).
    """

    __slots__ = ("_key", "_offset")

    def __init__(self, masking_key: bytes | bytearray) -> None:
        self._key = bytes(masking_key)
        self._offset = 0

    def process(self, data: Any) -> bytearray:
        """Return a masked copy of ``data`` as a ``bytearray``."""
        result = bytearray(data)
        self._offset = impl.mask_inplace(result, self._key, self._offset)
        return result

    def process_bytes(self, data: Any) -> bytes:
        """Return a masked copy of ``data`` as ``bytes``, the key phase continuing."""
        offset = self._offset
        key = self._key[offset:] + self._key[:offset] if offset else self._key
        self._offset = (offset + len(data)) % 4
        result: bytes = _mask(data, key)
        return result


def _fast_parse_header(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    from wsproto import frame_protocol as fp

    buffer_class = fp.Buffer
    header_class = fp.Header
    rsv_class = fp.RsvBits
    parse_failed = fp.ParseFailed
    frame_parse = impl._frame_parse
    # Opcode members indexed by value (the parser refuses reserved opcodes).
    opcodes: tuple[Any, ...] = tuple(fp.Opcode._value2member_map_.get(value) for value in range(16))

    def parse_header(self: Any) -> bool:
        # RFC 6455 §5.2. Everything up to extension_processing() only reads;
        # on an error or a short header the original runs from the start and
        # raises (or waits) exactly as wsproto does.
        buffer = self.buffer
        if type(buffer) is not buffer_class or buffer.bytes_used:
            return original(self)
        data = buffer.buffer
        # wsproto checks the RSV bits (extension_processing) and the masking
        # (below) after the length: the parser takes any, and the frame's own
        # MASK bit as expected.
        has_mask = len(data) > 1 and data[1] & 0x80 != 0
        # The primitive itself, not _adapters.parse_header: wsproto's buffer
        # is a bytearray, which it reads in place (anything else: original).
        size, first, length, _ = frame_parse(data, 0, MAX_FRAME_HEADER, 0b111, has_mask, NO_LIMIT)
        if size <= 0:
            return original(self)
        opcode = opcodes[first & 0x0F]
        fin = first & 0x80 != 0
        rsv = rsv_class(first & 0x40 != 0, first & 0x20 != 0, first & 0x10 != 0)
        # From here on the original has consumed the length bytes, and the
        # extensions see the header: same state, same calls.
        start = size - 4 if has_mask else size
        buffer.bytes_used = start
        self.extension_processing(opcode, rsv, length)
        if has_mask and self.client:
            raise parse_failed("client received unexpected masked frame")
        if not has_mask and not self.client:
            raise parse_failed("server received unexpected unmasked frame")
        if has_mask:
            buffer.bytes_used = size
            self.masker = fp.XorMaskerSimple(data[start:size])
        else:
            self.masker = fp.XorMaskerNull()
        buffer.commit()
        self.header = header_class(fin, rsv, opcode, length, None)
        self.effective_opcode = opcode
        self.payload_required = length if first & 0x08 else 0
        self.payload_consumed = 0
        return True

    return parse_header


def _fast_send(original: Callable[[Any, Any], bytes]) -> Callable[[Any, Any], bytes]:
    from wsproto.connection import ConnectionState
    from wsproto.events import BytesMessage, Message, TextMessage
    from wsproto.frame_protocol import Opcode

    messages = (Message, TextMessage, BytesMessage)  # uvicorn sends Message itself
    state_open = ConnectionState.OPEN
    binary, text, continuation = Opcode.BINARY, Opcode.TEXT, Opcode.CONTINUATION
    build = impl._frame_build

    def send(self: Any, event: Any) -> bytes:
        proto = self._proto
        if type(event) not in messages or self.state != state_open or proto.extensions:
            return original(self, event)
        # FrameProtocol.send_data, step for step.
        payload = event.data
        fin = event.message_finished
        if isinstance(payload, (bytes, bytearray, memoryview)):
            opcode = binary
        elif isinstance(payload, str):
            opcode = text
            payload = payload.encode("utf-8")
        else:
            msg = "Must provide bytes or text"
            raise TypeError(msg)
        if proto._outbound_opcode is None:
            proto._outbound_opcode = opcode
        elif proto._outbound_opcode is not opcode:
            msg = "Data type mismatch inside message"
            raise TypeError(msg)
        else:
            opcode = continuation
        if fin:
            proto._outbound_opcode = None
        if type(payload) is memoryview:
            payload = payload.tobytes()  # any shape or format, as bytearray() takes it
        frame: bytes = build((0x80 if fin else 0) | opcode, payload,
                             os.urandom(4) if proto.client else None)
        return frame

    return send


def _fast_process_buffer(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from wsproto import frame_protocol as fp

    buffer_class = fp.Buffer
    frame_class = fp.Frame
    null_masker = fp.XorMaskerNull
    continuation = fp.Opcode.CONTINUATION

    def process_buffer(self: Any) -> Any:
        if not self.header and not self.parse_header():
            return None
        header = self.header
        masker = self.masker
        buffer = self.buffer
        remaining = header.payload_len - self.payload_consumed
        start = buffer.bytes_used
        data = buffer.buffer
        available = len(data) - start
        if (self.extensions or type(buffer) is not buffer_class or not remaining
                or available <= 0 or len(data) < self.payload_required
                or type(masker) not in (Masker, null_masker)):
            return original(self)
        # What consume_at_most, commit and process do, in one copy: the rest
        # of the payload, or as much of it as is here.
        count = remaining if available >= remaining else available
        end = start + count
        with memoryview(data) as view:
            if type(masker) is Masker:
                payload = masker.process_bytes(view[start:end])
            else:
                payload = view[start:end].tobytes()
        del data[:end]
        buffer.bytes_used = 0
        self.payload_consumed += count
        if count < remaining:
            frame = frame_class(self.effective_opcode, payload, False, header.fin)
            self.effective_opcode = continuation
            return frame
        frame = frame_class(self.effective_opcode, payload, True, header.fin)
        self.header = None
        self.effective_opcode = None
        self.masker = None
        return frame

    return process_buffer


def _fast_parse_more_gen(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from wsproto import frame_protocol as fp

    decoder_class = fp.FrameDecoder
    buffer_class = fp.Buffer
    message_decoder_class = fp.MessageDecoder
    new_frame = tuple.__new__  # Frame is a NamedTuple: the same object, without its __new__
    frame_class = fp.Frame
    parse_failed = fp.ParseFailed
    invalid_payload = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
    close_opcode = fp.Opcode.CLOSE
    text, binary = fp.Opcode.TEXT, fp.Opcode.BINARY
    frame_parse = impl._frame_parse

    def _parse_more_gen(self: Any) -> Any:
        # wsproto's generator, step for step; a whole buffered message takes
        # the short way.
        self.extensions = [ext for ext in self.extensions if ext.enabled()]
        closed = False
        while not closed:
            decoder = self._frame_decoder
            messages = self._message_decoder
            if (type(decoder) is decoder_class and decoder.header is None
                    and not decoder.extensions and type(messages) is message_decoder_class
                    and messages.opcode is None and messages.decoder is None):
                buffer = decoder.buffer
                data = buffer.buffer
                if type(buffer) is buffer_class and not buffer.bytes_used:
                    if len(data) < 2:
                        yield None  # what parse_header's consume_exactly(2) finds
                        continue
                    # FIN set, no RSV bit, masked as the role expects (or a
                    # negative status): anything else takes wsproto's steps.
                    size, first, length, _ = frame_parse(data, 0, MAX_FRAME_HEADER, 0,
                                                         not decoder.client, NO_LIMIT)
                    end = size + length
                    if size > 0 and first in (0x81, 0x82) and len(data) >= end:
                        with memoryview(data) as view:
                            if decoder.client:
                                payload = view[size:end].tobytes()
                            else:
                                payload = _mask(view[size:end], data[size - 4:size])
                        del data[:end]
                        # The state process_buffer leaves after a whole frame.
                        decoder.payload_required = 0
                        decoder.payload_consumed = length
                        decoder.masker = None
                        decoder.effective_opcode = None
                        if first == 0x82:
                            yield new_frame(frame_class, (binary, payload, True, True))
                            continue
                        try:
                            string = _utf_8_decode(payload, "strict", True)[0]
                        except UnicodeDecodeError as exc:
                            # What MessageDecoder leaves behind on a decoding error.
                            messages.opcode = text
                            messages.decoder = vars(fp)["getincrementaldecoder"]("utf-8")()
                            raise parse_failed(str(exc), invalid_payload)  # noqa: B904 (as wsproto)
                        yield new_frame(frame_class, (text, string, True, True))
                        continue
            frame = decoder.process_buffer()
            if frame is not None:
                if not frame.opcode.iscontrol():
                    frame = messages.process_frame(frame)
                elif frame.opcode == close_opcode:
                    frame = self._process_close(frame)
                    closed = True
            yield frame

    return _parse_more_gen


def _fast_events(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from wsproto import frame_protocol as fp
    from wsproto.connection import ConnectionState
    from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

    protocol_class = fp.FrameProtocol
    own = vars(protocol_class)["received_frames"]  # the loop below stands for it
    parse_failed = fp.ParseFailed
    text, binary = fp.Opcode.TEXT, fp.Opcode.BINARY
    ping, pong, close = fp.Opcode.PING, fp.Opcode.PONG, fp.Opcode.CLOSE
    local_closing, remote_closing = ConnectionState.LOCAL_CLOSING, ConnectionState.REMOTE_CLOSING
    closed_state = ConnectionState.CLOSED

    def events(self: Any) -> Any:
        proto = self._proto
        if type(proto) is not protocol_class or vars(protocol_class)["received_frames"] is not own:
            yield from original(self)
            return
        queued = self._events
        while queued:
            yield queued.popleft()
        # wsproto's loop over received_frames(), which is this loop over
        # the protocol's frame generator up to its first None.
        try:
            for frame in self._proto._parse_more:
                if frame is None:
                    break
                opcode = frame.opcode
                if opcode is text:
                    assert isinstance(frame.payload, str)
                    yield TextMessage(data=frame.payload, frame_finished=frame.frame_finished,
                                      message_finished=frame.message_finished)
                elif opcode is binary:
                    assert isinstance(frame.payload, (bytes, bytearray))
                    yield BytesMessage(data=frame.payload, frame_finished=frame.frame_finished,
                                       message_finished=frame.message_finished)
                elif opcode is ping:
                    assert frame.frame_finished
                    assert frame.message_finished
                    assert isinstance(frame.payload, (bytes, bytearray))
                    yield Ping(payload=frame.payload)  # type: ignore[arg-type] # as wsproto
                elif opcode is pong:
                    assert frame.frame_finished
                    assert frame.message_finished
                    assert isinstance(frame.payload, (bytes, bytearray))
                    yield Pong(payload=frame.payload)  # type: ignore[arg-type] # as wsproto
                elif opcode is close:
                    assert isinstance(frame.payload, tuple)
                    code, reason = frame.payload
                    if self.state is local_closing:
                        self._state = closed_state
                    else:
                        self._state = remote_closing
                    yield CloseConnection(code=code, reason=reason)
        except parse_failed as exc:
            yield CloseConnection(code=exc.code, reason=str(exc))

    return events


def _fast_ws_events(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from wsproto.handshake import H11Handshake

    own = vars(H11Handshake)["events"]  # the queue loop below stands for it

    def events(self: Any) -> Any:
        # WSConnection.events: the handshake's queued events (without the
        # handshake's generator), then the connection's.
        handshake = self.handshake
        if type(handshake) is H11Handshake and vars(H11Handshake)["events"] is own:
            queued = handshake._events
            while queued:
                yield queued.popleft()
        else:
            yield from handshake.events()
        if self.connection is not None:
            yield from self.connection.events()

    return events


def _fast_receive_data(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    from wsproto import frame_protocol as fp
    from wsproto.connection import ConnectionState

    protocol_class = fp.FrameProtocol
    decoder_class = fp.FrameDecoder
    buffer_class = fp.Buffer
    receiving = (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING)

    def receive_data(self: Any, data: Any) -> None:
        # receive_bytes -> FrameDecoder.receive_bytes -> Buffer.feed, inlined.
        proto = self._proto
        if (data is not None and type(proto) is protocol_class and self.state in receiving):
            decoder = proto._frame_decoder
            if type(decoder) is decoder_class:
                buffer = decoder.buffer
                if type(buffer) is buffer_class:
                    buffer.buffer += data
                    return
        original(self, data)

    return receive_data


def patches() -> Iterator[Patch]:
    """What ``install("wsproto")`` replaces."""
    from wsproto import frame_protocol

    yield (frame_protocol, "XorMaskerSimple", Masker)
    yield (frame_protocol, "getincrementaldecoder", getincrementaldecoder)
    decoder = frame_protocol.FrameDecoder
    yield (decoder, "parse_header", _fast_parse_header(vars(decoder)["parse_header"]))
    yield (decoder, "process_buffer", _fast_process_buffer(vars(decoder)["process_buffer"]))
    protocol = frame_protocol.FrameProtocol
    yield (protocol, "_parse_more_gen", _fast_parse_more_gen(vars(protocol)["_parse_more_gen"]))
    connection = importlib.import_module("wsproto.connection").Connection
    yield (connection, "send", _fast_send(vars(connection)["send"]))
    yield (connection, "events", _fast_events(vars(connection)["events"]))
    yield (connection, "receive_data", _fast_receive_data(vars(connection)["receive_data"]))
    ws_connection = importlib.import_module("wsproto").WSConnection
    yield (ws_connection, "events", _fast_ws_events(vars(ws_connection)["events"]))
