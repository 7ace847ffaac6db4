"""wsfast.integrations patches on the servers' receive and send paths.

Differential, as in test_integrations.py: each library is driven with the same
input as shipped and with wsfast installed, and what it delivers, returns and
raises must be the same.
"""

from __future__ import annotations

import asyncio
import importlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from test_integrations import (
    chunked,
    differential,
    frame,
    frame_stream,
    same_or_failed_earlier,
    text,
)

from wsfast import integrations

SEED = 20261203


pytestmark = pytest.mark.usefixtures("no_integrations_installed")


# ---- aiohttp: the reader behind web_ws (server) and client (client) ----------------


@pytest.fixture(params=[
    pytest.param("wsfast._aiohttp_py", id="hot-py"),
    pytest.param("wsfast._aiohttp_c", id="hot-c", marks=pytest.mark.c_extension),
])
def aiohttp_hot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """install() patches aiohttp with the reader and writer of this module: the
    source as Python, and compiled."""
    from wsfast.integrations import aiohttp as integration

    module = importlib.import_module(request.param)
    monkeypatch.setattr(integration, "hot_path", module)
    return str(request.param)


class Protocol:
    """What aiohttp's queue asks of the connection: flow control, recorded."""

    def __init__(self, log: list[Any]) -> None:
        self._reading_paused = False
        self.log = log

    def pause_reading(self) -> None:
        self._reading_paused = True
        self.log.append("pause")

    def resume_reading(self) -> None:
        self._reading_paused = False
        self.log.append("resume")


def run_aiohttp_reader(chunks: list[bytes], *, server: bool, max_msg_size: int,
                       decode_text: bool, limit: int) -> list[Any]:
    """Feed ``chunks`` to the reader that ``web_ws`` (or ``client``) constructs,
    draining its queue after each; log every message, return value and error."""
    from aiohttp import client, web_ws
    from aiohttp._websocket.reader import WebSocketDataQueue

    reader_class = (web_ws if server else client).WebSocketReader
    loop = asyncio.new_event_loop()
    log: list[Any] = []
    try:
        queue = WebSocketDataQueue(Protocol(log), limit, loop=loop)  # type: ignore[arg-type]
        parser = reader_class(queue, max_msg_size, compress=False, decode_text=decode_text)

        async def drain() -> None:
            while queue._buffer:
                message = await queue.read()
                log.append((message.type, message.data, type(message.data), message.extra))

        for chunk in chunks:
            log.append(parser.feed_data(chunk))
            log.append(len(queue._buffer))  # how far the reader went before stalling
            loop.run_until_complete(drain())
        exc = queue.exception()
        if exc is not None:
            log.append((type(exc), getattr(exc, "code", None), str(exc)))
        parser.feed_eof()
        log.append(queue.is_eof())
    finally:
        loop.close()
    return log


def aiohttp_streams(rng: random.Random, masked: bool) -> Iterator[list[bytes]]:
    """Valid and broken streams, plus what aiohttp accepts beyond RFC 6455:
    unmasked frames from a client, non-minimal lengths."""
    for _ in range(120):
        yield chunked(rng, frame_stream(rng, masked=masked))
    key = b"\x01\x02\x03\x04" if masked else None
    other = None if masked else b"\x05\x06\x07\x08"
    # Frames on the other masking than the role expects (aiohttp takes both).
    yield [frame(2, b"abc", key=other) + frame(1, b"d\xc3\xa9f", key=key)]
    # A 16-bit length for 5 bytes (non-minimal), then a normal frame.
    body = b"hello"
    yield [bytes((0x82, (0x80 if masked else 0) | 126, 0, 5)) + (key or b"")
           + (bytes(b ^ key[i % 4] for i, b in enumerate(body)) if key else body)
           + frame(2, b"after", key=key)]
    # Pings (masked: a bytearray payload) and pongs between messages.
    yield [frame(9, b"ping", key=key) + frame(2, b"x" * 300, key=key) + frame(10, b"", key=key)]
    # One whole frame per read (the common case), a bad one among them.
    yield [frame(2, b"bin", key=key), frame(1, "tëxt".encode(), key=key),
           frame(1, b"\xed\xa0\x80", key=key), frame(2, b"after", key=key)]
    yield [frame(1, text(rng, 300), key=key), frame(2, rng.randbytes(70000), key=key)]
    # A large frame one byte short, then the rest in two pieces.
    big = frame(2, rng.randbytes(70000), key=key)
    yield [big[:-1], big[-1:] + frame(1, text(rng, 50), key=key)[:3],
           frame(1, text(rng, 50), key=key)[3:]]


def test_tuple3_is_tuple_new(backend: Any) -> None:
    # What the reader builds aiohttp's WSMessage with.
    from aiohttp._websocket.models import WSMessage, WSMsgType

    built = backend._tuple3(WSMessage, WSMsgType.BINARY, b"x", "")
    assert type(built) is WSMessage
    assert built == tuple.__new__(WSMessage, (WSMsgType.BINARY, b"x", ""))
    assert (built.type, built.data, built.extra) == (WSMsgType.BINARY, b"x", "")
    assert type(backend._tuple3(tuple, 1, 2, 3)) is tuple
    for cls in (list, 3):
        with pytest.raises(TypeError) as expected:
            tuple.__new__(cls, (1, 2, 3))
        with pytest.raises(TypeError) as raised:
            backend._tuple3(cls, 1, 2, 3)
        assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
@pytest.mark.usefixtures("aiohttp_hot")
def test_aiohttp_reader_differential(server: bool) -> None:
    rng = random.Random(SEED + server)
    for chunks in aiohttp_streams(rng, masked=server):
        max_msg_size = rng.choice([0, 4 * 2**20, 200, 300])
        decode_text = rng.random() < 0.7
        limit = rng.choice([2**16, 1])  # 1: the queue stalls the reader after each message
        differential("aiohttp", lambda: run_aiohttp_reader(
            chunks, server=server, max_msg_size=max_msg_size, decode_text=decode_text,
            limit=limit))


def test_aiohttp_reader_takes_simple_frames_itself(aiohttp_hot: str) -> None:
    # The receive path no longer runs on aiohttp's reader for plain messages.
    from aiohttp import web_ws
    from aiohttp._websocket import reader

    integrations.install("aiohttp")
    assert web_ws.WebSocketReader is importlib.import_module(aiohttp_hot).WebSocketReader
    chunks = [frame(2, b"x" * 70000, key=b"abcd") + frame(1, "é".encode(), key=b"dcba")]
    log = run_aiohttp_reader(chunks, server=True, max_msg_size=2**20, decode_text=True,
                             limit=2**16)
    messages = [entry[1] for entry in log if isinstance(entry, tuple) and len(entry) == 4]
    assert messages == [b"x" * 70000, "é"]
    from aiohttp._websocket.reader import WebSocketDataQueue

    loop = asyncio.new_event_loop()
    try:
        queue = WebSocketDataQueue(Protocol([]), 2**16, loop=loop)  # type: ignore[arg-type]
        parser = web_ws.WebSocketReader(queue, 2**20, compress=False, decode_text=True)
        parser.feed_data(frame(2, b"abc", key=b"abcd"))
        assert parser._inner is None  # not handed over
        parser.feed_data(frame(8, (1000).to_bytes(2, "big"), key=b"abcd"))
        assert isinstance(parser._inner, reader.WebSocketReader)  # a close frame: aiohttp's
    finally:
        loop.close()


class Transport:
    """What aiohttp's writer asks of a transport: every write recorded."""

    def __init__(self, log: list[Any], closing: bool) -> None:
        self.log = log
        self.closing = closing

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: Any) -> None:
        self.log.append(("write", bytes(data)))


def run_aiohttp_writer(sends: list[tuple[Any, int, int]], *, mask: bool, closing: bool,
                       seed: int) -> list[Any]:
    """aiohttp's WebSocketWriter over a recording transport: the writes, each
    call's result or error, and the writer's output count after each."""
    from aiohttp._websocket.writer import WebSocketWriter

    log: list[Any] = []
    writer = WebSocketWriter(None, Transport(log, closing), use_mask=mask,  # type: ignore[arg-type]
                             random=random.Random(seed))
    for message, opcode, rsv in sends:
        try:
            writer._write_websocket_frame(message, opcode, rsv)
            log.append(("ok", writer._output_size))
        except Exception as exc:  # part of the behaviour
            log.append((type(exc), str(exc)))
    return log


@pytest.mark.parametrize("mask", [False, True], ids=["server", "client"])
def test_aiohttp_writer_differential(mask: bool, aiohttp_hot: str) -> None:
    rng = random.Random(SEED + mask)
    sends: list[tuple[Any, int, int]] = []
    # Each length encoding and both sides of aiohttp's MSG_SIZE (2**14), in
    # the buffer types send_bytes passes on.
    for size in (0, 1, 125, 126, 127, 2**14, 2**14 + 1, 65535, 65536, 70000):
        payload = rng.randbytes(size)
        for opcode, rsv in ((1, 0), (2, 0), (2, 0x40), (0, 0), (9, 0), (10, 0), (8, 0)):
            if opcode >= 8 and size > 125:
                continue
            for message in (payload, bytearray(payload), memoryview(payload)):
                sends.append((message, opcode, rsv))
    for closing in (False, True):
        differential("aiohttp", lambda: run_aiohttp_writer(sends, mask=mask, closing=closing,
                                                            seed=SEED))
    integrations.install("aiohttp")
    from aiohttp._websocket.writer import WebSocketWriter

    assert WebSocketWriter.__dict__["_write_websocket_frame"].__module__ == aiohttp_hot
    log: list[Any] = []
    WebSocketWriter(None, Transport(log, False))._write_websocket_frame(  # type: ignore[arg-type]
        b"abc", 2, 0)
    assert log == [("write", b"\x82\x03abc")]


@pytest.mark.usefixtures("aiohttp_hot")
def test_aiohttp_compressed_short_message_stays_short() -> None:
    # aiohttp compresses at Z_BEST_SPEED: zlib (and zlib-ng) make 6 bytes of
    # b"text"; ISA-L's level 0, which that constant means there, makes 117.
    from aiohttp._websocket.writer import WebSocketWriter

    integrations.install("aiohttp")
    log: list[Any] = []
    writer = WebSocketWriter(None, Transport(log, False), compress=15)  # type: ignore[arg-type]
    asyncio.run(writer.send_frame(b"text", 1))
    assert log == [("write", b"\xc1\x06*I\xad(\x01\x00")]


# ---- tornado: WebSocketProtocol13's frame reading and writing --------------------------


def run_tornado_protocol(stream_bytes: bytes, *, server: bool, max_message_size: int,
                         replies: list[tuple[bool, int, bytes]]) -> list[Any]:
    """A WebSocketProtocol13 reading ``stream_bytes`` from a socket pair until
    the peer's end of stream, after writing ``replies`` with ``_write_frame``:
    what it delivers, what it counts, its close code and every byte it sends."""
    import socket

    from tornado.iostream import IOStream
    from tornado.websocket import WebSocketProtocol13, _WebSocketParams

    log: list[Any] = []

    class Handler:
        """What the protocol asks of its WebSocketHandler."""

        def on_message(self, message: Any) -> None:
            log.append(("message", type(message), message))

        def on_ping(self, data: bytes) -> None:
            log.append(("ping", data))

        def on_pong(self, data: bytes) -> None:
            log.append(("pong", data))

        def on_ws_connection_close(self, code: Any, reason: Any) -> None:
            log.append(("closed", code, reason))

        def log_exception(self, *exc_info: Any) -> None:
            log.append(("exception", exc_info[0]))

    async def main() -> bytes:
        ours, peer = socket.socketpair()
        protocol = WebSocketProtocol13(Handler(), not server,  # type: ignore[arg-type]
                                       _WebSocketParams(max_message_size=max_message_size))
        protocol.stream = IOStream(ours)
        for fin, opcode, payload in replies:
            try:
                protocol._write_frame(fin, opcode, payload)
                log.append(("wrote", protocol._wire_bytes_out))
            except Exception as exc:  # part of the behaviour
                log.append((type(exc), str(exc)))
        written = b""
        while len(written) < protocol._wire_bytes_out:
            written += peer.recv(1 << 20)
        log.append(("written", written))
        peer.sendall(stream_bytes)
        peer.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(protocol._receive_frame_loop(), 10)
        log.append(("counted", protocol._wire_bytes_in, protocol._message_bytes_in,
                    protocol.close_code, protocol.client_terminated))
        protocol.stream.close()
        received = b""
        peer.settimeout(10)
        try:
            while chunk := peer.recv(1 << 20):
                received += chunk
        except ConnectionResetError:  # closed with bytes of the stream unread
            log.append("reset")
        peer.close()
        return received

    log.append(("sent", control_frames(asyncio.run(main()))))
    return log


def control_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The close frames (byte 0, unmasked payload) among the control frames in
    ``data``; pongs are left out, since how many tornado sends (it coalesces
    them while one is being written) depends on timing."""
    frames = []
    while len(data) >= 2:
        n = data[1] & 0x7F  # a control frame: never an extended length
        key, start = (data[2:6], 6) if data[1] & 0x80 else (b"\0\0\0\0", 2)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[start:start + n]))
        if data[0] & 0x0F != 0xA:
            frames.append((data[0], payload))
        data = data[start + n:]
    return frames


@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
def test_tornado_protocol_differential(server: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    rng = random.Random(SEED + server)
    keys = iter(rng.randbytes(4) for _ in range(10**6))
    # The client's masking keys, for the two framers only (not os.urandom
    # itself: another thread, such as pytest-xdist's, may draw from it).
    fake_os = types.SimpleNamespace(urandom=lambda n: next(keys))
    monkeypatch.setattr("tornado.websocket.os", fake_os)
    monkeypatch.setattr("wsfast.integrations.tornado.os", fake_os)
    replies = [(True, 2, rng.randbytes(size)) for size in (0, 125, 126, 65535, 65536)]
    replies += [(False, 1, b"frag"), (True, 0, b"ment"), (True, 9, b"p" * 125),
                (False, 9, b"x"), (True, 10, b"x" * 126)]

    def compare(stream: bytes, max_message_size: int, replies: list[Any]) -> None:
        state = rng.getstate()  # the same masking keys in both runs

        def once() -> list[Any]:
            rng.setstate(state)
            return run_tornado_protocol(stream, server=server, max_message_size=max_message_size,
                                        replies=replies)

        differential("tornado", once)

    for chunks in aiohttp_streams(rng, masked=server):
        compare(b"".join(chunks), rng.choice([10 * 2**20, 200, 300]), replies)
    key = b"\x01\x02\x03\x04" if server else None
    # At and one past the limit: in one frame, with a 16-bit length, in fragments;
    # a ping with a 16-bit length (control frames must be shorter).
    for stream in ([frame(2, b"x" * 200, key=key), frame(2, b"y" * 201, key=key)],
                   [frame(9, b"p" * 126, key=key), frame(2, b"after", key=key)],
                   [frame(2, b"x" * 300, key=key), frame(1, b"y" * 301, key=key)],
                   [frame(1, b"a" * 100, key=key, fin=False), frame(0, b"b" * 100, key=key)],
                   [frame(1, b"a" * 100, key=key, fin=False),
                    frame(0, b"b" * 101, key=key)]):
        for max_message_size in (200, 300):
            compare(b"".join(stream), max_message_size, [])
    integrations.install("tornado")
    from tornado.websocket import WebSocketProtocol13

    for name in ("_receive_frame", "_write_frame"):
        assert vars(WebSocketProtocol13)[name].__module__ == "wsfast.integrations.tornado"


# ---- websockets: Frame.serialize (the sans-I/O protocol and websockets.legacy) ----------


def test_websockets_serialize_differential(monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.exceptions import ProtocolError
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Frame, Opcode

    rng = random.Random(SEED)
    keys = iter(rng.randbytes(4) for _ in range(10**6))
    # A fixed key sequence, so masked output compares too.
    monkeypatch.setattr("secrets.token_bytes", lambda n: next(keys))
    cases = []
    for size in (0, 1, 125, 126, 65535, 65536, 70000):
        payload = rng.randbytes(size)
        for opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PING, Opcode.CLOSE):
            for data in (payload, bytearray(payload), memoryview(payload)):
                cases.append(Frame(opcode, data, fin=rng.random() < 0.8,
                                   rsv1=rng.random() < 0.1))
    cases.append(Frame(Opcode.PING, b"x", fin=False))  # fragmented control frame

    def run(frame: Frame, mask: bool, deflate: bool) -> bytes:
        extensions = [PerMessageDeflate(False, False, 15, 15)] if deflate else None
        return frame.serialize(mask=mask, extensions=extensions)

    for frame_ in cases:
        for mask in (False, True):
            for deflate in (False, True):
                state = rng.getstate()

                def once() -> Any:
                    rng.setstate(state)
                    return run(frame_, mask, deflate)

                differential("websockets", once, may_raise=(ProtocolError,))
    integrations.install("websockets")
    with pytest.raises(ProtocolError):
        Frame(Opcode.CLOSE, b"x" * 126).serialize(mask=False)


# ---- wsproto: Connection.send and FrameDecoder.process_buffer ---------------------------


def run_wsproto_send(events: list[Any], client: bool) -> list[Any]:
    from wsproto.connection import Connection, ConnectionType

    connection = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
    log: list[Any] = []
    for event in events:
        try:
            data = connection.send(event)
            log.append((type(data), data))
        except Exception as exc:  # part of the behaviour
            log.append((type(exc), str(exc)))
    log.append(connection.state)
    return log


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_wsproto_send_differential(client: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import array

    from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

    rng = random.Random(SEED + client)
    for _ in range(60):
        events: list[Any] = []
        for _ in range(rng.randrange(1, 8)):
            size = rng.choice([0, 1, 125, 126, 65535, 65536, 70000])
            kind = rng.randrange(7)
            finished = rng.random() < 0.7
            if kind == 0:
                events.append(TextMessage(text(rng, size // 4).decode(), message_finished=finished))
            elif kind == 1:
                events.append(BytesMessage(rng.randbytes(size), message_finished=finished))
            elif kind == 2:
                payload = rng.choice([bytearray(rng.randbytes(size)),
                                      memoryview(rng.randbytes(size))[::2],
                                      memoryview(array.array("i", range(size // 4)))])
                events.append(BytesMessage(payload, message_finished=finished))
            elif kind == 3:
                events.append(BytesMessage(42, message_finished=finished))  # type: ignore[arg-type]
            elif kind == 4:
                events.append(Ping(rng.randbytes(rng.randrange(126))))
            elif kind == 5:
                events.append(CloseConnection(1000, "bye"))
            else:  # the base class, as uvicorn sends it
                events.append(Message(rng.choice(["é" * 3, b"raw"]), message_finished=finished))
        state = rng.getstate()

        def run() -> Any:
            # The same masking keys in both runs.
            keys = random.Random(repr(state))
            monkeypatch.setattr("os.urandom", keys.randbytes)
            return run_wsproto_send(events, client)

        differential("wsproto", run)


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_wsproto_connection_receive_differential(client: bool) -> None:
    # The whole receive path (FrameDecoder, MessageDecoder, Connection events),
    # with frames split at every kind of boundary.
    from wsproto.connection import Connection, ConnectionType

    def run(chunks: list[bytes]) -> list[Any]:
        connection = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        log: list[Any] = []
        for chunk in chunks:
            connection.receive_data(chunk)
            log.extend((type(event).__name__, repr(event)) for event in connection.events())
        return log

    rng = random.Random(SEED + 7 + client)
    for _ in range(150):
        chunks = chunked(rng, frame_stream(rng, masked=not client))
        # wsfast's UTF-8 decoder fails at the first impossible byte (as in
        # test_integrations.py): the same close, maybe after fewer events.
        differential("wsproto", lambda: run(chunks), same_or_failed_earlier)
