"""wsproto patched against wsproto as shipped: the receive path state by state.

Each stream is fed to a ``Connection`` split at every position (small
streams) or at random places (large ones); after every chunk the events and
the frame and message decoders' state are logged, and the whole log must be
the same with and without ``install("wsproto")``, with each backend's
primitives behind the patches.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import pytest
from test_integrations import HANDSHAKE, chunked, differential, frame, text

from wsfast import integrations
from wsfast._backend import MODULES
from wsfast.integrations import wsproto as wsproto_integration

pytest.importorskip("wsproto")

SEED = 20261204


pytestmark = pytest.mark.usefixtures("no_integrations_installed")


@pytest.fixture()
def patched_with(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The patches built on ``backend``'s primitives (install() builds them on
    the default backend)."""
    primitives = importlib.import_module(MODULES[backend.name][0])
    monkeypatch.setattr(wsproto_integration, "impl", primitives)
    monkeypatch.setattr(wsproto_integration, "_mask", primitives.mask)


def snapshot(connection: Any) -> tuple[Any, ...]:
    proto = connection._proto
    decoder = proto._frame_decoder
    messages = proto._message_decoder
    return (connection.state, bytes(decoder.buffer.buffer), decoder.buffer.bytes_used,
            decoder.header, decoder.effective_opcode, decoder.masker is None,
            decoder.payload_required, decoder.payload_consumed, messages.opcode,
            messages.decoder is None, len(connection._events))


def run(chunks: list[bytes], client: bool, *, lost: bool = False) -> list[Any]:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.utilities import LocalProtocolError

    connection = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
    log: list[Any] = []
    for chunk in [*chunks, None] if lost else chunks:
        try:
            connection.receive_data(chunk)
        except LocalProtocolError as exc:  # part of the behaviour: data after CLOSED
            log.append(("LocalProtocolError", str(exc)))
        log.append([(type(event).__name__, repr(event)) for event in connection.events()])
        log.append(snapshot(connection))
    return log


def key(rng: random.Random, client: bool) -> bytes | None:
    return None if client else rng.randbytes(4)


def small_streams(rng: random.Random, client: bool) -> list[bytes]:
    """Short streams: whole messages, fragments, control frames, and every
    kind of error the frame and message decoders raise."""
    k = lambda: key(rng, client)  # noqa: E731
    wrong = lambda: rng.randbytes(4) if client else None  # noqa: E731
    valid_text = text(rng, 9)
    return [
        frame(1, valid_text, key=k()) + frame(2, b"\x00\xff" * 3, key=k()) + frame(2, b"", key=k()),
        frame(1, b"", key=k()) + frame(9, b"hi", key=k()) + frame(10, b"", key=k())
        + frame(1, valid_text, key=k()),
        frame(1, valid_text[:3], fin=False, key=k()) + frame(9, b"p", key=k())
        + frame(0, valid_text[3:], key=k()) + frame(2, b"after", key=k()),
        frame(2, b"ab", fin=False, key=k()) + frame(0, b"cd", fin=False, key=k())
        + frame(0, b"", key=k()),
        frame(2, b"x" * 130, key=k()) + frame(1, b"y" * 126, key=k(), length_bytes=2),
        frame(1, b"ok", key=k()) + frame(8, (1000).to_bytes(2, "big") + b"bye", key=k())
        + frame(2, b"after close", key=k()),
        frame(8, b"", key=k()) + frame(1, b"x", key=k()),
        # Errors: invalid UTF-8 in a whole message and in a fragment (an
        # impossible first byte: both decoders fail at the same place).
        frame(2, b"fine", key=k()) + frame(1, b"ab\xffcd", key=k()) + frame(2, b"x", key=k()),
        frame(1, b"ab", fin=False, key=k()) + frame(0, b"\xff", key=k()),
        frame(1, "é".encode()[:1], key=k()),  # truncated at the message's end
        frame(3, b"x", key=k()),  # reserved opcode
        frame(1, b"abc", rsv=rng.choice([1, 2, 4]), key=k()),
        frame(2, b"abc", key=wrong()),  # masked the wrong way for the role
        frame(2, b"x" * 5, key=k(), length_bytes=2),  # not the shortest length
        frame(9, b"x", fin=False, key=k()),  # fragmented control frame
        frame(0, b"x", key=k()),  # continuation with nothing to continue
        frame(1, b"a", fin=False, key=k()) + frame(2, b"b", key=k()),  # new message mid-message
        frame(8, b"\x03", key=k()),  # close with a 1-byte payload
        frame(8, (999).to_bytes(2, "big"), key=k()),
        bytes([0x82, 0x7F | (0 if client else 0x80)]) + (1 << 63).to_bytes(8, "big"),
    ]


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_receive_split_at_every_position(client: bool, backend: Any, patched_with: None) -> None:
    rng = random.Random(SEED + client)
    for stream in small_streams(rng, client):
        lost = rng.random() < 0.5
        differential("wsproto", lambda: run([stream], client, lost=lost))
        for cut in range(1, len(stream)):
            chunks = [stream[:cut], stream[cut:]]
            differential("wsproto", lambda: run(chunks, client, lost=lost))


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_receive_large_messages_split_anywhere(client: bool, backend: Any,
                                               patched_with: None) -> None:
    # Payloads that arrive in pieces: wsproto delivers each piece as a frame.
    rng = random.Random(SEED + 2 + client)
    for _ in range(25):
        parts = []
        for _ in range(rng.randrange(1, 4)):
            size = rng.choice([126, 300, 65535, 65536, 70000])
            if rng.random() < 0.5:
                parts.append(frame(2, rng.randbytes(size), key=key(rng, client)))
            else:
                parts.append(frame(1, text(rng, size // 4), key=key(rng, client)))
        stream = b"".join(parts)
        chunks = chunked(rng, stream)
        differential("wsproto", lambda: run(chunks, client))


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_echo_round_trips(client: bool, backend: Any, patched_with: None,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A server's (or client's) echo loop, as uvicorn and hypercorn run it.
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import Message

    rng = random.Random(SEED + 4 + client)
    messages = [(rng.choice([1, 2]), rng.choice([0, 16, 1024, 65536])) for _ in range(30)]

    def echo() -> list[Any]:
        keys = random.Random(SEED)
        monkeypatch.setattr("os.urandom", keys.randbytes)
        connection = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        data = random.Random(SEED + 5)
        log: list[Any] = []
        for opcode, size in messages:
            payload = text(data, size // 4) if opcode == 1 else data.randbytes(size)
            connection.receive_data(frame(opcode, payload, key=key(data, client)))
            for event in connection.events():
                log.append(connection.send(Message(data=event.data)))
            log.append(snapshot(connection))
        return log

    differential("wsproto", echo)


def test_ws_connection_handshake_and_messages_split_at_every_position(
        backend: Any, patched_with: None) -> None:
    # WSConnection (uvicorn's object): the handshake's events, then the
    # connection's, whatever the split; the server accepts and echoes.
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Message, Request

    rng = random.Random(SEED + 6)
    streams = [
        HANDSHAKE + frame(1, text(rng, 5), key=rng.randbytes(4))
        + frame(9, b"p", key=rng.randbytes(4)) + frame(2, b"\x00" * 130, key=rng.randbytes(4)),
        HANDSHAKE + frame(2, b"x", fin=False, key=rng.randbytes(4)) + frame(3, b"", key=b"abcd"),
        HANDSHAKE + frame(8, (1001).to_bytes(2, "big"), key=rng.randbytes(4)),
    ]

    def run_ws(chunks: list[bytes]) -> list[Any]:
        connection = WSConnection(ConnectionType.SERVER)
        log: list[Any] = []
        for chunk in chunks:
            connection.receive_data(chunk)
            for event in connection.events():
                log.append(repr(event))
                if isinstance(event, Request):
                    log.append(connection.send(AcceptConnection()))
                elif isinstance(event, Message):
                    log.append(connection.send(Message(data=event.data)))
            log.append(connection.state)
        return log

    for stream in streams:
        for cut in range(1, len(stream)):
            chunks = [stream[:cut], stream[cut:]]
            differential("wsproto", lambda: run_ws(chunks))


def test_connections_made_while_installed_take_the_new_paths() -> None:
    # What the differential tests above compare is the patched code.
    from wsproto import frame_protocol
    from wsproto.connection import Connection, ConnectionType

    integrations.install("wsproto")
    connection = Connection(ConnectionType.SERVER)
    assert connection._proto._parse_more.gi_code.co_filename == wsproto_integration.__file__
    assert Connection.events.__module__ == wsproto_integration.__name__
    integrations.uninstall("wsproto")
    original = vars(frame_protocol.FrameProtocol)["_parse_more_gen"]
    assert original.__module__ == "wsproto.frame_protocol"
    assert Connection(ConnectionType.SERVER)._proto._parse_more.gi_code.co_filename == \
        frame_protocol.__file__
