"""wsfast.integrations and wsfast.compat.wsaccel: patching and unchanged behaviour.

Each library is driven twice with the same input, as shipped and with wsfast
installed, and every output and exception must be the same (differential).
The libraries are test extras; the whole suite runs once per backend (the CI
runs it again under WSFAST_NO_EXTENSIONS=1), and the integrations use the
backend that ``wsfast`` selected.
"""

from __future__ import annotations

import codecs
import os
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from codec_util import mask_bytes

import wsfast
from wsfast import integrations
from wsfast.integrations import SUPPORTED, _current
from wsfast.integrations import websockets as websockets_integration

LIBRARIES = list(SUPPORTED)
SEED = 20240607


pytestmark = pytest.mark.usefixtures("no_integrations_installed")


def patch_targets(name: str) -> list[tuple[Any, str, Any]]:
    """(owner, attribute, value now) for each attribute ``install(name)`` replaces."""
    return [
        (owner, attribute, _current(owner, attribute))
        for owner, attribute, _ in integrations._patches_for(name)
    ]


def differential(name: str, run: Callable[[], Any],
                 check: Callable[[Any, Any], None] | None = None,
                 may_raise: tuple[type[BaseException], ...] = ()) -> Any:
    """``run()`` without and with ``install(name)``; the results must be equal
    (or pass ``check(expected, actual)``).

    The baseline run must succeed, or raise one of ``may_raise``: a broken
    harness raises the same error twice and would otherwise compare equal.
    """
    integrations.uninstall(name)
    expected = outcome(run)
    assert_baseline(expected, may_raise)
    integrations.install(name)
    try:
        actual = outcome(run)
    finally:
        integrations.uninstall(name)
    if check is None:
        assert actual == expected
    else:
        check(expected, actual)
    return expected


def same_or_failed_earlier(expected: Any, actual: Any) -> None:
    """Equal, or both fail with the same error and ``actual`` fails first.

    Invalid UTF-8 is refused at the first impossible byte with wsfast (the
    RFC 6455 §8.1 "fail fast"), where CPython's decoder may wait for the next
    frame: events before the error are the same, only fewer of them.
    """
    if actual == expected:
        return
    *events, error = actual[1]
    *expected_events, expected_error = expected[1]
    assert error == expected_error
    assert expected_events[: len(events)] == events


def assert_baseline(expected: Any, may_raise: tuple[type[BaseException], ...] = ()) -> None:
    if expected[0] == "raised":
        assert issubclass(expected[1], may_raise), f"the library itself failed: {expected[1:]}"


def outcome(run: Callable[[], Any]) -> Any:
    try:
        return ("ok", run())
    except Exception as exc:  # the exception itself is part of the behaviour
        return ("raised", type(exc), str(exc))


# ---- install / uninstall ----------------------------------------------------------


@pytest.mark.parametrize("name", LIBRARIES)
def test_install_replaces_and_uninstall_restores(name: str) -> None:
    before = patch_targets(name)
    assert before, f"{name}: nothing to patch"
    assert integrations.install(name) == [name]
    for owner, attribute, original in before:
        assert _current(owner, attribute) is not original, f"{owner}.{attribute} not patched"
    integrations.uninstall(name)
    for owner, attribute, original in before:
        assert _current(owner, attribute) is original, f"{owner}.{attribute} not restored"
    assert integrations.installed() == []


@pytest.mark.parametrize("name", LIBRARIES)
def test_install_is_idempotent(name: str) -> None:
    before = patch_targets(name)
    integrations.install(name)
    patched = [_current(owner, attribute) for owner, attribute, _ in before]
    assert integrations.install(name) == [name]
    assert [_current(owner, attribute) for owner, attribute, _ in before] == patched
    integrations.uninstall(name)
    integrations.uninstall(name)
    assert [_current(owner, attribute) for owner, attribute, _ in before] == [
        original for _, _, original in before
    ]


def test_install_all_and_uninstall_all() -> None:
    assert integrations.install() == LIBRARIES
    assert integrations.installed() == LIBRARIES
    integrations.uninstall()
    assert integrations.installed() == []


@pytest.mark.parametrize("name", LIBRARIES)
def test_absent_library_raises_import_error_naming_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules makes `import name` raise ImportError.
    monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=name) as info:
        integrations.install(name)
    assert info.value.name == name
    assert integrations.installed() == []
    # With no names, an absent library is left out instead.
    assert name not in integrations.install()


def test_unknown_library() -> None:
    with pytest.raises(ValueError, match="unknown library 'nope'"):
        integrations.install("nope")
    with pytest.raises(ValueError, match="unknown library 'nope'"):
        integrations.uninstall("nope")


def test_classmethod_restored_as_classmethod() -> None:
    from websockets.frames import Frame

    original = vars(Frame)["parse"]
    integrations.install("websockets")
    assert isinstance(vars(Frame)["parse"], classmethod)
    integrations.uninstall("websockets")
    assert vars(Frame)["parse"] is original


def test_websockets_legacy_imported_while_installed_is_restored() -> None:
    # websockets.legacy.framing binds apply_mask when first imported.
    import warnings

    sys.modules.pop("websockets.legacy.framing", None)
    integrations.install("websockets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy import framing
    assert framing.apply_mask is websockets_integration.apply_mask
    integrations.uninstall("websockets")
    from websockets import frames

    assert framing.apply_mask is frames.apply_mask


# ---- inputs -----------------------------------------------------------------------


def masks_and_payloads(rng: random.Random) -> Iterator[tuple[bytes, bytes]]:
    for size in [*range(0, 70), 125, 126, 127, 1000, 4095, 65536, 70001]:
        yield rng.randbytes(4), rng.randbytes(size)


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
          key: bytes | None = None, length_bytes: int | None = None) -> bytes:
    """A frame as a peer would send it, not checked (RFC 6455 §5.2).

    ``length_bytes`` (0, 2 or 8) forces the size of the extended length,
    which is otherwise the shortest one.
    """
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0 if key is None else 0x80
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n <= 0xFFFF else 8
    if length_bytes == 0:
        header = bytes((first, mask_bit | n))
    elif length_bytes == 2:
        header = bytes((first, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + n.to_bytes(8, "big")
    if key is None:
        return header + payload
    return header + key + mask_bytes(payload, key)


def text(rng: random.Random, n: int) -> bytes:
    alphabet = "aé€😀 z"
    return "".join(rng.choice(alphabet) for _ in range(n)).encode()


def frame_stream(rng: random.Random, *, masked: bool) -> bytes:
    """Valid messages, fragments and control frames, maybe followed by a corruption."""
    parts = []
    for _ in range(rng.randrange(1, 6)):
        key = rng.randbytes(4) if masked else None
        kind = rng.randrange(7)
        size = rng.choice([0, 1, 5, 125, 126, 300, 65535, 65536, 70000])
        if kind == 0:
            parts.append(frame(1, text(rng, size // 4), key=key))
        elif kind == 1:
            parts.append(frame(2, rng.randbytes(size), key=key))
        elif kind == 2:  # fragmented text, a ping in between
            data = text(rng, 40)
            parts.append(frame(1, data[:7], fin=False, key=key))
            parts.append(frame(9, b"ping", key=key))
            parts.append(frame(0, data[7:], key=key))
        elif kind == 3:
            parts.append(frame(10, rng.randbytes(rng.randrange(126)), key=key))
        elif kind == 4:  # an invalid frame: reserved opcode or RSV bit
            parts.append(frame(rng.choice([3, 11]), b"x", key=key) if rng.random() < 0.5
                         else frame(rng.choice([1, 2]), b"abc", rsv=rng.choice([1, 2, 4]), key=key))
        elif kind == 5:
            parts.append(frame(1, b"\xed\xa0\x80" if rng.random() < 0.5 else b"ok", key=key))
        else:  # a header that wsfast refuses: a longer length than needed, a bad control frame
            parts.append(rng.choice([
                frame(2, rng.randbytes(rng.choice([3, 300])), length_bytes=8, key=key),
                frame(2, rng.randbytes(3), length_bytes=2, key=key),
                frame(9, b"ping", fin=False, key=key),
                frame(10, rng.randbytes(126), key=key),
            ]))
    if rng.random() < 0.3:  # wrong masking for the role
        parts.append(frame(2, b"xy", key=None if masked else b"\x01\x02\x03\x04"))
    if rng.random() < 0.3:
        parts.append(frame(8, (1000).to_bytes(2, "big") + b"bye", key=rng.randbytes(4)
                           if masked else None))
    stream = bytearray(b"".join(parts))
    if stream and rng.random() < 0.3:
        stream[rng.randrange(len(stream))] ^= 1 << rng.randrange(8)
    return bytes(stream)


def chunked(rng: random.Random, data: bytes) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(0, 8))))
    if rng.random() < 0.2 and len(data) < 400:
        cuts = list(range(1, len(data)))  # one byte at a time
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


# ---- websockets -------------------------------------------------------------------

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_websockets_apply_mask() -> None:
    from websockets import frames

    rng = random.Random(SEED)
    for key, payload in masks_and_payloads(rng):
        for data in (payload, bytearray(payload), memoryview(payload)[1:],
                     memoryview(payload)[::-1]):
            differential("websockets", lambda: frames.apply_mask(data, key))
    # A short mask is a ValueError either way (websockets' message differs).
    for installed in (False, True):
        if installed:
            integrations.install("websockets")
        with pytest.raises(ValueError):
            frames.apply_mask(b"abc", b"123")


def run_websockets(chunks: list[bytes], server: bool, max_size: int | None) -> list[Any]:
    from websockets.client import ClientProtocol
    from websockets.protocol import OPEN, Protocol, Side

    if server:
        from websockets.server import ServerProtocol

        protocol: Protocol = ServerProtocol(max_size=max_size)
        protocol.receive_data(HANDSHAKE)
        (request,) = protocol.events_received()
        protocol.send_response(protocol.accept(request))
    else:
        protocol = Protocol(Side.CLIENT, state=OPEN, max_size=max_size)
        assert not isinstance(protocol, ClientProtocol)
    protocol.data_to_send()
    log: list[Any] = []
    for chunk in chunks:
        protocol.receive_data(chunk)
        for event in protocol.events_received():
            log.append((event.opcode, bytes(event.data), type(event.data), event.fin, event.rsv1))
        sent = [without_key(data) for data in protocol.data_to_send()]
        log.append((sent, protocol.state, repr(protocol.parser_exc)))
    return log


def without_key(data: bytes) -> bytes:
    """A frame a client sent, unmasked and with its random key zeroed."""
    if len(data) < 2 or not data[1] & 0x80:
        return data
    start = {126: 4, 127: 10}.get(data[1] & 0x7F, 2)
    key = data[start : start + 4]
    return data[:start] + bytes(4) + mask_bytes(data[start + 4 :], key)


@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
def test_websockets_receive_path(server: bool) -> None:
    rng = random.Random(SEED + server)
    for _ in range(150):
        chunks = chunked(rng, frame_stream(rng, masked=server))
        max_size = rng.choice([None, 2**20, 200])
        differential("websockets", lambda: run_websockets(chunks, server, max_size))


def test_websockets_utf8_decoder() -> None:
    from websockets.asyncio import messages

    integrations.install("websockets")
    assert messages.UTF8Decoder is not codecs.getincrementaldecoder("utf-8")
    assert messages.UTF8Decoder().decode(b"caf\xc3\xa9", True) == "café"


# ---- wsproto ----------------------------------------------------------------------


def run_wsproto(chunks: list[bytes], client: bool) -> list[Any]:
    from wsproto.frame_protocol import FrameProtocol, ParseFailed

    protocol = FrameProtocol(client=client, extensions=[])
    log: list[Any] = []
    try:
        for chunk in chunks:
            protocol.receive_bytes(chunk)
            for event in protocol.received_frames():
                log.append(tuple(event))
    except ParseFailed as exc:
        log.append(("ParseFailed", str(exc), exc.code))
    return log


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_wsproto_receive_path(client: bool) -> None:
    rng = random.Random(SEED + client)
    for _ in range(150):
        chunks = chunked(rng, frame_stream(rng, masked=not client))
        differential("wsproto", lambda: run_wsproto(chunks, client), same_or_failed_earlier)


def test_wsproto_masker_continues_across_calls() -> None:
    from wsproto import frame_protocol

    rng = random.Random(SEED)
    for key, payload in masks_and_payloads(rng):
        def run() -> Any:
            masker = frame_protocol.XorMaskerSimple(key)
            pieces = chunked(rng, payload) if len(payload) > 1 else [payload]
            return [bytes(masker.process(bytearray(piece))) for piece in pieces]

        state = rng.getstate()
        expected = outcome(run)
        assert_baseline(expected)
        integrations.install("wsproto")
        rng.setstate(state)
        try:
            assert outcome(run) == expected
            assert type(frame_protocol.XorMaskerSimple(key).process(b"ab")) is bytearray
        finally:
            integrations.uninstall("wsproto")


def test_wsproto_send_path() -> None:
    from wsproto.frame_protocol import FrameProtocol

    def run() -> Any:
        protocol = FrameProtocol(client=True, extensions=[])
        wire = bytes(protocol.send_data("héllo" * 50))
        # Unmask with the key on the wire: the payload must be the text.
        key, body = wire[4:8], wire[8:]
        return mask_bytes(body, key)

    differential("wsproto", run)


# ---- tornado, aiohttp, autobahn ---------------------------------------------------


def test_tornado_mask() -> None:
    from tornado import util, websocket

    rng = random.Random(SEED)
    for key, payload in masks_and_payloads(rng):
        differential("tornado", lambda: websocket._websocket_mask(key, payload))
        differential("tornado", lambda: util._websocket_mask(key, payload))
    integrations.install("tornado")
    assert type(websocket._websocket_mask(b"abcd", bytearray(b"xyz"))) is bytes


def test_aiohttp_mask_in_place() -> None:
    from aiohttp._websocket import writer

    rng = random.Random(SEED)
    for key, payload in masks_and_payloads(rng):
        def run() -> Any:
            buffer = bytearray(payload)
            return writer.websocket_mask(key, buffer), bytes(buffer)

        differential("aiohttp", run)


def test_aiohttp_writer_frames() -> None:
    # The client writer masks with websocket_mask; unmasking its output with
    # the key on the wire (by a test-local XOR, not wsfast) must give the payload back.
    from aiohttp._websocket.writer import WebSocketWriter

    class Transport:
        def __init__(self) -> None:
            self.out = b""

        def write(self, data: bytes) -> None:
            self.out += data

        def is_closing(self) -> bool:
            return False

    payload = os.urandom(1000)
    integrations.install("aiohttp")
    transport = Transport()
    WebSocketWriter(None, transport, use_mask=True)._write_websocket_frame(payload, 2, 0)  # type: ignore[arg-type]
    assert mask_bytes(transport.out[8:], transport.out[4:8]) == payload


def test_aiohttp_zlib_backend_restored() -> None:
    from aiohttp import compression_utils

    before = compression_utils.ZLibBackend._zlib_backend
    integrations.install("aiohttp")
    integrations.uninstall("aiohttp")
    assert compression_utils.ZLibBackend._zlib_backend is before


def test_autobahn_maskers() -> None:
    from autobahn.websocket import protocol

    rng = random.Random(SEED)
    for key, payload in masks_and_payloads(rng):
        cuts = chunked(rng, payload) if len(payload) > 1 else [payload]

        def run() -> Any:
            masker = protocol.create_xor_masker(key, len(payload))
            out = [masker.process(piece) for piece in cuts]
            pointer = masker.pointer()
            masker.reset()
            null = protocol.XorMaskerNull()
            return out, pointer, masker.pointer(), null.process(payload), null.pointer()

        differential("autobahn", run)


# ---- UTF-8: autobahn's validator, the wsaccel API, the incremental decoder ----------


def utf8_cases(rng: random.Random) -> Iterator[list[bytes]]:
    """Chunked inputs: valid text, single-byte corruptions, classic invalid sequences."""
    specials = [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xff",
                b"\xf0\x9f\x98", b"\xc3", b"\x80", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"]
    for _ in range(300):
        data = bytearray(text(rng, rng.randrange(0, 40)))
        roll = rng.random()
        if roll < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif roll < 0.6:
            data[rng.randrange(len(data) + 1):0] = rng.choice(specials)
        data = bytes(data)
        yield chunked(rng, data) if len(data) > 1 else [data]


def wsaccel_reference(chunks: list[bytes]) -> list[Any]:
    from wsaccel.utf8validator import Utf8Validator

    validator = Utf8Validator()
    results = [validator.validate(chunk) for chunk in chunks]
    results.append(validator.validate(b""))
    results.append(validator.validate(b"a"))  # sticky after a failure
    return results


def test_autobahn_utf8_validator_matches_wsaccel() -> None:
    from autobahn.websocket import protocol

    integrations.install("autobahn")
    rng = random.Random(SEED)
    for chunks in utf8_cases(rng):
        validator = protocol.Utf8Validator()
        results = [validator.validate(chunk) for chunk in chunks]
        results += [validator.validate(b""), validator.validate(b"a")]
        assert results == wsaccel_reference(chunks), chunks


def test_compat_wsaccel_matches_wsaccel() -> None:
    import wsaccel.utf8validator
    import wsaccel.xormask

    from wsfast.compat import wsaccel as compat

    rng = random.Random(SEED)
    for chunks in utf8_cases(rng):
        validator = compat.Utf8Validator()
        results = [validator.validate(chunk) for chunk in chunks]
        results += [validator.validate(b""), validator.validate(b"a")]
        assert results == wsaccel_reference(chunks), chunks
        validator.reset()
        assert validator.validate(b"ok") == (True, True, 2, 2)
    for key, payload in masks_and_payloads(rng):
        for ours, theirs in [
            (compat.XorMaskerSimple(key), wsaccel.xormask.XorMaskerSimple(key)),
            (compat.createXorMasker(key, len(payload)), wsaccel.xormask.createXorMasker(key, len(payload))),
            (compat.XorMaskerNull(), wsaccel.xormask.XorMaskerNull()),
        ]:
            for piece in chunked(rng, payload) if len(payload) > 1 else [payload]:
                assert ours.process(piece) == theirs.process(piece)
                assert ours.pointer() == theirs.pointer()
            ours.reset()
            theirs.reset()
            assert ours.pointer() == theirs.pointer() == 0
    with pytest.raises(ValueError):
        compat.XorMaskerSimple(b"abc")


def decode_all(factory: Callable[[], Any], chunks: list[bytes]) -> Any:
    decoder = factory()
    out = []
    for i, chunk in enumerate(chunks):
        try:
            out.append(decoder.decode(chunk, i == len(chunks) - 1))
        except UnicodeDecodeError as exc:
            return ("error", i, "".join(out), exc.reason)
    return ("ok", "".join(out))


def test_incremental_decoder_same_text_fails_no_later() -> None:
    from wsfast._adapters import Utf8IncrementalDecoder

    cpython = codecs.getincrementaldecoder("utf-8")
    rng = random.Random(SEED)
    for chunks in utf8_cases(rng):
        ours = decode_all(Utf8IncrementalDecoder, chunks)
        theirs = decode_all(cpython, chunks)
        assert ours[0] == theirs[0], chunks
        if ours[0] == "ok":
            assert ours == theirs
        else:
            # Fail-fast: the same error, raised by the same call or an earlier one.
            assert ours[1] <= theirs[1], chunks
            assert theirs[2].startswith(ours[2])


def test_incremental_decoder_fails_fast_on_surrogate() -> None:
    from wsfast._adapters import Utf8IncrementalDecoder

    decoder = Utf8IncrementalDecoder()
    assert decoder.decode(b"ab\xf0\x9f", False) == "ab"
    assert decoder.getstate() == (b"\xf0\x9f", 0)
    assert decoder.decode(b"\x98\x80", False) == "😀"
    with pytest.raises(UnicodeDecodeError, match="invalid continuation byte"):
        decoder.decode(b"x\xed\xa0", False)  # CPython's own decoder waits here
    assert codecs.getincrementaldecoder("utf-8")().decode(b"x\xed\xa0", False) == "x"


def test_parse_header_on_any_buffer() -> None:
    from wsfast._adapters import parse_header
    from wsfast.constants import FRAME_E_MASKED, FRAME_E_RSV, FRAME_E_TOO_BIG, FRAME_NEED_MORE

    key = b"\x01\x02\x03\x04"
    payload = bytes(300)
    wire = b"junk" + frame(2, payload, rsv=4, key=key)
    expected = (8, 0xC2, 300, int.from_bytes(key, "little"))
    assert parse_header(wire, True, pos=4) == expected
    for buffer in (bytearray(wire[4:]), memoryview(wire)[4:], bytearray(wire[4:12])):
        assert parse_header(buffer, True) == expected
    assert parse_header(bytearray(wire[4:11]), True)[0] == FRAME_NEED_MORE
    assert parse_header(wire, True, allowed_rsv=0, pos=4)[0] == FRAME_E_RSV
    assert parse_header(wire, False, pos=4)[0] == FRAME_E_MASKED
    assert parse_header(wire, True, max_length=299, pos=4)[0] == FRAME_E_TOO_BIG
