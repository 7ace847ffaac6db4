"""wsfast.integrations.websockets on websockets' legacy asyncio protocol
(``websockets.legacy``, what uvicorn's ``--ws websockets`` runs).

Differential, as in test_integrations.py: ``Frame.read`` is driven with the
same bytes, split the same way, as shipped and with wsfast installed, and the
frames, the exception, what is left in the stream's buffer and the transport's
pause/resume calls must be the same.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from test_integrations import chunked, differential, frame, frame_stream

from wsfast import integrations

SEED = 20261204
KEY = b"\x01\x80\xfe\x7f"


pytestmark = pytest.mark.usefixtures("no_integrations_installed")


@pytest.fixture()
def _legacy_modules() -> Iterator[None]:
    """Import websockets.legacy.framing before install(), as uvicorn does; then
    forget the websockets.legacy modules these tests imported, so other tests
    that import them fresh (test_integrations.py) see a first import."""
    before = set(sys.modules)
    legacy_framing()
    yield
    for name in set(sys.modules) - before:
        if name.startswith("websockets.legacy"):
            del sys.modules[name]
    if "websockets.legacy" not in sys.modules:
        import websockets

        vars(websockets).pop("legacy", None)


def legacy_framing() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # websockets.legacy is deprecated
        from websockets.legacy import framing
    return framing


class Transport:
    """What StreamReader asks of its transport: flow control, recorded in
    order with the frames read (a transport cannot see how full the buffer is
    when called: the original may take a frame in several steps)."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def pause_reading(self) -> None:
        self.log.append("pause")

    def resume_reading(self) -> None:
        self.log.append("resume")


def run_legacy_read(chunks: list[bytes], *, max_size: int | None = None, pause: bool = True,
                    mask: bool = True, limit: int | None = None, deflate: bool = False,
                    fail_at: int | None = None, eof: bool = True,
                    reader: str = "readexactly") -> list[Any]:
    """Frame.read until an error: the frames, the error, the transport's
    flow control calls and the bytes left in the buffer, in order.

    ``pause``: the reader runs after each chunk (else all chunks come at once);
    ``limit``: the stream's limit, with a transport that records pause/resume;
    ``fail_at``: set_exception() right after that chunk is fed;
    ``reader``: "readexactly", "lambda" (a custom reader) or "subclass" (a
    StreamReader subclass).
    """
    frame_class = legacy_framing().Frame
    extensions: list[Any] | None = None
    if deflate:
        from websockets.extensions.permessage_deflate import PerMessageDeflate

        extensions = [PerMessageDeflate(False, False, 15, 15)]

    async def main() -> list[Any]:
        stream_class = asyncio.StreamReader
        if reader == "subclass":
            stream_class = type("Reader", (asyncio.StreamReader,), {})
        stream = stream_class() if limit is None else stream_class(limit=limit)
        log: list[Any] = []
        if limit is not None:
            stream.set_transport(Transport(log))  # type: ignore[arg-type]

        async def feed() -> None:
            for index, chunk in enumerate(chunks):
                stream.feed_data(chunk)
                if index == fail_at:
                    stream.set_exception(ConnectionResetError("reset"))
                    return
                if pause:
                    await asyncio.sleep(0)
            if eof:
                stream.feed_eof()

        read_exactly: Any = stream.readexactly
        if reader == "lambda":
            read_exactly = lambda n: stream.readexactly(n)  # noqa: E731
        feeder = asyncio.ensure_future(feed())
        try:
            while True:
                got = await asyncio.wait_for(
                    frame_class.read(read_exactly, mask=mask, max_size=max_size,
                                     extensions=extensions),
                    5)
                log.append((type(got).__name__, tuple(got), type(got.data)))
        except Exception as exc:  # the error is part of the behaviour
            log.append((type(exc), str(exc), getattr(exc, "partial", None),
                        getattr(exc, "expected", None)))
        await feeder
        log.append(bytes(stream._buffer))  # type: ignore[attr-defined]
        return log

    return asyncio.run(main())


def compare(chunks: list[bytes], **options: Any) -> Any:
    return differential("websockets", lambda: run_legacy_read(chunks, **options))


def splits(data: bytes) -> Iterator[list[bytes]]:
    """``data`` cut once at every position, then one byte at a time."""
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]
    yield [data[i : i + 1] for i in range(len(data))]


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_differential() -> None:
    rng = random.Random(SEED)
    for _ in range(150):
        mask = rng.random() < 0.8
        chunks = chunked(rng, frame_stream(rng, masked=mask))
        max_size = rng.choice([None, 2**20, 200])
        pause = rng.random() < 0.7
        compare(chunks, max_size=max_size, pause=pause, mask=mask)


@pytest.mark.usefixtures("_legacy_modules")
@pytest.mark.parametrize("mask", [True, False])
def test_websockets_legacy_read_split_everywhere(mask: bool) -> None:
    # A 16-bit and a 64-bit length, a ping between two fragments, a close:
    # every header field and the key cut at every byte.
    key = KEY if mask else None
    stream = b"".join([
        frame(1, b"hello", key=key),
        frame(2, bytes(range(256)) * 2, key=key, fin=False),
        frame(9, b"ping", key=key),
        frame(0, b"", key=key),
        frame(2, b"z" * 65537, key=key),
        frame(8, b"\x03\xe8bye", key=key),
    ])
    small = stream[: 2 + (4 if mask else 0) + 5 + 4 + (4 if mask else 0) + 512 + 20]
    for chunks in splits(small):
        compare(chunks, mask=mask)
    rng = random.Random(SEED)
    for _ in range(60):
        compare(chunked(rng, stream), mask=mask, max_size=rng.choice([None, 65536]))
    # All frames in one chunk, and the stream cut short at every frame boundary.
    compare([stream], mask=mask)
    compare([stream], mask=mask, pause=False)


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_bad_headers() -> None:
    cases = [
        frame(3, b"x", key=KEY),  # reserved opcodes
        frame(11, b"x", key=KEY),
        frame(1, b"abc", rsv=4, key=KEY),  # RSV bits, no extension
        frame(2, b"abc", rsv=1, key=KEY),
        frame(1, b"abc"),  # not masked from a client
        frame(2, b"abc", length_bytes=2, key=KEY),  # non-minimal lengths (websockets takes them)
        frame(2, b"x" * 300, length_bytes=8, key=KEY),
        frame(9, b"ping", fin=False, key=KEY),  # bad control frames
        frame(10, b"x" * 126, key=KEY),
        frame(8, b"\x03", key=KEY),  # a 1-byte close is the caller's problem
        bytes((0x82, 0xFF)) + (2**63).to_bytes(8, "big") + KEY + b"abc",  # length MSB set
    ]
    for bad in cases:
        for stream in (bad, frame(1, b"ok", key=KEY) + bad + frame(2, b"after", key=KEY)):
            for chunks in splits(stream):
                compare(chunks, max_size=2**20)
            compare([stream], max_size=None)


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_max_size() -> None:
    for max_size in (-1, 0, 4, 125, 126, 65535, 65536, 2**70, 100.5, float("inf"),
                     float("nan")):
        for size in (0, 4, 5, 125, 126, 65535, 65536, 65537):
            data = frame(2, b"q" * size, key=KEY)
            compare([data[:7], data[7:]], max_size=max_size)
            compare([data], max_size=max_size, pause=False)
    # A frame declaring more than max_size is refused from its header: the
    # payload is never waited for (no EOF here, the read would hang).
    for length_bytes, size in ((2, 1000), (8, 2**40)):
        header = frame(2, b"", key=KEY, length_bytes=length_bytes)
        header = header[:2] + size.to_bytes(length_bytes, "big") + KEY
        for chunks in splits(header):
            compare(chunks, max_size=999, eof=False)
    # A huge declared length within max_size: what arrives is buffered, no more.
    header = bytes((0x82, 0xFF)) + (2**40).to_bytes(8, "big") + KEY
    compare([header, b"a" * 100_000, b"b" * 100_000], max_size=None)


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_eof_and_exception() -> None:
    frames = [frame(1, b"one", key=KEY), frame(2, b"x" * 70000, key=KEY),
              frame(9, b"p", key=KEY), frame(2, b"y" * 300, key=KEY)]
    stream = b"".join(frames)
    starts = [sum(map(len, frames[:i])) for i in range(len(frames))]
    rng = random.Random(SEED)
    near_starts = [cut for start in starts for cut in range(start, start + 20)]
    for cut in [*near_starts, *rng.sample(range(len(stream)), 30), len(stream) - 1]:
        compare([stream[:cut]])  # EOF mid-frame: IncompleteReadError, same partial bytes
        compare([stream[:cut]], pause=False)
        # Paused by a full buffer, then EOF: resumed or not as the original.
        compare([stream[:cut]], limit=4)
    for _ in range(80):
        chunks = chunked(rng, stream)
        # The stream's exception set right after some chunk, before the read resumes.
        compare(chunks, fail_at=rng.randrange(len(chunks)))
    for cut in range(1, 20):
        compare([stream[:cut], stream[cut:]], fail_at=0)
        compare([stream[:cut], stream[cut:]], fail_at=1)


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_flow_control() -> None:
    # A small limit: the transport is paused past 2 * limit buffered bytes and
    # resumed when a read takes the buffer back under the limit, or waits.
    rng = random.Random(SEED)
    stream = b"".join([frame(2, rng.randbytes(n), key=KEY) for n in (3, 40, 126, 300, 1000)])
    for limit in (1, 8, 64, 200):
        for chunks in splits(stream[:400]):
            compare(chunks, limit=limit)
        for _ in range(30):
            compare(chunked(rng, stream), limit=limit)
            compare(chunked(rng, stream), limit=limit, pause=False)
    # The default limit with 64 KiB messages (uvicorn's largest benchmark size).
    big = b"".join(frame(2, rng.randbytes(65536), key=KEY) for _ in range(3))
    for size in (1000, 16384, 65536, 65550):
        compare([big[i : i + size] for i in range(0, len(big), size)], limit=32768)


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_read_extensions_and_readers() -> None:
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Frame, Opcode

    deflate = PerMessageDeflate(False, False, 15, 15)
    rng = random.Random(SEED)
    messages = [b"", b"abc" * 100, rng.randbytes(2000)]
    stream = b"".join(
        Frame(Opcode.BINARY, data).serialize(mask=True, extensions=[deflate])
        for data in messages
    ) + frame(1, b"plain", key=KEY) + frame(1, b"bad", rsv=2, key=KEY)
    for _ in range(30):
        compare(chunked(rng, stream), deflate=True)
    for reader in ("lambda", "subclass"):
        for _ in range(10):
            compare(chunked(rng, stream), deflate=True, reader=reader)


class WriteTransport(asyncio.Transport):
    """A transport that records what is written."""

    def __init__(self, sent: list[bytes]) -> None:
        super().__init__()
        self.sent = sent

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.sent.append(b"<close>")

    def abort(self) -> None:
        self.sent.append(b"<abort>")

    def can_write_eof(self) -> bool:
        return False

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.sent.append(b"<pause>")

    def resume_reading(self) -> None:
        self.sent.append(b"<resume>")


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_protocol_differential(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole legacy protocol, as uvicorn drives it (and as a client): frames
    in, messages and echoes out, debug logging on or off."""
    from websockets.legacy.protocol import WebSocketCommonProtocol

    rng = random.Random(SEED)

    def run(chunks: list[bytes], max_size: int | None, client: bool, debug: bool) -> list[Any]:
        keys = iter(random.Random(SEED).randbytes(4) for _ in range(1000))
        monkeypatch.setattr("secrets.token_bytes", lambda n: next(keys))
        logged: list[str] = []

        async def main() -> list[Any]:
            sent: list[bytes] = []
            transport = WriteTransport(sent)
            protocol = WebSocketCommonProtocol(max_size=max_size, ping_interval=None,
                                               close_timeout=0.01)
            protocol.is_client = client
            protocol.debug = debug
            protocol.logger = type("Logger", (), {  # type: ignore[assignment]
                "debug": lambda self, msg, *args, **kw: logged.append(msg % args),
                "error": lambda self, msg, *args, **kw: logged.append(msg % args)})()
            protocol.connection_made(transport)  # type: ignore[arg-type]
            protocol.connection_open()
            received: list[Any] = []
            for chunk in chunks:
                protocol.data_received(chunk)
                await asyncio.sleep(0)
            protocol.eof_received()
            while True:
                try:
                    message = await asyncio.wait_for(protocol.recv(), 5)
                    received.append(message)
                    await protocol.send(message)  # an echo server
                except Exception as exc:
                    received.append((type(exc).__name__, str(exc)))
                    break
            return [received, sent, logged]

        return asyncio.run(main())

    for _ in range(60):
        client = rng.random() < 0.3
        chunks = chunked(rng, frame_stream(rng, masked=not client))
        max_size = rng.choice([None, 2**20, 200])
        debug = rng.random() < 0.3
        differential("websockets", lambda: run(chunks, max_size, client, debug))


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_write_frame_sync_differential(monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.exceptions import ProtocolError
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Opcode
    from websockets.legacy.protocol import WebSocketCommonProtocol

    rng = random.Random(SEED)
    # A fixed key sequence, so masked output compares too.
    keys = iter(rng.randbytes(4) for _ in range(10**6))
    monkeypatch.setattr("secrets.token_bytes", lambda n: next(keys))
    records: list[str] = []

    def run(fin: bool, opcode: Any, data: Any, client: bool, debug: bool,
            deflate: bool, key_state: Any) -> list[Any]:
        sent: list[bytes] = []
        protocol = WebSocketCommonProtocol(ping_interval=None)
        protocol.is_client = client
        protocol.transport = WriteTransport(sent)
        protocol.debug = debug
        protocol.logger = type("Logger", (), {  # type: ignore[assignment]
            "debug": lambda self, msg, *args: records.append(msg % args)})()
        if deflate:
            protocol.extensions = [PerMessageDeflate(False, False, 15, 15)]
        rng.setstate(key_state)
        keys_now = iter(rng.randbytes(4) for _ in range(4))
        monkeypatch.setattr("secrets.token_bytes", lambda n: next(keys_now))
        del records[:]
        try:
            protocol.write_frame_sync(fin, opcode, data)
        except Exception as exc:
            sent.append((type(exc), str(exc)))  # type: ignore[arg-type]
        return [sent, list(records)]

    payload = rng.randbytes(70000)
    opcodes: list[Any] = [*Opcode, 1, 2, 3, 11, 1.0, "x", None]
    loop = asyncio.new_event_loop()  # the protocol takes the current loop
    asyncio.set_event_loop(loop)
    try:
        write_cases(run, payload, opcodes, rng, ProtocolError)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def write_cases(run: Any, payload: bytes, opcodes: list[Any], rng: random.Random,
                protocol_error: type[Exception]) -> None:
    for size in (0, 1, 125, 126, 65535, 65536, 70000):
        # (A str is refused by apply_mask on a client, with another message.)
        for data in (payload[:size], bytearray(payload[:size]), memoryview(payload[:size])):
            for opcode in opcodes:
                for fin in (True, False):
                    for client in (False, True):
                        debug = rng.random() < 0.1
                        deflate = rng.random() < 0.1
                        state = rng.getstate()
                        differential("websockets", lambda: run(fin, opcode, data, client, debug,
                                                               deflate, state),
                                     may_raise=(protocol_error,))


@pytest.mark.usefixtures("_legacy_modules")
def test_websockets_legacy_patched_only_when_imported_first() -> None:
    from websockets.legacy.protocol import WebSocketCommonProtocol

    framing = legacy_framing()
    read = vars(framing.Frame)["read"]
    write_frame_sync = vars(WebSocketCommonProtocol)["write_frame_sync"]
    integrations.install("websockets")
    assert vars(framing.Frame)["read"] is not read
    assert vars(WebSocketCommonProtocol)["write_frame_sync"] is not write_frame_sync
    integrations.uninstall("websockets")
    assert vars(framing.Frame)["read"] is read
    assert vars(WebSocketCommonProtocol)["write_frame_sync"] is write_frame_sync
