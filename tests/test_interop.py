"""Interop on loopback: a server and a client built on wsfast against real peers.

websockets and aiohttp clients talk to the wsfast echo server
(tests/support/ws_asyncio.py), and the wsfast client talks to websockets' and
aiohttp's servers; each with and without permessage-deflate. Checked: text
and binary from 0 B to 4 MiB, fragmented messages, ping/pong, and the close
paths (normal either side, application codes, 1005 no status, 1007 invalid
UTF-8, 1009 too big, 1006 dropped TCP). Addresses are 127.0.0.1 only; each
test runs under a time bound.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp import web
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import serve as websockets_serve

from support.ws_asyncio import ConnectionClosed, WebSocket, connect, serve

HOST = "127.0.0.1"
TIME_LIMIT = 60.0
SIZES = [0, 1, 125, 126, 65535, 65536, 2**20, 4 * 2**20]
MAX_SIZE = 8 * 2**20
SMALL_LIMIT = 1000  # the max_message_size of the "/small" path
DEFLATE = pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), TIME_LIMIT)

    asyncio.run(bounded())


def payloads(size: int) -> tuple[str, bytes]:
    text = ("wsfast é€😀 " * (size // 8 + 1)).encode()[:size].decode("utf-8", "ignore")
    return text, os.urandom(size)


# ---- the wsfast server ---------------------------------------------------------------


class WsfastServer:
    """The wsfast server with a few test commands; records how each connection closed."""

    def __init__(self, deflate: bool) -> None:
        self.deflate = deflate
        self.connections: list[WebSocket] = []
        self.server: asyncio.Server | None = None

    def on_message(self, ws: WebSocket, message: Any) -> None:
        data = message.data
        if isinstance(data, str) and data.startswith("cmd:close:"):
            _, _, code, reason = data.split(":", 3)
            asyncio.ensure_future(ws.close(int(code), reason))
        else:
            # "/fragmented": echo in 1000-byte frames, so peers reassemble.
            ws.send(data, fragment_size=1000 if ws.path == "/fragmented" else None)

    async def __aenter__(self) -> str:
        def on_connect(ws: WebSocket) -> None:
            self.connections.append(ws)

        self.server = await serve(HOST, 0, on_message=self.on_message, on_connect=on_connect,
                                  deflate=self.deflate, max_message_size=MAX_SIZE,
                                  subprotocols=("chat", "echo"))
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://{HOST}:{port}"

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        for ws in self.connections:
            if ws.transport is not None:
                ws.transport.abort()
        await self.server.wait_closed()

    async def closed(self) -> WebSocket:
        ws = self.connections[-1]
        await ws.wait_closed()
        return ws


@pytest.fixture
def small_limit() -> Any:
    original = WebSocket._open

    def _open(self: WebSocket, pmd: Any) -> None:
        if self.path == "/small":
            self.max_message_size = SMALL_LIMIT
        original(self, pmd)

    WebSocket._open = _open  # type: ignore[method-assign]
    yield
    WebSocket._open = original  # type: ignore[method-assign]


# ---- websockets client -> wsfast server ------------------------------------------------


def ws_compression(deflate: bool) -> str | None:
    return "deflate" if deflate else None


@DEFLATE
def test_websockets_client_messages(deflate: bool) -> None:
    async def scenario() -> None:
        server = WsfastServer(deflate=True)
        async with server as uri:
            async with websockets_connect(uri + "/", compression=ws_compression(deflate),
                                          max_size=MAX_SIZE, subprotocols=["echo"]) as ws:
                assert ws.subprotocol == "echo"
                negotiated = ws.response.headers.get("Sec-WebSocket-Extensions", "")
                assert ("permessage-deflate" in negotiated) == deflate
                for size in SIZES:
                    for message in payloads(size):
                        await ws.send(message)
                        assert await ws.recv() == message
                # A fragmented send (websockets sends an iterable as fragments).
                text, _ = payloads(5000)
                await ws.send([text[:1000], text[1000:2500], text[2500:]])
                assert await ws.recv() == text
                # Ping / pong.
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 5)
            assert ws.close_code == 1000
            closed = await server.closed()
            assert closed.close_code == 1000

    run(scenario)


@DEFLATE
def test_websockets_client_receives_fragments(deflate: bool) -> None:
    async def scenario() -> None:
        async with WsfastServer(deflate=True) as uri:
            async with websockets_connect(uri + "/fragmented", max_size=MAX_SIZE,
                                          compression=ws_compression(deflate)) as ws:
                for size in (999, 1000, 1001, 65536):
                    for message in payloads(size):
                        await ws.send(message)
                        assert await ws.recv() == message

    run(scenario)


@DEFLATE
def test_websockets_client_close_paths(deflate: bool, small_limit: None) -> None:
    async def scenario() -> None:
        server = WsfastServer(deflate=True)
        comp = ws_compression(deflate)
        async with server as uri:
            # Client-initiated, with a code and a reason.
            async with websockets_connect(uri, compression=comp) as ws:
                await ws.close(4000, "client bye")
            assert (await server.closed()).close_code == 4000
            assert server.connections[-1].close_reason == "client bye"
            # Server-initiated with an application code.
            async with websockets_connect(uri, compression=comp) as ws:
                await ws.send("cmd:close:4001:server bye")
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
                assert (ws.close_code, ws.close_reason) == (4001, "server bye")
            # Invalid UTF-8 in a text message: 1007.
            async with websockets_connect(uri, compression=comp) as ws:
                await ws.send(b"ok \xed\xa0\x80", text=True)
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.recv()
                assert ws.close_code == 1007
            # Over the server's message limit: 1009.
            async with websockets_connect(uri + "/small", compression=comp) as ws:
                await ws.send(b"x" * (SMALL_LIMIT + 1))
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.recv()
                assert ws.close_code == 1009
            # TCP dropped without a close frame: the server records 1006.
            ws = await websockets_connect(uri, compression=comp)
            ws.transport.abort()
            assert (await server.closed()).close_code == 1006

    run(scenario)


# ---- aiohttp client -> wsfast server ----------------------------------------------------


@DEFLATE
def test_aiohttp_client_messages(deflate: bool) -> None:
    async def scenario() -> None:
        server = WsfastServer(deflate=True)
        async with server as uri, aiohttp.ClientSession() as session:
            async with session.ws_connect(uri + "/", compress=15 if deflate else 0,
                                          max_msg_size=MAX_SIZE, autoping=False,
                                          protocols=("chat",)) as ws:
                assert ws.protocol == "chat"
                assert bool(ws.compress) == deflate
                for size in SIZES:
                    text, binary = payloads(size)
                    await ws.send_str(text)
                    assert await ws.receive_str() == text
                    await ws.send_bytes(binary)
                    assert await ws.receive_bytes() == binary
                await ws.ping(b"hello")
                pong = await ws.receive()
                assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"hello")
                await ws.close(code=1000, message=b"done")
            assert ws.close_code == 1000
            closed = await server.closed()
            assert (closed.close_code, closed.close_reason) == (1000, "done")

    run(scenario)


@DEFLATE
def test_aiohttp_client_receives_fragments(deflate: bool) -> None:
    async def scenario() -> None:
        async with WsfastServer(deflate=True) as uri, aiohttp.ClientSession() as session:
            async with session.ws_connect(uri + "/fragmented", compress=15 if deflate else 0,
                                          max_msg_size=MAX_SIZE) as ws:
                for size in (999, 1000, 1001, 65536):
                    text, binary = payloads(size)
                    await ws.send_str(text)
                    assert await ws.receive_str() == text
                    await ws.send_bytes(binary)
                    assert await ws.receive_bytes() == binary

    run(scenario)


@DEFLATE
def test_aiohttp_client_close_paths(deflate: bool, small_limit: None) -> None:
    async def scenario() -> None:
        server = WsfastServer(deflate=True)
        compress = 15 if deflate else 0
        async with server as uri, aiohttp.ClientSession() as session:
            async with session.ws_connect(uri, compress=compress) as ws:
                await ws.send_str("cmd:close:4001:server bye")
                message = await ws.receive()
                assert (message.type, message.data, message.extra) == (
                    aiohttp.WSMsgType.CLOSE, 4001, "server bye")
                assert ws.close_code == 4001
            async with session.ws_connect(uri, compress=compress) as ws:
                await ws.send_frame(b"\xff\xfe", aiohttp.WSMsgType.TEXT)
                await ws.receive()
                assert ws.close_code == 1007
            async with session.ws_connect(uri + "/small", compress=compress) as ws:
                await ws.send_bytes(b"x" * (SMALL_LIMIT + 1))
                await ws.receive()
                assert ws.close_code == 1009
            async with session.ws_connect(uri, compress=compress) as ws:
                await ws.close(code=4002, message=b"client bye")
            closed = await server.closed()
            assert (closed.close_code, closed.close_reason) == (4002, "client bye")

    run(scenario)


# ---- wsfast client -> websockets server, aiohttp server -------------------------------------


async def websockets_server(deflate: bool) -> tuple[Any, str]:
    async def handler(ws: Any) -> None:
        async for message in ws:
            if message == "close please":
                await ws.close(4003, "as you wish")
                return
            await ws.send(message)

    server = await websockets_serve(handler, HOST, 0, compression=ws_compression(deflate),
                                    max_size=MAX_SIZE)
    port = server.sockets[0].getsockname()[1]
    return server, f"ws://{HOST}:{port}/"


async def aiohttp_server(deflate: bool) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=deflate, max_msg_size=MAX_SIZE)
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT and message.data == "close please":
                await ws.close(code=4003, message=b"as you wish")
            elif message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"ws://{HOST}:{port}/"


async def start_peer(peer: str, deflate: bool) -> tuple[Callable[[], Awaitable[None]], str]:
    if peer == "websockets":
        server, uri = await websockets_server(deflate)

        async def stop() -> None:
            server.close()
            await server.wait_closed()
    else:
        runner, uri = await aiohttp_server(deflate)

        async def stop() -> None:
            await runner.cleanup()
    return stop, uri


PEERS = pytest.mark.parametrize("peer", ["websockets", "aiohttp"])


@PEERS
@DEFLATE
def test_wsfast_client_messages(peer: str, deflate: bool) -> None:
    async def scenario() -> None:
        stop, uri = await start_peer(peer, deflate)
        try:
            ws = await connect(uri, deflate=True, max_message_size=MAX_SIZE)
            assert ("permessage-deflate" in ws.extensions) == deflate
            for size in SIZES:
                for message in payloads(size):
                    ws.send(message)
                    assert await ws.recv() == message
            # Fragmented sends, reassembled by the peer.
            for message in payloads(5000):
                ws.send(message, fragment_size=999)
                assert await ws.recv() == message
            await asyncio.wait_for(ws.ping(b"ping!"), 5)
            await ws.close(1000, "done")
            assert ws.close_code == 1000
        finally:
            await stop()

    run(scenario)


@PEERS
@DEFLATE
def test_wsfast_client_close_paths(peer: str, deflate: bool) -> None:
    async def scenario() -> None:
        stop, uri = await start_peer(peer, deflate)
        try:
            # Server-initiated with an application code.
            ws = await connect(uri, deflate=True)
            ws.send("close please")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert (info.value.code, info.value.reason) == (4003, "as you wish")
            await ws.wait_closed()
            # A message over our limit: we fail the connection with 1009.
            ws = await connect(uri, deflate=True, max_message_size=SMALL_LIMIT)
            ws.send(b"y" * (SMALL_LIMIT + 1))
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.code == 1009
            await ws.wait_closed()
            # Client-initiated: websockets echoes our code, aiohttp answers 1000
            # (both allowed by RFC 6455 §5.5.1).
            ws = await connect(uri, deflate=True)
            await ws.close(4004, "bye")
            assert ws.close_code == (4004 if peer == "websockets" else 1000)
        finally:
            await stop()

    run(scenario)


def test_handshake_rejects_bad_requests() -> None:
    """Header validation: a request without a valid key gets a 400, not an upgrade."""

    async def scenario() -> None:
        async with WsfastServer(deflate=True) as uri:
            port = int(uri.rsplit(":", 1)[1])
            for request in [
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            ]:
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(request)
                response = await reader.read()
                assert response.startswith(b"HTTP/1.1 400 "), response
                writer.close()
            # The RFC 6455 §1.3 example key gets the RFC's accept value.
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: keep-alive, Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 ")
            assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
            writer.close()

    run(scenario)


async def raw_upgrade(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def test_close_without_status_and_protocol_error() -> None:
    """The two close paths the peer libraries cannot produce, on raw frames."""
    from wsfast.frames import encode_frame

    async def scenario() -> None:
        server = WsfastServer(deflate=True)
        async with server as uri:
            port = int(uri.rsplit(":", 1)[1])
            # An empty close frame: answered with an empty one, recorded as 1005.
            reader, writer = await raw_upgrade(port)
            writer.write(encode_frame(8, b"", mask=True))
            assert await reader.read() == b"\x88\x00"
            writer.close()
            assert (await server.closed()).close_code == 1005
            # RSV2 without an extension: 1002, then the server closes TCP.
            reader, writer = await raw_upgrade(port)
            writer.write(encode_frame(2, b"x", rsv2=True, mask=True))
            reply = await reader.read()
            assert reply[:1] == b"\x88" and int.from_bytes(reply[2:4], "big") == 1002
            writer.close()
            assert (await server.closed()).close_code == 1002

    run(scenario)
