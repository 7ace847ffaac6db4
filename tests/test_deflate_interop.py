"""permessage-deflate against other implementations, in process.

Autobahn testsuite's sections 12 and 13 against a plain-zlib peer, and
websockets' permessage-deflate (sans-I/O) as client and as server.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from codec_util import ZlibPeer
from deflate_util import BINARY_OPCODE, TEXT_OPCODE, json_like

from wsfast.deflate import PerMessageDeflate
from wsfast.handshake import accept_key


# ---------------------------------------------------------------------------
# Autobahn testsuite sections 12 and 13, in process, against a zlib peer
# ---------------------------------------------------------------------------
# Modelled on autobahn-testsuite's case12_x_x.py: the peer is Autobahn's
# fuzzing client (here a plain-zlib RFC 7692 endpoint, codec_util.ZlibPeer,
# nothing of wsfast.deflate), wsfast is the echo server. Each case sends
# consecutive slices of a data set (wrapping around) with Autobahn's payload
# size and auto-fragment size, and checks the echo. Autobahn sends 1000
# messages per case; 3 here keep the test fast while still crossing context
# takeover. The data sets stand in for Autobahn's files (which are not
# shipped): the same kinds and sizes.

# (payload length, auto-fragment size): the 18 cases of each subsection.
AUTOBAHN_MSG_SIZES = [(n, 0) for n in (16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536,
                                         131072)]
AUTOBAHN_MSG_SIZES += [(n, 256) for n in (8192, 16384, 32768, 65536, 131072)]
AUTOBAHN_MSG_SIZES += [(131072, 1024), (131072, 4096), (131072, 32768)]
AUTOBAHN_MESSAGES = 3

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "
)


def autobahn_data(name: str) -> tuple[bytes, bool]:
    """(data set, sent as binary) like Autobahn's WS_COMPRESSION_TESTDATA."""
    rng = random.Random(name)
    if name == "json":  # Large JSON data file (utf8, 194056 bytes)
        return json_like(194056, seed=1), False
    if name == "bitmap":  # Lena Picture, Bitmap 512x512 bw (binary, 263222 bytes)
        return bytes((x ^ (x >> 3) ^ rng.randrange(8)) & 0xFF for x in range(263222)), True
    if name == "faust":  # Goethe's Faust I, German text, sent as binary (222218 bytes)
        text = (LOREM.replace("u", "ü").replace("a", "ä") * 2000).encode()
        return text[:222218], True
    if name == "html":  # Large HTML file (utf8, 263527 bytes)
        rows = "".join(f"<tr><td>{i}</td><td>{LOREM[: i % 80]}</td></tr>\n" for i in range(3000))
        return (f"<html><body><table>{rows}</table></body></html>" * 2).encode()[:263527], False
    # A larger PDF (binary, 1042328 bytes): compressed streams, barely compressible.
    return rng.randbytes(1042328), True


AUTOBAHN_DATA: dict[str, tuple[bytes, bool]] = {}

# Section 12: the default offer, one subsection per data set.
AUTOBAHN_12 = {"12.1": "json", "12.2": "bitmap", "12.3": "faust", "12.4": "html", "12.5": "pdf"}
# Section 13: the JSON data set with the client offers of Autobahn's
# DEFLATE_PARAMS, as (request server_no_context_takeover, request
# server_max_window_bits) per offer, 0 meaning "not requested".
AUTOBAHN_13 = {
    "13.1": [(False, 0)],
    "13.2": [(True, 0)],
    "13.3": [(False, 8)],
    "13.4": [(False, 15)],
    "13.5": [(True, 8)],
    "13.6": [(True, 15)],
    "13.7": [(True, 8), (True, 0), (False, 0)],
}


def autobahn_offer(requests: list[tuple[bool, int]]) -> str:
    """Autobahn's PerMessageDeflateOffer header, written out: it accepts the
    server's client_no_context_takeover and client_max_window_bits."""
    offers = []
    for no_takeover, bits in requests:
        params = ["permessage-deflate", "client_no_context_takeover", "client_max_window_bits"]
        if no_takeover:
            params.append("server_no_context_takeover")
        if bits:
            params.append(f"server_max_window_bits={bits}")
        offers.append("; ".join(params))
    return ", ".join(offers)


def response_params(response: str) -> dict[str, int | bool]:
    params: dict[str, int | bool] = {}
    name, *rest = [part.strip() for part in response.split(";")]
    assert name == "permessage-deflate"
    for part in rest:
        key, _, value = part.partition("=")
        params[key.strip()] = int(value) if value else True
    return params


@pytest.mark.parametrize("case", [*AUTOBAHN_12, *AUTOBAHN_13])
def test_autobahn_12_13_against_zlib_peer(backend: Any, case: str) -> None:
    requests = AUTOBAHN_13.get(case, [(False, 0)])
    name = AUTOBAHN_12.get(case, "json")
    if name not in AUTOBAHN_DATA:
        AUTOBAHN_DATA[name] = autobahn_data(name)
    data, binary = AUTOBAHN_DATA[name]
    accepted = PerMessageDeflate.accept(autobahn_offer(requests))
    assert accepted is not None
    response, server_side = accepted
    params = response_params(response)
    # The first offer wsfast can honour is the first one: each request is granted.
    no_takeover, bits = requests[0]
    assert params.get("server_no_context_takeover", False) is no_takeover
    assert params.get("server_max_window_bits", 15) == (bits or 15)
    peer = ZlibPeer(send_bits=int(params.get("client_max_window_bits", 15)),
                    send_reset=bool(params.get("client_no_context_takeover")),
                    receive_reset=no_takeover)
    opcode = BINARY_OPCODE if binary else TEXT_OPCODE
    decoder = backend.Decoder(role="server", deflate=server_side, max_message_size=None)
    encoder = backend.Encoder(role="server", deflate=server_side)
    pointer = 0
    for size, fragment in AUTOBAHN_MSG_SIZES:
        for _ in range(AUTOBAHN_MESSAGES):
            message = (data + data)[pointer : pointer + size]
            pointer = (pointer + size) % len(data)
            wire = peer.send(opcode, message, fragment=fragment, key=os.urandom(4))
            [received] = decoder.feed(wire)
            assert received == backend.Message(opcode, message if binary else message.decode())
            echo = (encoder.binary if binary else encoder.text)(received.data)
            assert peer.receive(echo) == [(opcode, message)], (case, size, fragment)


# ---------------------------------------------------------------------------
# Interoperation with websockets' permessage-deflate, in process (sans-I/O)
# ---------------------------------------------------------------------------


def websockets_api() -> Any:
    """websockets' sans-I/O protocol and extension (it is in the test extra).

    Imported by the interop tests only, so that without websockets they
    error and the rest of this file still runs.
    """
    from types import SimpleNamespace

    from websockets.client import ClientProtocol
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        ServerPerMessageDeflateFactory,
    )
    from websockets.frames import Opcode
    from websockets.protocol import State
    from websockets.server import ServerProtocol
    from websockets.uri import parse_uri

    return SimpleNamespace(
        ClientProtocol=ClientProtocol,
        ServerProtocol=ServerProtocol,
        ClientFactory=ClientPerMessageDeflateFactory,
        ServerFactory=ServerPerMessageDeflateFactory,
        Opcode=Opcode,
        State=State,
        parse_uri=parse_uri,
    )


def interop_messages() -> list[tuple[str, bytes]]:
    text = json_like(20000, seed=30)
    return [
        ("text", b"Hello"),
        ("text", b"Hello"),  # refers back when context takeover is on
        ("text", text),
        ("binary", random.Random(31).randbytes(5000)),
        ("binary", bytes(300000)),
        ("text", text[:700] * 20),
        ("binary", b""),
    ]


def websockets_messages(frames: list[Any]) -> list[tuple[str, bytes]]:
    """Reassemble websockets' frames into (kind, data) messages."""
    opcode = websockets_api().Opcode
    messages: list[tuple[str, bytes]] = []
    kind, parts = "", []
    for frame in frames:
        if frame.opcode in (opcode.TEXT, opcode.BINARY):
            kind, parts = frame.opcode.name.lower(), []
        elif frame.opcode is not opcode.CONT:
            continue
        parts.append(frame.data)
        if frame.fin:
            messages.append((kind, b"".join(parts)))
    return messages


def wsfast_messages(backend: Any, events: list[Any]) -> list[tuple[str, bytes]]:
    result = []
    for event in events:
        data = event.data.encode() if isinstance(event.data, str) else event.data
        result.append(("text" if event.opcode == backend.Opcode.TEXT else "binary", data))
    return result


def wsfast_wire(
    encoder: Any, messages: list[tuple[str, bytes]], fragment_size: int | None
) -> bytes:
    """What a wsfast Encoder sends for ``messages``, fragmented at ``fragment_size``."""
    return b"".join(
        encoder.text(data.decode(), fragment_size=fragment_size)
        if kind == "text"
        else encoder.binary(data, fragment_size=fragment_size)
        for kind, data in messages
    )


def http_headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {
        name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in head)
    }


# (wsfast's PerMessageDeflate preferences, websockets factory keyword arguments)
INTEROP = [
    pytest.param({}, {}, id="defaults"),
    pytest.param(
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
        id="no-context-takeover",
    ),
    pytest.param(
        {"server_max_window_bits": 10}, {"server_max_window_bits": 10}, id="server-window-10"
    ),
    pytest.param(
        {"client_max_window_bits": 9}, {"client_max_window_bits": 9}, id="client-window-9"
    ),
    pytest.param(
        {
            "server_max_window_bits": 12,
            "client_max_window_bits": 11,
            "client_no_context_takeover": True,
        },
        {"server_max_window_bits": 12, "client_max_window_bits": 11},
        id="mixed",
    ),
]


@pytest.mark.parametrize("ours, theirs", INTEROP)
def test_interop_websockets_client(
    backend: Any, ours: dict[str, Any], theirs: dict[str, Any]
) -> None:
    # websockets' ClientProtocol talks to a wsfast server.
    ws = websockets_api()
    client = ws.ClientProtocol(
        ws.parse_uri("ws://example.com/"),
        extensions=[ws.ClientFactory(**theirs)],
        max_size=None,
    )
    client.send_request(client.connect())
    request = http_headers(b"".join(client.data_to_send()))
    accepted = PerMessageDeflate.accept(request["sec-websocket-extensions"], **ours)
    assert accepted is not None
    header, agreed = accepted
    client.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept_key(request['sec-websocket-key'])}\r\n".encode()
        + f"Sec-WebSocket-Extensions: {header}\r\n\r\n".encode()
    )
    client.events_received()
    assert client.state is ws.State.OPEN, client.handshake_exc
    assert [type(e).__name__ for e in client.extensions] == ["PerMessageDeflate"]

    messages = interop_messages()
    # websockets -> wsfast.
    for kind, data in messages:
        (client.send_text if kind == "text" else client.send_binary)(data)
    client.send_text(b"frag", fin=False)
    client.send_continuation(b"mented", fin=True)
    decoder = backend.Decoder(role="server", deflate=agreed, max_message_size=None)
    received = decoder.feed(b"".join(client.data_to_send()))
    assert wsfast_messages(backend, received) == messages + [("text", b"fragmented")]

    # wsfast -> websockets.
    encoder = backend.Encoder(role="server", deflate=agreed)
    for fragment_size in (None, 333):
        wire = wsfast_wire(encoder, messages, fragment_size)
        client.receive_data(wire)
        assert websockets_messages(client.events_received()) == messages


@pytest.mark.parametrize(
    "ours, theirs",
    INTEROP
    + [
        # websockets as the server can hold the client to a 256-byte window;
        # wsfast then deflates with 9 bits (RFC 7692 §7.1.2.1) and stays within it.
        pytest.param({}, {"client_max_window_bits": 8}, id="client-window-8"),
    ],
)
def test_interop_websockets_server(
    backend: Any, ours: dict[str, Any], theirs: dict[str, Any]
) -> None:
    # A wsfast client talks to websockets' ServerProtocol.
    ws = websockets_api()
    server = ws.ServerProtocol(extensions=[ws.ServerFactory(**theirs)], max_size=None)
    offered = PerMessageDeflate(**ours)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    server.receive_data(
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n".encode()
        + f"Sec-WebSocket-Extensions: {offered.offer()}\r\n\r\n".encode()
    )
    [request] = server.events_received()
    server.send_response(server.accept(request))
    response = http_headers(b"".join(server.data_to_send()))
    assert response["sec-websocket-accept"] == accept_key(key)
    agreed = PerMessageDeflate.from_response(response["sec-websocket-extensions"], offered)
    assert server.state is ws.State.OPEN
    if "client_max_window_bits" in theirs:
        assert agreed.client_max_window_bits == theirs["client_max_window_bits"]

    messages = interop_messages()
    # wsfast -> websockets.
    encoder = backend.Encoder(role="client", deflate=agreed)
    for fragment_size in (None, 1000):
        wire = wsfast_wire(encoder, messages, fragment_size)
        server.receive_data(wire)
        assert websockets_messages(server.events_received()) == messages

    # websockets -> wsfast.
    for kind, data in messages:
        (server.send_text if kind == "text" else server.send_binary)(data)
    decoder = backend.Decoder(role="client", deflate=agreed, max_message_size=None)
    assert wsfast_messages(backend, decoder.feed(b"".join(server.data_to_send()))) == messages
