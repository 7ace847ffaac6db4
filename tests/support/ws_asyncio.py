"""A small asyncio WebSocket layer built only on wsfast (test support, not part of the package).

The interop and browser tests, the echo examples and bench/bench_echo.py run
wsfast's codec over real connections through it; wsfast itself is the codec
and ships no connection layer.

- The opening handshake (RFC 6455 §4): request and response validation,
  ``Sec-WebSocket-Accept`` from :func:`wsfast.handshake.accept_key`,
  subprotocol selection and permessage-deflate negotiation (RFC 7692) through
  :class:`wsfast.deflate.PerMessageDeflate`.
- Framing through :class:`wsfast.messages.Decoder` / ``Encoder``: pings are
  answered, protocol errors close the connection with the code wsfast gives
  (1002, 1007, 1009), and the closing handshake (§7) is completed both ways.
- Limits: request/response head size, message size, open and close timeouts,
  and write back-pressure (reading pauses while the transport's buffer is full).

Two ways to receive: a callback ``on_message(connection, message)`` run
straight from ``data_received`` (what an echo server wants: no task per
message), or ``await connection.recv()``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from wsfast import CloseCode, Opcode, ProtocolError
from wsfast.deflate import PerMessageDeflate
from wsfast.handshake import accept_key
from wsfast.messages import Close, Decoder, Encoder, Message

__all__ = ["ConnectionClosed", "HandshakeError", "WebSocket", "connect", "serve"]

MAX_HEAD = 16 * 1024  # bytes of HTTP request/response head accepted
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
_BINARY = int(Opcode.BINARY)  # TEXT (1) and BINARY (2) are the data opcodes
# From this payload length on, send() writes a frame's header and payload
# with one writev(2) from Encoder.binary_parts() instead of copying the
# payload behind the header first. Below it the copy is cheaper than the
# parts list and writev's iovec setup (echo server under callgrind: about
# 3,500 more instructions per round trip with parts at 2-8 KiB, 12,700 fewer
# at 16 KiB, 60,000 fewer at 64 KiB); aiohttp's writer splits at 16 KiB too.
ZERO_COPY_MIN = 16 * 1024
# writev(2) takes at most this many buffers (POSIX IOV_MAX; Linux: 1024).
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16


class HandshakeError(Exception):
    """The opening handshake failed (the peer is not a valid WebSocket endpoint)."""


class ConnectionClosed(Exception):
    """The connection is closed; ``code`` and ``reason`` are the peer's (or ours)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed: {code} {reason!r}")
        self.code = code
        self.reason = reason


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    """Start line and headers (lower-case names, repeated ones joined by ", ")."""
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HandshakeError(f"malformed header line {line!r}")
        name = name.lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return lines[0], headers


def _not_open(data: Any) -> bytes:
    raise RuntimeError("the connection is not open yet")


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}


class WebSocket(asyncio.Protocol):
    """One WebSocket connection, server or client side."""

    def __init__(
        self,
        role: str,
        *,
        on_message: Callable[[WebSocket, Message], Any] | None = None,
        subprotocols: tuple[str, ...] = (),
        deflate: bool = True,
        max_message_size: int | None = 16 * 2**20,
        request_path: str = "/",
        host: str = "",
    ) -> None:
        self.role = role
        self.on_message = on_message
        self.subprotocols = subprotocols
        self.deflate = deflate
        self.max_message_size = max_message_size
        self.path = request_path
        self.host = host
        self.subprotocol: str | None = None
        self.extensions: str = ""
        self.request_headers: dict[str, str] = {}
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_sent = False
        self.transport: asyncio.Transport | None = None
        # send() may write: open, no close frame sent, the transport not closing.
        self._sendable = False
        # The socket's descriptor, for writes that skip the transport (see
        # send()); -1 when they cannot (TLS, Windows, no socket, closed).
        self._fd = -1
        # The transport holds no unsent data, so a direct write keeps the order.
        self._direct = False
        self._head = bytearray()
        self._decoder: Decoder | None = None
        self._encoder: Encoder | None = None
        self._encode_text: Callable[[str], bytes] = _not_open
        self._encode_binary: Callable[[Any], bytes] = _not_open
        self._offer: PerMessageDeflate | None = None
        self._key = ""
        self._messages: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._can_write: asyncio.Event = asyncio.Event()
        self._can_write.set()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._open_timer = loop.call_later(OPEN_TIMEOUT, self._abort, "opening handshake timed out")
        self._close_timer: asyncio.TimerHandle | None = None

    # ---- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and transport.get_extra_info("sslcontext") is None \
                and sys.platform != "win32":
            self._fd = sock.fileno()
        if self.role == "client":
            self._send_request()

    def data_received(self, data: bytes) -> None:
        decoder = self._decoder
        if decoder is None:
            rest = self._handshake_received(data)
            decoder = self._decoder
            if decoder is None or not rest:
                return
            data = rest
        try:
            events = decoder.feed(data)
        except ProtocolError as exc:
            for event in exc.events:
                self._deliver(event)
            self._close_with_error(exc.code, exc.reason)
            return
        # The hot path of an echo server: a data message goes straight to the
        # callback; control frames, closes and recv() mode take _deliver.
        on_message = self.on_message
        for event in events:
            if on_message is not None and type(event) is Message and event.opcode <= _BINARY:
                on_message(self, event)
            else:
                self._deliver(event)

    def _handshake_received(self, data: bytes) -> bytes:
        """Collect the HTTP head; once complete, answer or check it and return
        what followed it (the first frames)."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD:
                self._fail_handshake(431, "request head too large")
            return b""
        head, rest = bytes(self._head[:end]), bytes(self._head[end + 4:])
        self._head = bytearray()
        try:
            self._server_handshake(head) if self.role == "server" else self._client_handshake(head)
        except HandshakeError as exc:
            self._fail_handshake(400, str(exc))
            return b""
        return rest

    def eof_received(self) -> bool | None:
        self._sendable = False
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        # asyncio closes the socket when this returns: no direct write after it.
        self._sendable = False
        self._fd = -1
        if self.close_code is None:
            self.close_code = CloseCode.ABNORMAL_CLOSURE
        for timer in (self._open_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._fail_open("connection lost during the handshake")
        if not self.closed.done():
            self.closed.set_result(None)
        self._wake()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(ConnectionClosed(self.close_code, self.close_reason))
        self._can_write.set()

    def pause_writing(self) -> None:
        # Back-pressure: stop reading (so a flood of pings or echoes cannot
        # fill our write buffer) until the transport drains.
        self._can_write.clear()
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._can_write.set()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # ---- opening handshake (RFC 6455 §4) ---------------------------------------------

    def _server_handshake(self, head: bytes) -> None:
        start, headers = _parse_head(head)
        method, _, rest = start.partition(" ")
        path, _, version = rest.rpartition(" ")
        if method != "GET" or version != "HTTP/1.1" or not path:
            raise HandshakeError(f"not a GET HTTP/1.1 request: {start!r}")
        if "websocket" not in _tokens(headers.get("upgrade", "")):
            raise HandshakeError("missing Upgrade: websocket")
        if "upgrade" not in _tokens(headers.get("connection", "")):
            raise HandshakeError("missing Connection: Upgrade")
        if headers.get("sec-websocket-version") != "13":
            raise HandshakeError("unsupported Sec-WebSocket-Version")
        if "host" not in headers:
            raise HandshakeError("missing Host")
        try:
            accept = accept_key(headers.get("sec-websocket-key", ""))
        except ValueError as exc:
            raise HandshakeError(str(exc)) from None
        self.path = path
        self.request_headers = headers
        response = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept}",
        ]
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        for protocol in offered:
            if protocol and protocol in self.subprotocols:
                self.subprotocol = protocol
                response.append(f"Sec-WebSocket-Protocol: {protocol}")
                break
        pmd = None
        if self.deflate and "sec-websocket-extensions" in headers:
            agreed = PerMessageDeflate.accept(headers["sec-websocket-extensions"])
            if agreed is not None:
                self.extensions, pmd = agreed
                response.append(f"Sec-WebSocket-Extensions: {self.extensions}")
        self._open(pmd)
        self._write(("\r\n".join(response) + "\r\n\r\n").encode("latin-1"))

    def _send_request(self) -> None:
        self._key = base64.b64encode(os.urandom(16)).decode()
        request = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.subprotocols:
            request.append(f"Sec-WebSocket-Protocol: {', '.join(self.subprotocols)}")
        if self.deflate:
            self._offer = PerMessageDeflate()
            request.append(f"Sec-WebSocket-Extensions: {self._offer.offer()}")
        self._write(("\r\n".join(request) + "\r\n\r\n").encode("latin-1"))

    def _client_handshake(self, head: bytes) -> None:
        start, headers = _parse_head(head)
        if not start.startswith("HTTP/1.1 101 "):
            raise HandshakeError(f"server refused the upgrade: {start!r}")
        if "websocket" not in _tokens(headers.get("upgrade", "")):
            raise HandshakeError("missing Upgrade: websocket")
        if "upgrade" not in _tokens(headers.get("connection", "")):
            raise HandshakeError("missing Connection: Upgrade")
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        protocol = headers.get("sec-websocket-protocol")
        if protocol is not None:
            if protocol not in self.subprotocols:
                raise HandshakeError(f"server chose a subprotocol we did not offer: {protocol!r}")
            self.subprotocol = protocol
        pmd = None
        extensions = headers.get("sec-websocket-extensions")
        if extensions is not None:
            if self._offer is None:
                raise HandshakeError("server answered an extension we did not offer")
            try:
                pmd = PerMessageDeflate.from_response(extensions, self._offer)
            except ValueError as exc:
                raise HandshakeError(f"bad permessage-deflate answer: {exc}") from None
            self.extensions = extensions
        self.request_headers = headers
        self._open(pmd)

    def _open(self, pmd: PerMessageDeflate | None) -> None:
        self._decoder = Decoder(role=self.role, max_message_size=self.max_message_size,
                                deflate=pmd)
        self._encoder = encoder = Encoder(role=self.role, deflate=pmd)
        self._encode_text = encoder.text
        self._encode_binary = encoder.binary
        self._sendable = True
        self._open_timer.cancel()
        if not self.opened.done():
            self.opened.set_result(None)

    def _fail_handshake(self, status: int, reason: str) -> None:
        if self.role == "server":
            body = reason.encode()
            self._write(f"HTTP/1.1 {status} Bad Request\r\nContent-Length: {len(body)}\r\n"
                        f"Connection: close\r\nContent-Type: text/plain\r\n\r\n".encode() + body)
        self._fail_open(reason)
        if self.transport is not None:
            self.transport.close()

    # ---- messages ------------------------------------------------------------------

    def _deliver(self, event: Message | Close) -> None:
        if isinstance(event, Close):
            self._on_close(event)
            return
        opcode = event.opcode
        if opcode == Opcode.PING:
            if not self.close_sent:
                self._write(self._encoder.pong(event.data))
            return
        if opcode == Opcode.PONG:
            waiter = self._pings.pop(bytes(event.data), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if self.on_message is not None:
            self.on_message(self, event)
        else:
            self._messages.append(event)
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def recv(self) -> str | bytes:
        """The next text (``str``) or binary (``bytes``) message.

        Raises:
            ConnectionClosed: the connection closed and every message was read.
        """
        while not self._messages:
            if self.closed.done() or self.close_code is not None:
                raise ConnectionClosed(self.close_code, self.close_reason)
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._messages.popleft().data

    def send(self, data: str | bytes, *, fragment_size: int | None = None) -> None:
        """Send a text (``str``) or binary message (no wait; see :meth:`drain`)."""
        if not self._sendable:
            raise ConnectionClosed(self.close_code, self.close_reason)
        if len(data) >= ZERO_COPY_MIN and (self._direct or self._can_write_directly()):
            if isinstance(data, str):
                parts = self._encoder.text_parts(data, fragment_size=fragment_size)
            else:
                parts = self._encoder.binary_parts(data, fragment_size=fragment_size)
            self._writev(parts)
            return
        if fragment_size is None:
            # The encoder's bound methods, looked up once in _open.
            frame = self._encode_text(data) if isinstance(data, str) else self._encode_binary(data)
        elif isinstance(data, str):
            frame = self._encoder.text(data, fragment_size=fragment_size)
        else:
            frame = self._encoder.binary(data, fragment_size=fragment_size)
        if self._direct or self._can_write_directly():
            # The transport's write() is Python code; when it holds nothing
            # unsent, one write(2) on the socket does the same (picows does
            # this too). What the socket does not take goes to the transport.
            try:
                sent = os.write(self._fd, frame)
            except OSError:
                # EAGAIN: the transport buffers it. Any other error: the
                # transport meets it again and closes the connection.
                sent = 0
            if sent == len(frame):
                return
            self._write(memoryview(frame)[sent:])
        else:
            self._write(frame)

    async def drain(self) -> None:
        """Wait until the transport accepts more data."""
        await self._can_write.wait()

    async def ping(self, data: bytes | None = None) -> None:
        """Send a ping and wait for its pong (§5.5.2, §5.5.3)."""
        payload = os.urandom(4) if data is None else data
        waiter = asyncio.get_running_loop().create_future()
        self._pings[payload] = waiter
        self._write(self._encoder.ping(payload))
        await waiter

    # ---- closing handshake (RFC 6455 §7) ----------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start (or finish) the closing handshake and wait until TCP is closed."""
        if not self.close_sent and self.transport is not None and not self.transport.is_closing():
            self._send_close(self._encoder.close(code, reason))
        await self.wait_closed()

    async def wait_closed(self) -> None:
        await self.closed

    def _send_close(self, frame: bytes) -> None:
        self.close_sent = True
        self._sendable = False
        self._write(frame)
        # §7.1.1: the server closes TCP first; the client waits for it, but
        # neither waits for ever.
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(CLOSE_TIMEOUT, self._abort, "closing timed out")

    def _on_close(self, event: Close) -> None:
        if self.close_code is None:
            self.close_code = CloseCode.NO_STATUS_RCVD if event.code is None else event.code
            self.close_reason = event.reason
        if not self.close_sent:
            # Echo the peer's code (§5.5.1); an empty close is answered empty.
            if event.code is None:
                from wsfast.frames import encode_frame

                frame = encode_frame(Opcode.CLOSE, b"", mask=self.role == "client")
            else:
                frame = self._encoder.close(event.code, event.reason)
            self._send_close(frame)
        if self.role == "server" and self.transport is not None:
            self.transport.close()
        self._wake()

    def _close_with_error(self, code: int, reason: str) -> None:
        """Fail the connection (§7.1.7): send a close frame with the error, then close."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        if not self.close_sent and self._encoder is not None:
            self._send_close(self._encoder.close(code, reason))
        self._sendable = False
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _abort(self, reason: str) -> None:
        if self.close_code is None:
            self.close_code = CloseCode.ABNORMAL_CLOSURE
            self.close_reason = reason
        self._fail_open(reason)
        self._sendable = False
        if self.transport is not None:
            self.transport.abort()

    def _fail_open(self, reason: str) -> None:
        if self.opened.done():
            return
        self.opened.set_exception(HandshakeError(reason))
        if self.role == "server":
            # Only connect() awaits `opened`; on a server nobody does, so mark
            # the exception as seen (a port probe is not worth a log line).
            self.opened.exception()

    def _can_write_directly(self) -> bool:
        """True (and remembered) when send() may write to the socket itself."""
        if self._fd < 0 or self.transport is None or self.transport.get_write_buffer_size():
            return False
        self._direct = True
        return True

    def _writev(self, parts: list[Any]) -> None:
        """Write an encoder's parts to the socket (the transport holds nothing
        unsent); what the socket does not take goes to the transport as one
        copy, so no part of the caller's buffer is referenced after send()."""
        sent = 0
        if len(parts) <= _IOV_MAX:
            try:
                sent = os.writev(self._fd, parts)
            except OSError:
                pass  # as in send(): the transport buffers it or meets the error
        for i, part in enumerate(parts):
            size = len(part)
            if sent < size:
                # A partial write may stop inside any part: resume there.
                rest = parts[i:]
                if sent:
                    rest[0] = memoryview(part)[sent:]
                self._write(b"".join(rest))
                return
            sent -= size

    def _write(self, data: bytes | memoryview) -> None:
        self._direct = False  # until the transport's buffer is seen empty again
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def serve(
    host: str,
    port: int,
    *,
    on_message: Callable[[WebSocket, Message], Any] | None = None,
    on_connect: Callable[[WebSocket], Any] | None = None,
    **options: Any,
) -> asyncio.Server:
    """Listen for WebSocket clients; ``options`` are :class:`WebSocket`'s keyword arguments.

    ``on_connect(ws)`` is called with each new connection (before its handshake).
    """
    loop = asyncio.get_running_loop()

    def factory() -> WebSocket:
        ws = WebSocket("server", on_message=on_message, **options)
        if on_connect is not None:
            on_connect(ws)
        return ws

    return await loop.create_server(factory, host, port)


async def connect(uri: str, **options: Any) -> WebSocket:
    """Open a client connection to ``ws://host:port/path``.

    Raises:
        HandshakeError: the server refused or answered an invalid handshake.
    """
    parts = urlsplit(uri)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"only ws:// URIs are supported, not {uri!r}")
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, ws = await loop.create_connection(
        lambda: WebSocket("client", request_path=path, host=f"{parts.hostname}:{port}", **options),
        parts.hostname, port,
    )
    await ws.opened
    return ws

