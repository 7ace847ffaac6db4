"""Frames and messages (RFC 6455 §5): decoding and encoding against the peers.

``decode``: one buffer of masked client frames (what a server reads), given
to a fresh decoder per call: 10,000 x 16 B binary frames, 10,000 x 125 B text
frames, 100 x 64 KiB and 10 x 1 MiB binary frames. Contenders: wsfast's
``Decoder`` and ``FrameDecoder`` (compiled and pure Python), aiohttp's
``WebSocketReader`` (its Cython-compiled ``reader_c``: frames, reassembly, text
decoding, queueing), websockets' sans-I/O ``Protocol`` (frames; it leaves text
decoding to its message assembler) and wsproto (``Connection`` events, and
its lower ``FrameProtocol``).

``encode``: the same payloads serialised as masked client frames, one call
per frame: wsfast's ``Encoder``, websockets' ``Frame.serialize`` and wsproto's
``FrameProtocol.send_data``.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

from . import Call, Case, Operation, Setup, dist_version

SIZES = (16, 125, 64 * 2**10, 2**20)
QUICK_SIZES = (16, 125, 64 * 2**10)
COUNTS = {16: 10_000, 125: 10_000, 64 * 2**10: 100, 2**20: 10}
TEXT_SIZES = (125,)  # the 125 B row is text (UTF-8 validated and decoded)


def _text_payload(size: int) -> str:
    """Text of exactly ``size`` UTF-8 bytes, one character in four two bytes long."""
    return "abcé" * (size // 5) + "a" * (size % 5)


def _mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if not n:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame written here from RFC 6455 §5.2 (independent of wsfast)."""
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return header + key + _mask(payload, key)


def make_case(size: int) -> Case:
    count = COUNTS[size]
    text = size in TEXT_SIZES
    payloads: list[Any]
    if text:
        message = _text_payload(size)
        payloads = [message] * count
        wire = b"".join(_client_frame(1, message.encode()) for _ in range(count))
    else:
        payloads = [os.urandom(size) for _ in range(min(count, 16))]
        payloads = [payloads[i % len(payloads)] for i in range(count)]
        wire = b"".join(_client_frame(2, p) for p in payloads)
    _settle_allocator(len(wire))
    return Case(size, nbytes=size * count, wire=wire, payloads=payloads, text=text)


def _settle_allocator(nbytes: int) -> None:
    """Free one buffer of the case's size before any contender is timed.

    glibc raises its mmap and trim thresholds the first time a large block
    is freed. Until then every decoder that frees its payloads hands the heap
    back to the kernel and page-faults it in again on the next call (one
    fault per 4 KiB), so whichever contender ran first in a process would be
    charged for the allocator warming up. This puts every contender in the
    same, warmed state.
    """
    block = bytearray(nbytes)
    del block


def reference(case: Case) -> list[bytes]:
    """What every decoder must deliver: the payloads, as bytes."""
    return [p.encode() if isinstance(p, str) else p for p in case.payloads]


def _as_bytes(items: Any) -> list[bytes]:
    return [bytes(x.encode() if isinstance(x, str) else x) for x in items]


_operation = functools.partial(
    Operation, family="frames", sizes=SIZES, quick_sizes=QUICK_SIZES, make_case=make_case,
    reference=reference, unit="frame", batch=COUNTS,
)  # fmt: skip
DECODE = _operation(
    "decode", description="a server reading one buffer of masked frames (count x size)"
)
ENCODE = _operation("encode", description="a client serialising masked frames, one call per frame")


def _codec(backend: str) -> Any:
    """``wsfast._codec_c`` (compiled) or ``wsfast._codec_py`` (pure Python)."""
    return importlib.import_module(f"wsfast._codec_{backend}")


def _decoder_loader(backend: str, frames: bool) -> Setup:
    """A fresh ``FrameDecoder`` (``frames``) or ``Decoder`` per call, without a size limit."""
    codec = _codec(backend)
    if frames:
        new = functools.partial(codec.FrameDecoder, max_frame_size=None)
    else:
        new = functools.partial(codec.Decoder, max_message_size=None)

    def decode(wire: bytes) -> list[Any]:
        return new().feed(wire)  # type: ignore[no-any-return]

    def payloads(events: list[Any]) -> list[bytes]:
        return _as_bytes(event.payload if frames else event.data for event in events)

    return lambda case: Call(decode, (case.wire,), output=payloads)


def _encoder_loader(backend: str) -> Setup:
    encoder = _codec(backend).Encoder(role="client")

    def setup(case: Case) -> Call:
        method = encoder.text if case.text else encoder.binary
        return Call(lambda ps: [method(p) for p in ps], (case.payloads,), output=_parse_client_frames)

    return setup


for _backend in ("c", "py"):
    DECODE.contender(f"wsfast Decoder ({_backend})", kind="wsfast", dist="wsfast")(
        functools.partial(_decoder_loader, _backend, False)
    )
    DECODE.contender(f"wsfast FrameDecoder ({_backend})", kind="wsfast", dist="wsfast")(
        functools.partial(_decoder_loader, _backend, True)
    )
    ENCODE.contender(f"wsfast Encoder ({_backend})", kind="wsfast", dist="wsfast")(
        functools.partial(_encoder_loader, _backend)
    )


def _parse_client_frames(wires: list[bytes]) -> list[bytes]:
    """Unmask single masked frames (checking the encoders, independently of wsfast)."""
    out = []
    for wire in wires:
        length = wire[1] & 0x7F
        start = 2 + (2 if length == 126 else 8 if length == 127 else 0)
        if not wire[1] & 0x80:
            raise ValueError("frame not masked")
        key = wire[start : start + 4]
        out.append(_mask(wire[start + 4 :], key))
    return out


@DECODE.contender("aiohttp", dist="aiohttp")
def _aiohttp() -> Setup:
    import asyncio

    try:
        from aiohttp._websocket.reader_c import (  # type: ignore[import-not-found, unused-ignore]
            WebSocketDataQueue,
            WebSocketReader,
        )
    except ImportError as exc:
        raise ImportError(f"aiohttp's compiled reader_c is not available ({exc})") from None

    class Protocol:
        _reading_paused = False

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    loop = asyncio.new_event_loop()
    protocol = Protocol()
    limit = 2**31 - 1  # the queue and reader store limits as C unsigned ints

    def new_reader() -> tuple[Any, Any]:
        queue = WebSocketDataQueue(protocol, limit, loop=loop)
        try:
            reader = WebSocketReader(queue, limit, False, True)  # compress, decode_text
        except TypeError:  # aiohttp < 3.11 has no decode_text argument
            reader = WebSocketReader(queue, limit, False)
        return queue, reader

    def decode(wire: bytes) -> Any:
        queue, reader = new_reader()
        reader.feed_data(wire)
        return queue

    def output(queue: Any) -> list[bytes]:
        # aiohttp >= 3.12 queues (message, size) pairs; earlier versions queue messages.
        messages: list[Any] = [
            item[0] if isinstance(item[0], tuple) else item for item in queue._buffer
        ]
        return _as_bytes(message.data for message in messages)

    return lambda case: Call(decode, (case.wire,), output=output)


@DECODE.contender("websockets", dist="websockets")
def _websockets() -> Setup:
    from websockets.protocol import SERVER, Protocol, State

    def decode(wire: bytes) -> list[Any]:
        protocol = Protocol(SERVER, state=State.OPEN, max_size=None)
        protocol.receive_data(wire)
        return protocol.events_received()

    return lambda case: Call(decode, (case.wire,), output=lambda fs: [bytes(f.data) for f in fs])


@DECODE.contender("wsproto", dist="wsproto")
def _wsproto() -> Setup:
    from wsproto import ConnectionType
    from wsproto.connection import Connection

    def decode(wire: bytes) -> list[Any]:
        connection = Connection(ConnectionType.SERVER)
        connection.receive_data(wire)
        return list(connection.events())

    return lambda case: Call(decode, (case.wire,), output=lambda es: _as_bytes(e.data for e in es))


@DECODE.contender("wsproto FrameProtocol", dist="wsproto")
def _wsproto_frames() -> Setup:
    from wsproto.frame_protocol import FrameProtocol

    def decode(wire: bytes) -> list[Any]:
        protocol = FrameProtocol(client=False, extensions=[])
        protocol.receive_bytes(wire)
        return list(protocol.received_frames())

    return lambda case: Call(decode, (case.wire,), output=lambda fs: _as_bytes(f.payload for f in fs))


@ENCODE.contender("websockets", dist="websockets")
def _websockets_encode() -> Setup:
    from websockets.frames import Frame, Opcode

    def setup(case: Case) -> Call:
        opcode = Opcode.TEXT if case.text else Opcode.BINARY
        payloads = [p.encode() if isinstance(p, str) else p for p in case.payloads]
        return Call(
            lambda ps: [Frame(opcode, p).serialize(mask=True, extensions=[]) for p in ps],
            (payloads,),
            output=_parse_client_frames,
        )

    return setup


@ENCODE.contender("wsproto", dist="wsproto")
def _wsproto_encode() -> Setup:
    from wsproto.frame_protocol import FrameProtocol

    def setup(case: Case) -> Call:
        protocol = FrameProtocol(client=True, extensions=[])
        send = protocol.send_data
        return Call(lambda ps: [send(p, True) for p in ps], (case.payloads,), output=_parse_client_frames)

    return setup


# The upgrade request a browser sends (RFC 6455 §1.3 example key).
_UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@DECODE.contender("picows", dist="picows")
def _picows() -> Setup:
    """picows' server protocol, fed the way asyncio's event loop feeds it.

    picows parses in ``WSProtocol``, an ``asyncio.BufferedProtocol``: the loop
    asks it for a buffer (``get_buffer``), reads the socket into it and calls
    ``buffer_updated(n)``, which parses every complete frame and calls the
    listener's ``on_ws_frame``. Here the "socket read" is a copy of the wire
    into that buffer, as ``sock.recv_into`` would do. One connection is
    opened (handshake included) when the contender is set up; each call then
    reads one batch of frames on it. Text frames are decoded with
    ``get_payload_as_utf8_text()``, binary ones copied with
    ``get_payload_as_bytes()``, as a listener that keeps the messages does.
    """
    import asyncio
    import logging
    import socket
    import weakref

    picows = importlib.import_module("picows")
    protocol_module = importlib.import_module("picows.picows")
    text_type = picows.WSMsgType.TEXT

    class Listener(picows.WSListener):  # type: ignore[misc, name-defined, unused-ignore]
        def __init__(self) -> None:
            self.received: list[Any] = []

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == text_type:
                self.received.append(frame.get_payload_as_utf8_text())
            else:
                self.received.append(frame.get_payload_as_bytes())

    class Transport(asyncio.Transport):
        """What the event loop hands the protocol; writes (the handshake answer) are kept."""

        def __init__(self) -> None:
            super().__init__()
            # picows sets TCP options on the socket: an unconnected one, no traffic.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.written: list[bytes] = []

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return {"socket": self.sock, "peername": ("127.0.0.1", 1),
                    "sockname": ("127.0.0.1", 2)}.get(name, default)  # fmt: skip

        def write(self, data: Any) -> None:
            self.written.append(bytes(data))

        def writelines(self, lines: Any) -> None:
            for line in lines:
                self.write(line)

        def get_write_buffer_size(self) -> int:
            return 0

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            self.sock.close()

        def abort(self) -> None:
            self.sock.close()

    listener = Listener()
    logger = logging.getLogger("picows.bench")
    logger.setLevel(logging.WARNING)
    transport = Transport()

    async def connect() -> Any:
        try:
            protocol = protocol_module.WSProtocol(
                None, None, False, lambda request: listener, logger, True,
                None, False, 10.0, 10.0, picows.WSAutoPingStrategy.PING_WHEN_IDLE,
                False, 2**31 - 1, None, 16 * 1024,
            )  # fmt: skip
        except TypeError as exc:  # another picows version, another constructor
            raise ImportError(f"picows {dist_version('picows')}: {exc}") from None
        protocol.connection_made(transport)
        return protocol

    loop = asyncio.new_event_loop()
    try:
        protocol = loop.run_until_complete(connect())
    except BaseException:
        transport.close()
        raise
    finally:
        loop.close()
    get_buffer, buffer_updated = protocol.get_buffer, protocol.buffer_updated

    def receive(wire: bytes) -> list[Any]:
        listener.received = []
        view = memoryview(wire)
        while view:
            buffer = get_buffer(-1)  # asyncio's selector loop asks with -1
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            buffer_updated(n)
            view = view[n:]
        return listener.received

    # The socket lives as long as the connection (closed at exit at the latest).
    weakref.finalize(receive, transport.close)
    receive(_UPGRADE)
    if not transport.written or not transport.written[0].startswith(b"HTTP/1.1 101"):
        raise ImportError("picows did not accept the upgrade request")
    return lambda case: Call(receive, (case.wire,), output=_as_bytes)
