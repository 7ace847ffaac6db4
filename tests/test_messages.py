"""Messages (RFC 6455 §5.4-§5.6, §7; RFC 7692): Message, Close, Decoder, Encoder.

Every test runs against each backend (``backend`` fixture).
"""

from __future__ import annotations

import os
import random
import struct

import pytest
from codec_util import (
    BINARY,
    CLOSE,
    CONTINUATION,
    DEFAULT_KEY,
    FEEDS,
    PING,
    PONG,
    TEXT,
    build,
    bytewise,
    event_tuple,
    parse_frames,
    random_splits,
    run,
    utf8_error_index,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsfast.constants import (
    ERR_CLOSE_CODE,
    ERR_CLOSE_ONE_BYTE,
    ERR_CLOSE_REASON,
    ERR_CONTINUATION,
    ERR_EXPECTED_CONTINUATION,
    ERR_MESSAGE_TOO_BIG,
    ERR_RSV1,
    ERR_TEXT,
    FRAME_E_RSV,
    FRAME_ERRORS,
    CloseCode,
    Opcode,
)
from wsfast.exceptions import ProtocolError

K = DEFAULT_KEY


def msg(opcode: int, data) -> tuple:
    return ("message", opcode, data)


def decode(backend, wire: bytes, feed: str = "whole", **kwargs):
    return run(backend.Decoder(**kwargs), FEEDS[feed](wire))


# ---- Reassembly (§5.4) -----------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
def test_fragmented_with_interleaved_control(backend, feed):
    wire = (
        build(TEXT, "hé".encode()[:2], fin=False, key=K)
        + build(PING, b"p1", key=K)
        + build(CONTINUATION, "hé".encode()[2:], fin=False, key=K)
        + build(PONG, b"", key=K)
        + build(CONTINUATION, b"llo", key=K)
        + build(BINARY, b"\x00\xff", key=K)
    )
    outcome = decode(backend, wire, feed)
    assert outcome.error is None
    assert outcome.events == [msg(PING, b"p1"), msg(PONG, b""), msg(TEXT, "héllo"), msg(BINARY, b"\x00\xff")]


@pytest.mark.parametrize("feed", FEEDS)
def test_empty_fragments(backend, feed):
    wire = (build(BINARY, b"", fin=False, key=K) + build(CONTINUATION, b"", fin=False, key=K)
            + build(CONTINUATION, b"", key=K) + build(TEXT, b"", fin=False, key=K)
            + build(CONTINUATION, b"x", key=K))
    assert decode(backend, wire, feed).events == [msg(BINARY, b""), msg(TEXT, "x")]


@pytest.mark.parametrize("wire, error", [
    (build(CONTINUATION, b"x", key=K), ERR_CONTINUATION),
    (build(CONTINUATION, b"x", fin=False, key=K), ERR_CONTINUATION),
    (build(TEXT, b"a", fin=False, key=K) + build(TEXT, b"b", key=K), ERR_EXPECTED_CONTINUATION),
    (build(BINARY, b"a", fin=False, key=K) + build(BINARY, b"b", fin=False, key=K), ERR_EXPECTED_CONTINUATION),
    (build(TEXT, b"a", fin=False, key=K) + build(BINARY, b"b", key=K), ERR_EXPECTED_CONTINUATION),
])
def test_continuation_rules(backend, wire, error):
    for feed in FEEDS:
        outcome = decode(backend, wire, feed)
        assert outcome.error == error
        assert outcome.sticky
    # Raised by the feed that delivers byte 0 of the offending frame.
    assert decode(backend, wire, "bytewise").error_at == len(wire) - len(build(0, b"b", key=K))


# ---- Text (§5.6, §8.1): fail-fast UTF-8 ---------------------------------------------------


INVALID = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\x80",
           b"\xce", b"\xf0\x9f\x98", b"a\x80", b"\xf8\x88\x80\x80\x80"]


@pytest.mark.parametrize("bad", INVALID, ids=lambda b: b.hex())
@pytest.mark.parametrize("fragment", [None, 1, 2, 5])
@pytest.mark.parametrize("decode_text", [True, False])
def test_invalid_text_fails_fast(backend, bad, fragment, decode_text):
    text = "κόσμε".encode() + bad + b"tail after the error"
    if fragment is None:
        wire = build(TEXT, text, key=K)
        offsets = [len(wire) - len(text) + i for i in range(len(text))]
    else:
        wire = b""
        offsets = []
        pieces = [text[i : i + fragment] for i in range(0, len(text), fragment)]
        for i, piece in enumerate(pieces):
            frame = build(TEXT if i == 0 else CONTINUATION, piece, fin=i == len(pieces) - 1, key=K)
            offsets += [len(wire) + len(frame) - len(piece) + j for j in range(len(piece))]
            wire += frame
    error = utf8_error_index(text)
    expected_at = offsets[error] if error < len(text) else offsets[-1]
    for feed in FEEDS:
        outcome = decode(backend, wire, feed, decode_text=decode_text)
        assert outcome.error == ERR_TEXT
        assert outcome.error[0] == 1007
    outcome = decode(backend, wire, "bytewise", decode_text=decode_text)
    assert outcome.error_at == expected_at


@pytest.mark.parametrize("decode_text", [True, False])
def test_text_valid_across_splits(backend, decode_text):
    text = "aé€𝄞" * 50
    data = text.encode()
    wire = b"".join(
        build(TEXT if i == 0 else CONTINUATION, data[i : i + 7], fin=i + 7 >= len(data), key=K)
        for i in range(0, len(data), 7)
    )
    expected = text if decode_text else data
    for feed in FEEDS:
        outcome = decode(backend, wire, feed, decode_text=decode_text)
        assert outcome.events == [msg(TEXT, expected)]
        assert type(outcome.events[0][2]) is (str if decode_text else bytes)


def test_text_ending_inside_a_code_point(backend):
    wire = build(TEXT, b"ab\xe2\x82", fin=False, key=K) + build(CONTINUATION, b"", key=K)
    for feed in FEEDS:
        assert decode(backend, wire, feed).error == ERR_TEXT
        assert decode(backend, wire, feed, decode_text=False).error == ERR_TEXT


# ---- Close frames (§5.5.1, §7.4) --------------------------------------------------------


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES)
def test_close_valid_codes(backend, code):
    wire = build(CLOSE, code.to_bytes(2, "big") + "bye é".encode(), key=K)
    assert decode(backend, wire).events == [("close", code, "bye é")]


@pytest.mark.parametrize("code", INVALID_CODES)
def test_close_invalid_codes(backend, code):
    assert decode(backend, build(CLOSE, code.to_bytes(2, "big"), key=K)).error == ERR_CLOSE_CODE


def test_close_payload_rules(backend):
    assert decode(backend, build(CLOSE, b"", key=K)).events == [("close", None, "")]
    assert decode(backend, build(CLOSE, b"\x03", key=K)).error == ERR_CLOSE_ONE_BYTE
    assert decode(backend, build(CLOSE, b"\x03\xe8\xff", key=K)).error == ERR_CLOSE_REASON
    assert decode(backend, build(CLOSE, b"\x03\xe8" + b"r" * 123, key=K)).events == [("close", 1000, "r" * 123)]
    assert ERR_CLOSE_REASON[0] == 1007 and ERR_CLOSE_ONE_BYTE[0] == 1002


@pytest.mark.parametrize("reason, rest", [
    (b"\xc3", b"\xa9"), (b"ok \xe2\x82", b"\xac"), (b"\xf0\x9f\x98", b"\x80"), (b"r" * 119 + b"\xf4\x8f\xbf", b"\xbf"),
])
def test_close_reason_ending_in_a_truncated_sequence(backend, reason, rest):
    # A close frame is a whole reason: a sequence cut at its end is invalid.
    wire = build(CLOSE, b"\x03\xe8" + reason, key=K)
    for feed in FEEDS.values():
        assert run(backend.Decoder(), feed(wire)).error == ERR_CLOSE_REASON
    completed = build(CLOSE, b"\x03\xe8" + reason + rest, key=K)
    assert decode(backend, completed).events == [("close", 1000, (reason + rest).decode())]


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 999, 1016, 2999, 5000])
def test_encoder_refuses_reserved_close_codes(backend, code):
    for role in ("server", "client"):
        with pytest.raises(ValueError):
            backend.Encoder(role=role).close(code)
        with pytest.raises(ValueError):
            backend.Encoder(role=role).close(code, "reason")


@pytest.mark.parametrize("feed", FEEDS)
def test_nothing_after_close(backend, feed):
    wire = (build(TEXT, b"a", fin=False, key=K) + build(CLOSE, b"\x03\xe8", key=K)
            + build(TEXT, b"after", key=K) + b"\xff\xff garbage")
    decoder = backend.Decoder()
    events = [event_tuple(e) for chunk in FEEDS[feed](wire) for e in decoder.feed(chunk)]
    # The unfinished message is dropped with the close; later bytes are ignored.
    assert events == [("close", 1000, "")]
    assert decoder.feed(b"\x00\x01 anything") == []


# ---- Limits -----------------------------------------------------------------------------


def test_max_message_size_across_fragments(backend):
    frames = [build(TEXT if i == 0 else CONTINUATION, b"x" * 10, fin=i == 9, key=K) for i in range(10)]
    assert decode(backend, b"".join(frames), max_message_size=100).events == [msg(TEXT, "x" * 100)]
    outcome = decode(backend, b"".join(frames), "bytewise", max_message_size=99)
    assert outcome.error == ERR_MESSAGE_TOO_BIG
    assert outcome.error[0] == 1009
    # Refused from the last fragment's header, before its payload arrived.
    assert outcome.error_at == len(b"".join(frames)) - 10 - 1


def test_control_frames_do_not_count(backend):
    wire = (build(BINARY, b"x" * 8, fin=False, key=K) + build(PING, b"p" * 125, key=K)
            + build(CONTINUATION, b"y" * 2, key=K))
    assert decode(backend, wire, max_message_size=10).events == [msg(PING, b"p" * 125), msg(BINARY, b"x" * 8 + b"yy")]


def test_max_message_size_single_frame(backend):
    wire = build(BINARY, b"x" * 1000, key=K)
    assert decode(backend, wire, max_message_size=1000).error is None
    decoder = backend.Decoder(max_message_size=999)
    with pytest.raises(ProtocolError) as info:
        decoder.feed(wire[:4])  # the header alone
    assert info.value.code == 1009
    assert decode(backend, wire, max_message_size=None).events == [msg(BINARY, b"x" * 1000)]


DECODERS = [("FrameDecoder", "max_frame_size"), ("Decoder", "max_message_size")]


def header(opcode: int, length: int, *, fin: bool = True) -> bytes:
    """An unmasked 64-bit-length header, written out (any length up to 2**63 - 1)."""
    return struct.pack("!BBQ", (0x80 if fin else 0) | opcode, 127, length)


def test_default_limits_are_16_mib(backend):
    # API: both decoders default to 16 MiB; a message is counted across fragments.
    limit = 16 * 2**20
    for cls in ("FrameDecoder", "Decoder"):
        assert getattr(backend, cls)(role="client").feed(header(BINARY, limit)) == []
        with pytest.raises(ProtocolError) as info:
            getattr(backend, cls)(role="client").feed(header(BINARY, limit + 1))
        assert info.value.code == 1009
    first = build(BINARY, bytes(limit - 1), fin=False)
    events = backend.Decoder(role="client").feed(first + build(CONTINUATION, b"x"))
    assert [event_tuple(e) for e in events] == [msg(BINARY, bytes(limit - 1) + b"x")]
    decoder = backend.Decoder(role="client")
    assert decoder.feed(first) == []
    with pytest.raises(ProtocolError) as info:
        decoder.feed(build(CONTINUATION, b"xy")[:2])
    assert info.value.code == 1009


def test_max_message_size_zero(backend):
    # Only empty messages fit; control frames do not count.
    wire = (build(TEXT, b"", key=K) + build(TEXT, b"", fin=False, key=K) + build(PING, b"p" * 125, key=K)
            + build(CONTINUATION, b"", key=K) + build(BINARY, b"", key=K))
    assert decode(backend, wire, max_message_size=0).events == [
        msg(TEXT, ""), msg(PING, b"p" * 125), msg(TEXT, ""), msg(BINARY, b"")]
    for bad in (build(BINARY, b"x", key=K), build(TEXT, b"", fin=False, key=K) + build(CONTINUATION, b"x", key=K)):
        outcome = decode(backend, bad, "bytewise", max_message_size=0)
        assert outcome.error == ERR_MESSAGE_TOO_BIG
        assert outcome.error_at == len(bad) - 2  # before the payload byte arrived
    from wsfast.deflate import PerMessageDeflate

    pmd = PerMessageDeflate()
    encoder = backend.Encoder(role="client", deflate=pmd)
    assert decode(backend, encoder.text(""), max_message_size=0, deflate=pmd).events == [msg(TEXT, "")]
    assert decode(backend, encoder.text("a"), max_message_size=0, deflate=pmd).error == ERR_MESSAGE_TOO_BIG
    frames = backend.FrameDecoder(max_frame_size=0)
    assert [f.payload for f in frames.feed(build(BINARY, b"", key=K) + build(PONG, b"", key=K))] == [b"", b""]
    with pytest.raises(ProtocolError) as info:
        frames.feed(build(PING, b"x", key=K))
    assert info.value.code == 1009


@pytest.mark.parametrize("cls, option", DECODERS)
@pytest.mark.parametrize("length", [2**32 - 1, 2**32, 2**32 + 5, 2**40, 2**63 - 1])
def test_lengths_of_32_bits_and_more_under_a_limit(backend, cls, option, length):
    for limit in (0, length - 1, 2**32 - 2, None):
        if limit is None:
            decoder = getattr(backend, cls)(role="client")  # the default limit
        else:
            decoder = getattr(backend, cls)(role="client", **{option: limit})
        with pytest.raises(ProtocolError) as info:
            decoder.feed(header(BINARY, length))
        assert info.value.code == 1009


@pytest.mark.parametrize("cls, option, length", [("FrameDecoder", "max_frame_size", 2**32),
                                                 ("Decoder", "max_message_size", 2**32 + 5)])
def test_lengths_of_32_bits_and_more_without_a_limit(backend, cls, option, length):
    # The payload buffer takes a 64-bit length: nothing is truncated to 32 bits
    # (2**32 would be an empty frame), so what follows is payload, not frames.
    decoder = getattr(backend, cls)(role="client", **{option: None})
    assert decoder.feed(header(BINARY, length) + b"abcde" + build(TEXT, b"hi")) == []
    assert decoder.feed(bytes(65536)) == []
    assert decoder.feed(build(TEXT, b"hi")) == []


@pytest.mark.parametrize("cls, option", DECODERS)
def test_no_limit_allocates_with_the_bytes_received(backend, cls, option):
    # Without a limit, a declared length is not an allocation: memory follows
    # the bytes that arrived (here at most a few MiB for 1 MiB received).
    import tracemalloc

    for length in (2**40, 2**62, 2**32 + 5):
        decoder = getattr(backend, cls)(role="client", **{option: None})
        tracemalloc.start()
        try:
            assert decoder.feed(header(BINARY, length) + bytes(2**20)) == []
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 16 * 2**20, (length, peak)


def test_no_events_lost_on_error(backend):
    wire = build(TEXT, b"one", key=K) + build(PING, b"two", key=K) + build(TEXT, b"\xff", key=K)
    decoder = backend.Decoder()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(wire)
    assert [event_tuple(e) for e in info.value.events] == [msg(TEXT, "one"), msg(PING, b"two")]
    assert info.value.code == 1007
    with pytest.raises(ProtocolError) as again:
        decoder.feed(build(TEXT, b"ok", key=K))
    assert again.value.events == [] and again.value.code == 1007


def test_client_role(backend):
    wire = build(TEXT, b"hi") + build(CLOSE, b"")
    assert decode(backend, wire, role="client").events == [msg(TEXT, "hi"), ("close", None, "")]
    assert decode(backend, build(TEXT, b"hi", key=K), role="client").error[0] == 1002


# ---- permessage-deflate (RFC 7692) --------------------------------------------------------


def deflate_pair():
    from wsfast.deflate import PerMessageDeflate

    return PerMessageDeflate(), PerMessageDeflate()


def test_deflate_round_trip(backend):
    client_side, server_side = deflate_pair()
    encoder = backend.Encoder(role="client", deflate=client_side)
    decoder = backend.Decoder(role="server", deflate=server_side)
    messages = ["hello " * 100, "é" * 3, ""]
    wire = b"".join(encoder.text(m, fragment_size=17) for m in messages)
    wire += encoder.binary(b"\x00" * 5000) + encoder.ping(b"p")
    assert len(wire) < 2000  # compressed
    events = [event_tuple(e) for chunk in random_splits(wire, 5, 50) for e in decoder.feed(chunk)]
    assert events == [msg(TEXT, m) for m in messages] + [msg(BINARY, b"\x00" * 5000), msg(PING, b"p")]


def test_deflate_rsv1_rules(backend):
    from wsfast.deflate import PerMessageDeflate

    compressed = backend.Encoder(role="client", deflate=PerMessageDeflate()).text("abc" * 20)
    # Without deflate, RSV1 is an unclaimed reserved bit.
    assert decode(backend, compressed).error == FRAME_ERRORS[-FRAME_E_RSV]
    for wire in (build(PING, b"x", rsv=4, key=K),
                 build(TEXT, b"a", fin=False, key=K) + build(CONTINUATION, b"b", rsv=4, key=K)):
        assert decode(backend, wire, deflate=PerMessageDeflate()).error == ERR_RSV1


def test_deflate_bomb_and_corrupt(backend):
    from wsfast.deflate import PerMessageDeflate

    bomb = backend.Encoder(role="client", deflate=PerMessageDeflate()).binary(b"\x00" * 2_000_000)
    assert len(bomb) < 10_000
    outcome = decode(backend, bomb, max_message_size=1_000_000, deflate=PerMessageDeflate())
    assert outcome.error is not None and outcome.error[0] == 1009
    corrupt = build(BINARY, b"\xff\xff\xff\xff garbage", rsv=4, key=K)
    outcome = decode(backend, corrupt, deflate=PerMessageDeflate())
    assert outcome.error is not None and outcome.error[0] == 1007


def test_deflate_invalid_utf8_after_inflate(backend):
    from wsfast.deflate import PerMessageDeflate

    # A "text" message whose inflated bytes are not UTF-8.
    wire = backend.Encoder(role="client", deflate=PerMessageDeflate()).binary(b"ok\xff")
    wire = bytes([wire[0] & 0xF0 | TEXT]) + wire[1:]
    assert decode(backend, wire, deflate=PerMessageDeflate()).error == ERR_TEXT


# ---- Encoder ----------------------------------------------------------------------------


def test_encoder_server_bytes(backend):
    encoder = backend.Encoder()
    assert encoder.text("Hello") == bytes.fromhex("810548656c6c6f")
    assert encoder.binary(b"\x01\x02") == b"\x82\x02\x01\x02"
    assert encoder.ping(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert encoder.pong() == b"\x8a\x00"
    assert encoder.close() == b"\x88\x02\x03\xe8"
    assert encoder.close(CloseCode.GOING_AWAY, "bye") == b"\x88\x05\x03\xe9bye"
    assert encoder.close(None) == b"\x88\x00"
    assert encoder.text("Hello", fragment_size=2) == (
        build(TEXT, b"He", fin=False) + build(CONTINUATION, b"ll", fin=False) + build(CONTINUATION, b"o"))
    assert encoder.binary(b"abcd", fragment_size=2) == build(BINARY, b"ab", fin=False) + build(CONTINUATION, b"cd")
    assert encoder.binary(b"", fragment_size=3) == build(BINARY, b"")
    assert encoder.binary(memoryview(b"xabcx")[1:4]) == build(BINARY, b"abc")


def test_encoder_client_masks_every_frame(backend):
    encoder = backend.Encoder(role="client")
    wire = encoder.text("Hello", fragment_size=1) + encoder.ping() + encoder.close(1000, "x")
    frames = backend.FrameDecoder(role="server").feed(wire)
    assert [(int(f.opcode), f.payload) for f in frames] == [
        (1, b"H"), (0, b"e"), (0, b"l"), (0, b"l"), (0, b"o"), (9, b""), (8, b"\x03\xe8x")]
    keys = set()
    pos = 0
    for f in frames:
        keys.add(wire[pos + 2 : pos + 6])
        pos += 6 + len(f.payload)
    assert len(keys) == len(frames)  # a fresh key per frame


@pytest.mark.parametrize("call, error", [
    (lambda e: e.text(b"bytes"), TypeError),
    (lambda e: e.text(None), TypeError),
    (lambda e: e.text("\ud800"), ValueError),
    (lambda e: e.binary("str"), TypeError),
    (lambda e: e.binary(None), TypeError),
    (lambda e: e.binary(memoryview(b"abcd")[::2]), ValueError),
    (lambda e: e.binary(b"x", fragment_size=0), ValueError),
    (lambda e: e.binary(b"x", fragment_size=-3), ValueError),
    (lambda e: e.binary(b"x", fragment_size=1.5), TypeError),
    (lambda e: e.binary(b"x", fragment_size=True), TypeError),
    (lambda e: e.ping(b"x" * 126), ValueError),
    (lambda e: e.pong(b"x" * 126), ValueError),
    (lambda e: e.ping("text"), TypeError),
    (lambda e: e.close(1005), ValueError),
    (lambda e: e.close(999), ValueError),
    (lambda e: e.close(5000), ValueError),
    (lambda e: e.close(1000, "r" * 124), ValueError),
    (lambda e: e.close(1000, "é" * 62), ValueError),
    (lambda e: e.close(None, "reason"), ValueError),
    (lambda e: e.close("1000"), TypeError),
    (lambda e: e.close(1000, b"bytes"), TypeError),
])
def test_encoder_bad_arguments(backend, call, error):
    with pytest.raises(error):
        call(backend.Encoder())


PARTS_SIZES = [0, 1, 125, 126, 127, 1000, 65535, 65536, 65537, 200_000]
PARTS_FRAGMENTS = [None, 1, 7, 125, 126, 65536, 100_000]


@pytest.mark.parametrize("role", ["server", "client"])
@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
def test_encoder_parts_join_to_the_message(backend, role, deflate, monkeypatch):
    from wsfast.deflate import PerMessageDeflate

    # One fixed key instead of os.urandom, so both calls write the same bytes.
    monkeypatch.setattr(os, "urandom", lambda n: bytes(range(1, n + 1)))
    whole = backend.Encoder(role=role, deflate=PerMessageDeflate() if deflate else None)
    parted = backend.Encoder(role=role, deflate=PerMessageDeflate() if deflate else None)
    rng = random.Random(7)
    for n in PARTS_SIZES:
        data = rng.randbytes(n)
        text = "é" * (n // 2) + "x" * (n % 2)
        for fragment_size in PARTS_FRAGMENTS:
            if fragment_size == 1 and n > 1000:
                continue  # 200,000 one-byte frames prove nothing more than 1,000
            for payload in (data, bytearray(data), memoryview(b"." + data + b".")[1:-1]):
                expected = whole.binary(payload, fragment_size=fragment_size)
                parts = parted.binary_parts(payload, fragment_size=fragment_size)
                assert type(parts) is list
                assert b"".join(parts) == expected
                if role == "client" or deflate:
                    assert parts == [expected]  # masked or compressed: one buffer
            expected = whole.text(text, fragment_size=fragment_size)
            parts = parted.text_parts(text, fragment_size=fragment_size)
            assert b"".join(parts) == expected
            if role == "client" or deflate:
                assert parts == [expected]


def test_encoder_binary_parts_do_not_copy(backend):
    encoder = backend.Encoder()
    data = os.urandom(70_000)
    header, payload = encoder.binary_parts(data)
    assert payload is data
    assert header == encoder.binary(data)[:10]
    assert encoder.binary_parts(b"") == [b"\x82\x00", b""]
    # Other buffers: a view of the caller's memory (the lifetime rule).
    buffer = bytearray(b"abc")
    header, view = encoder.binary_parts(buffer)
    assert header == b"\x82\x03"
    buffer[0] = ord("X")
    assert bytes(view) == b"Xbc"
    # Fragments: every payload part is a slice of that same memory.
    parts = encoder.binary_parts(buffer, fragment_size=2)
    assert parts == [b"\x02\x02", b"Xb", b"\x80\x01", b"c"]
    buffer[2] = ord("Y")
    assert bytes(parts[3]) == b"Y"
    header, payload = encoder.text_parts("héllo")
    assert (header, payload) == (b"\x81\x06", "héllo".encode())


@pytest.mark.parametrize("role", ["server", "client"])
@pytest.mark.parametrize("call, error", [
    (lambda e, parts: (e.text_parts if parts else e.text)(b"bytes"), TypeError),
    (lambda e, parts: (e.text_parts if parts else e.text)(None), TypeError),
    (lambda e, parts: (e.text_parts if parts else e.text)("\ud800"), ValueError),
    (lambda e, parts: (e.text_parts if parts else e.text)("x", fragment_size=0), ValueError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)("str"), TypeError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(None), TypeError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(memoryview(b"abcd")[::2]), ValueError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(b"x", fragment_size=0), ValueError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(b"x", fragment_size=-3), ValueError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(b"x", fragment_size=1.5), TypeError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(b"x", fragment_size=True), TypeError),
    (lambda e, parts: (e.binary_parts if parts else e.binary)(b"x", fragment_size="2"), TypeError),
])
def test_encoder_parts_errors_match(backend, role, call, error):
    encoder = backend.Encoder(role=role)
    with pytest.raises(error) as whole:
        call(encoder, False)
    with pytest.raises(error) as parts:
        call(encoder, True)
    assert type(parts.value) is type(whole.value)
    assert str(parts.value) == str(whole.value)


def test_encoder_close_reason_limit(backend):
    wire = backend.Encoder().close(1000, "r" * 123)
    assert len(wire) == 2 + 125
    assert decode(backend, wire, role="client").events == [("close", 1000, "r" * 123)]


@pytest.mark.parametrize("kwargs, error", [
    ({"role": "x"}, ValueError), ({"role": 1}, TypeError), ({"deflate": object()}, TypeError),
])
def test_encoder_and_decoder_bad_construction(backend, kwargs, error):
    with pytest.raises(error):
        backend.Encoder(**kwargs)
    with pytest.raises(error):
        backend.Decoder(**kwargs)


@pytest.mark.parametrize("kwargs, error", [
    ({"max_message_size": -5}, ValueError), ({"max_message_size": "1"}, TypeError),
    ({"decode_text": 1}, TypeError), ({"decode_text": None}, TypeError),
])
def test_decoder_bad_arguments(backend, kwargs, error):
    with pytest.raises(error):
        backend.Decoder(**kwargs)


# ---- Message and Close ------------------------------------------------------------------


def test_message_and_close_values(backend):
    m = backend.Message(Opcode.TEXT, "hi")
    assert (m.opcode, m.data) == (Opcode.TEXT, "hi") and m.opcode is Opcode.TEXT
    assert m == backend.Message(1, "hi") and m != backend.Message(1, "ho")
    assert hash(m) == hash(backend.Message(1, "hi"))
    assert repr(m) == "Message(Opcode.TEXT, 'hi')"
    assert backend.Message(Opcode.BINARY, bytearray(b"x")).data == b"x"
    assert backend.Message(Opcode.TEXT, b"raw").data == b"raw"  # decode_text=False shape
    c = backend.Close(1000, "bye")
    assert (c.code, c.reason) == (1000, "bye") and c == backend.Close(1000, "bye")
    assert backend.Close().code is None and backend.Close().reason == ""
    assert repr(c) == "Close(1000, 'bye')" and hash(c) == hash(backend.Close(1000, "bye"))
    for obj, attrs in ((m, ("opcode", "data")), (c, ("code", "reason"))):
        for attr in attrs:
            with pytest.raises(AttributeError):
                setattr(obj, attr, None)


@pytest.mark.parametrize("args, error", [
    ((Opcode.CLOSE, b""), ValueError), ((Opcode.CONTINUATION, b""), ValueError), ((3, b""), ValueError),
    ((Opcode.BINARY, "str"), TypeError), ((Opcode.PING, None), TypeError),
])
def test_message_bad_arguments(backend, args, error):
    with pytest.raises(error):
        backend.Message(*args)


def test_close_bad_arguments(backend):
    with pytest.raises(TypeError):
        backend.Close("1000")
    with pytest.raises(TypeError):
        backend.Close(1000, b"bytes")


# ---- Round trip (hypothesis): anything Encoder produces, Decoder returns unchanged ----------


message_strategy = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=300), st.none() | st.integers(1, 64)),
    st.tuples(st.just("binary"), st.binary(max_size=70000) | st.binary(max_size=300),
              st.none() | st.integers(1, 5000)),
    st.tuples(st.just("ping"), st.binary(max_size=125), st.none()),
    st.tuples(st.just("pong"), st.binary(max_size=125), st.none()),
)


def expected_events(messages, decode_text=True):
    out = []
    for kind, data, _ in messages:
        opcode = {"text": TEXT, "binary": BINARY, "ping": PING, "pong": PONG}[kind]
        if kind == "text" and not decode_text:
            data = data.encode()
        out.append(msg(opcode, data))
    return out


def encode_all(encoder, messages):
    wire = b""
    for kind, data, fragment_size in messages:
        if kind in ("text", "binary"):
            wire += getattr(encoder, kind)(data, fragment_size=fragment_size)
        else:
            wire += getattr(encoder, kind)(data)
    return wire


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages=st.lists(message_strategy, max_size=6), role=st.sampled_from(["client", "server"]),
       seed=st.integers(0, 2**32), max_chunk=st.sampled_from([1, 3, 64, 4096, 10**6]),
       decode_text=st.booleans(), close=st.none() | st.tuples(st.sampled_from(VALID_CODES), st.text(max_size=30)))
def test_round_trip(backend, messages, role, seed, max_chunk, decode_text, close):
    encoder = backend.Encoder(role=role)
    wire = encode_all(encoder, messages)
    expected = expected_events(messages, decode_text)
    if close is not None:
        code, reason = close
        reason = reason.encode()[:123].decode(errors="ignore")
        wire += encoder.close(code, reason)
        expected.append(("close", code, reason))
    # The Encoder's wire, read by the independent parser of codec_util.
    frames = parse_frames(wire)
    assert all(masked is (role == "client") for *_, masked in frames)
    assert frames_to_events(frames, decode_text) == expected
    for (kind, data, fragment_size), count in zip(messages, frame_counts(frames)):
        size = len(data.encode() if kind == "text" else data)
        assert count == (max(1, -(-size // fragment_size)) if fragment_size else 1)
    # The Decoder, fed frames written by the independent builder.
    key = DEFAULT_KEY if role == "client" else None
    wire = b"".join(build(op, payload, fin=fin, rsv=rsv, key=key)
                    for fin, rsv, op, payload, _ in frames)
    peer = "server" if role == "client" else "client"
    chunks = random_splits(wire, seed, max_chunk) if max_chunk > 1 else bytewise(wire)
    outcome = run(backend.Decoder(role=peer, max_message_size=None, decode_text=decode_text), chunks)
    assert outcome.error is None
    assert outcome.events == expected


def frames_to_events(frames, decode_text=True):
    """Messages from parsed frames (RFC 6455 §5.4), without wsfast."""
    out, parts, opcode = [], [], None
    for fin, rsv, op, payload, _ in frames:
        assert rsv == 0
        if op == CLOSE:
            code = int.from_bytes(payload[:2], "big") if payload else None
            out.append(("close", code, payload[2:].decode()))
            continue
        if op in (PING, PONG):
            out.append(msg(op, payload))
            continue
        if op != CONTINUATION:
            opcode, parts = op, []
        parts.append(payload)
        if fin:
            data = b"".join(parts)
            out.append(msg(opcode, data.decode() if opcode == TEXT and decode_text else data))
    return out


def frame_counts(frames):
    """Frames per control or data message, in order."""
    counts = []
    for fin, _, op, _, _ in frames:
        if op != CONTINUATION:
            counts.append(0)
        counts[-1] += 1
    return counts


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(opcode=st.sampled_from([0, 1, 2, 8, 9, 10]), payload=st.binary(max_size=70000),
       fin=st.booleans(), rsv=st.integers(0, 7), masked=st.booleans(), seed=st.integers(0, 2**32))
def test_frame_round_trip(backend, opcode, payload, fin, rsv, masked, seed):
    if opcode >= 8:
        payload, fin = payload[:125], True
    wire = backend.encode_frame(opcode, payload, fin=fin, rsv1=bool(rsv & 4), rsv2=bool(rsv & 2),
                                rsv3=bool(rsv & 1), mask=True if masked else None)
    decoder = backend.FrameDecoder(role="server" if masked else "client", allow_rsv=7, max_frame_size=None)
    outcome = run(decoder, random_splits(wire, seed, 500))
    assert outcome.events == [("frame", opcode, fin, bool(rsv & 4), bool(rsv & 2), bool(rsv & 1), payload)]


def test_cross_backend_round_trip(backend, py_backend):
    rng = random.Random(7)
    messages = [("text", "é" * rng.randint(0, 200), rng.choice([None, 3])) for _ in range(20)]
    messages += [("binary", os.urandom(rng.randint(0, 3000)), rng.choice([None, 100])) for _ in range(20)]
    for encoder, decoder in ((backend.Encoder(role="client"), py_backend.Decoder()),
                             (py_backend.Encoder(role="client"), backend.Decoder())):
        outcome = run(decoder, random_splits(encode_all(encoder, messages), 1, 700))
        assert outcome.events == expected_events(messages)


# ---- Memory stays within the limits --------------------------------------------------------


def test_memory_bounded_by_message_limit(backend):
    import tracemalloc

    limit = 256 * 1024
    one_byte = build(CONTINUATION, b"x", fin=False, key=K)
    decoder = backend.Decoder(max_message_size=limit)
    decoder.feed(build(BINARY, b"x", fin=False, key=K))
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as info:
            for _ in range(limit + 10):
                decoder.feed(one_byte)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.code == 1009
    assert peak < 3 * limit  # the reassembly buffer, not an object per fragment


def test_empty_fragments_do_not_accumulate(backend):
    import tracemalloc

    decoder = backend.Decoder()
    decoder.feed(build(TEXT, b"", fin=False, key=K))
    empties = build(CONTINUATION, b"", fin=False, key=K) * 1000
    tracemalloc.start()
    try:
        for _ in range(100):
            assert decoder.feed(empties) == []
        current = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert current < 64 * 1024
    assert [event_tuple(e) for e in decoder.feed(build(CONTINUATION, b"end", key=K))] == [msg(TEXT, "end")]
