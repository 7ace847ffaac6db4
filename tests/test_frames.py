"""Frames (RFC 6455 §5): Frame, encode_frame, FrameDecoder and the header primitives.

Every test runs against each backend (``backend`` fixture); differential tests
also compare a compiled backend with the Python reference (``py_backend``).
"""

from __future__ import annotations

import json
import os
import pathlib
import random

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
    mask_bytes,
    random_splits,
    run,
    utf8_error_index,
)

from wsfast.constants import (
    FRAME_E_CONTROL_FRAGMENTED,
    FRAME_E_CONTROL_TOO_LONG,
    FRAME_E_LENGTH_TOP_BIT,
    FRAME_E_MASKED,
    FRAME_E_NOT_MINIMAL,
    FRAME_E_OPCODE,
    FRAME_E_RSV,
    FRAME_E_TOO_BIG,
    FRAME_E_UNMASKED,
    FRAME_ERRORS,
    NO_LIMIT,
    UTF8_ACCEPT,
    UTF8_REJECT,
    Opcode,
)
from wsfast.exceptions import ProtocolError

VECTORS = json.loads((pathlib.Path(__file__).parent / "vectors" / "rfc6455_5_7.json").read_text())


def vector_wire(example: dict) -> bytes:
    if "wire" in example:
        return bytes.fromhex(example["wire"])
    return bytes.fromhex(example["wire_header"]) + vector_payload(example)


def vector_payload(example: dict) -> bytes:
    pattern = bytes.fromhex(example["payload_pattern"])
    n = example["payload_length"]
    return (pattern * (n // len(pattern) + 1))[:n]


def receiver(example: dict) -> str:
    return "server" if example["sender"] == "client" else "client"


# ---- RFC 6455 §5.7 examples, byte for byte in both directions --------------------


@pytest.mark.parametrize("example", VECTORS["examples"], ids=lambda e: e["name"])
def test_rfc_examples_parse(backend, example):
    wire = vector_wire(example)
    for feed in FEEDS.values():
        decoder = backend.FrameDecoder(role=receiver(example))
        frames = [f for chunk in feed(wire) for f in decoder.feed(chunk)]
        assert len(frames) == len(example["frames"])
        for frame, expected in zip(frames, example["frames"]):
            payload = (
                bytes.fromhex(expected["payload"]) if "payload" in expected
                else vector_payload(example)
            )
            assert frame.opcode == expected["opcode"]
            assert frame.opcode is Opcode(expected["opcode"])
            assert frame.fin is expected["fin"]
            assert (frame.rsv1, frame.rsv2, frame.rsv3) == (False, False, False)
            assert frame.payload == payload
            assert type(frame.payload) is bytes


@pytest.mark.parametrize("example", VECTORS["examples"], ids=lambda e: e["name"])
def test_rfc_examples_build(backend, example):
    keys = [bytes.fromhex(k) for k in example.get("mask_keys", [])]
    wire = b""
    for i, expected in enumerate(example["frames"]):
        payload = (
            bytes.fromhex(expected["payload"]) if "payload" in expected
            else vector_payload(example)
        )
        wire += backend.encode_frame(
            expected["opcode"], payload, fin=expected["fin"], mask=keys[i] if keys else None
        )
    assert wire == vector_wire(example)


@pytest.mark.parametrize("example", VECTORS["examples"], ids=lambda e: e["name"])
def test_rfc_examples_messages(backend, example):
    decoder = backend.Decoder(role=receiver(example))
    events = decoder.feed(vector_wire(example))
    assert len(events) == len(example["messages"])
    for event, expected in zip(events, example["messages"]):
        assert event.opcode == expected["opcode"]
        if "text" in expected:
            assert event.data == expected["text"]
        elif "payload" in expected:
            assert event.data == bytes.fromhex(expected["payload"])
        else:
            assert event.data == vector_payload(example)


# ---- Lengths and their encodings (§5.2) ---------------------------------------------


LENGTHS = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_lengths_round_trip(backend, n, masked):
    payload = os.urandom(n)
    key = DEFAULT_KEY if masked else None
    wire = backend.encode_frame(Opcode.BINARY, payload, mask=key)
    assert wire == build(BINARY, payload, key=key)  # shortest length form, byte for byte
    header = 2 + (0 if n < 126 else 2 if n < 65536 else 8) + (4 if masked else 0)
    assert len(wire) == header + n
    decoder = backend.FrameDecoder(role="server" if masked else "client")
    for feed in ("whole", "random"):
        decoder = backend.FrameDecoder(role="server" if masked else "client")
        frames = [event_tuple(f) for chunk in FEEDS[feed](wire) for f in decoder.feed(chunk)]
        assert frames == [("frame", BINARY, True, False, False, False, payload)]


@pytest.mark.parametrize(
    "n, form",
    [(0, 16), (125, 16), (0, 64), (125, 64), (126, 64), (65535, 64)],
)
def test_non_minimal_length_rejected(backend, n, form):
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
    wire = build(BINARY, b"x" * n, key=DEFAULT_KEY, length_form=form)
    outcome = run(backend.FrameDecoder(), bytewise(wire))
    assert outcome.error == FRAME_ERRORS[-FRAME_E_NOT_MINIMAL]
    assert outcome.error[0] == 1002
    # Raised by the byte that completes the extended length.
    assert outcome.error_at == (3 if form == 16 else 9)
    assert outcome.sticky


def test_length_top_bit_rejected(backend):
    wire = bytes([0x82, 0xFF]) + (2**63 + 70000).to_bytes(8, "big") + DEFAULT_KEY
    outcome = run(backend.FrameDecoder(max_frame_size=None), bytewise(wire))
    assert outcome.error == FRAME_ERRORS[-FRAME_E_LENGTH_TOP_BIT]
    assert outcome.error_at == 9


@pytest.mark.parametrize("limit", [0, 1, 125, 126, 65536, 1000000])
def test_max_frame_size_from_header(backend, limit):
    ok = build(BINARY, b"a" * limit, key=DEFAULT_KEY)
    assert run(backend.FrameDecoder(max_frame_size=limit), [ok]).error is None
    big = build(BINARY, b"a" * (limit + 1), key=DEFAULT_KEY)
    header = big[: len(big) - (limit + 1) - 4]  # without masking key and payload
    decoder = backend.FrameDecoder(max_frame_size=limit)
    with pytest.raises(ProtocolError) as info:
        decoder.feed(header)  # refused before any of the payload is there
    assert (info.value.code, info.value.reason) == FRAME_ERRORS[-FRAME_E_TOO_BIG]
    assert info.value.code == 1009


def test_max_frame_size_none_and_huge_header(backend):
    # No limit: a header declaring more than anyone can allocate costs only
    # the bytes that arrived (the buffer grows with them), not a crash.
    decoder = backend.FrameDecoder(max_frame_size=None)
    wire = bytes([0x82, 0xFF]) + (2**63 - 1).to_bytes(8, "big") + DEFAULT_KEY + b"abc"
    assert decoder.feed(wire) == []
    assert decoder.feed(b"def") == []
    assert run(backend.FrameDecoder(max_frame_size=None), [build(BINARY, b"x" * 70000, key=DEFAULT_KEY)]).error is None


# ---- Header rules (§5.1, §5.2, §5.5) ------------------------------------------------


RULE_CASES = [
    # (id, wire, decoder kwargs, expected status, offset of the offending byte)
    ("rsv1", build(TEXT, b"hi", rsv=4, key=DEFAULT_KEY), {}, FRAME_E_RSV, 0),
    ("rsv2", build(TEXT, b"hi", rsv=2, key=DEFAULT_KEY), {}, FRAME_E_RSV, 0),
    ("rsv3", build(TEXT, b"hi", rsv=1, key=DEFAULT_KEY), {}, FRAME_E_RSV, 0),
    ("rsv2-with-rsv1-allowed", build(TEXT, b"hi", rsv=6, key=DEFAULT_KEY), {"allow_rsv": 0b100}, FRAME_E_RSV, 0),
    ("opcode-3", build(3, b"", key=DEFAULT_KEY), {}, FRAME_E_OPCODE, 0),
    ("opcode-7", build(7, b"x", key=DEFAULT_KEY), {}, FRAME_E_OPCODE, 0),
    ("opcode-11", build(11, b"", key=DEFAULT_KEY), {}, FRAME_E_OPCODE, 0),
    ("opcode-15", build(15, b"x", key=DEFAULT_KEY), {}, FRAME_E_OPCODE, 0),
    ("ping-not-fin", build(PING, b"x", fin=False, key=DEFAULT_KEY), {}, FRAME_E_CONTROL_FRAGMENTED, 0),
    ("close-not-fin", build(CLOSE, b"", fin=False, key=DEFAULT_KEY), {}, FRAME_E_CONTROL_FRAGMENTED, 0),
    ("ping-126", build(PING, b"x" * 126, key=DEFAULT_KEY), {}, FRAME_E_CONTROL_TOO_LONG, 1),
    ("pong-64bit", build(PONG, b"x" * 70000, key=DEFAULT_KEY), {}, FRAME_E_CONTROL_TOO_LONG, 1),
    ("unmasked-to-server", build(TEXT, b"hi"), {}, FRAME_E_UNMASKED, 1),
    ("masked-to-client", build(TEXT, b"hi", key=DEFAULT_KEY), {"role": "client"}, FRAME_E_MASKED, 1),
    ("too-big", build(BINARY, b"x" * 300, key=DEFAULT_KEY), {"max_frame_size": 299}, FRAME_E_TOO_BIG, 3),
]


@pytest.mark.parametrize("name, wire, kwargs, status, offset", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_header_rules(backend, name, wire, kwargs, status, offset):
    code, reason = FRAME_ERRORS[-status]
    for feed in FEEDS.values():
        outcome = run(backend.FrameDecoder(**kwargs), feed(wire))
        assert outcome.error == (code, reason)
        assert outcome.sticky
    # Fail-fast: the feed that delivers the deciding byte raises.
    assert run(backend.FrameDecoder(**kwargs), bytewise(wire)).error_at == offset


def test_allow_rsv_passes_bits_through(backend):
    wire = build(TEXT, b"hi", rsv=4, key=DEFAULT_KEY) + build(BINARY, b"x", rsv=7, key=DEFAULT_KEY)
    frames = backend.FrameDecoder(allow_rsv=0b111).feed(wire)
    assert [(f.rsv1, f.rsv2, f.rsv3) for f in frames] == [(True, False, False), (True, True, True)]


def test_events_before_error_are_kept(backend):
    good = build(TEXT, b"one", key=DEFAULT_KEY) + build(PING, b"two", key=DEFAULT_KEY)
    decoder = backend.FrameDecoder()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(good + build(TEXT, b"three"))  # unmasked: 1002
    assert [f.payload for f in info.value.events] == [b"one", b"two"]
    with pytest.raises(ProtocolError) as again:
        decoder.feed(good)
    assert again.value.events == []
    assert (again.value.code, again.value.reason) == (info.value.code, info.value.reason)


def test_many_frames_one_feed_and_interleaved_control(backend):
    parts = [build(TEXT, b"a", fin=False, key=DEFAULT_KEY), build(PING, b"p", key=DEFAULT_KEY),
             build(CONTINUATION, b"b", key=DEFAULT_KEY)] * 300
    wire = b"".join(parts)
    for feed in FEEDS.values():
        decoder = backend.FrameDecoder()
        frames = [f for chunk in feed(wire) for f in decoder.feed(chunk)]
        assert [(int(f.opcode), f.payload) for f in frames] == [(1, b"a"), (9, b"p"), (0, b"b")] * 300


def test_bytewise_large_frame_is_linear(backend):
    # A decoder that re-concatenated or re-scanned its buffer per feed would
    # take minutes here (quadratic); the expected path is one copy per byte.
    payload = os.urandom(128 * 1024)
    wire = build(BINARY, payload, key=DEFAULT_KEY)
    decoder = backend.FrameDecoder()
    frames = []
    for i in range(len(wire)):
        frames += decoder.feed(wire[i : i + 1])
    assert [f.payload for f in frames] == [payload]


def test_payload_spanning_feeds_keeps_mask_phase(backend):
    payload = bytes(range(256)) * 8
    wire = build(BINARY, payload, key=bytes.fromhex("01020304"))
    for seed in range(20):
        decoder = backend.FrameDecoder()
        frames = [f for chunk in random_splits(wire, seed, 300) for f in decoder.feed(chunk)]
        assert [f.payload for f in frames] == [payload]


def test_feed_accepts_buffers(backend):
    import array

    wire = build(BINARY, b"hello", key=DEFAULT_KEY)
    padded = b"xx" + wire + b"yy"
    for data in (wire, bytearray(wire), memoryview(wire), memoryview(padded)[2:-2],
                 array.array("B", wire)):
        frames = backend.FrameDecoder().feed(data)
        assert [f.payload for f in frames] == [b"hello"]


@pytest.mark.parametrize("bad, error", [
    (None, TypeError), ("text", TypeError), (123, TypeError), ([1, 2], TypeError),
    (memoryview(b"abcdefgh")[::2], ValueError),
])
def test_feed_bad_input(backend, bad, error):
    with pytest.raises(error):
        backend.FrameDecoder().feed(bad)
    with pytest.raises(error):
        backend.Decoder().feed(bad)


@pytest.mark.parametrize("kwargs, error", [
    ({"role": "peer"}, ValueError), ({"role": None}, TypeError), ({"role": b"server"}, TypeError),
    ({"max_frame_size": -1}, ValueError), ({"max_frame_size": 1.5}, TypeError),
    ({"max_frame_size": "10"}, TypeError), ({"max_frame_size": True}, TypeError),
    ({"allow_rsv": 8}, ValueError), ({"allow_rsv": -1}, ValueError), ({"allow_rsv": None}, TypeError),
])
def test_frame_decoder_bad_arguments(backend, kwargs, error):
    with pytest.raises(error):
        backend.FrameDecoder(**kwargs)


def test_frame_decoder_positional_arguments_refused(backend):
    with pytest.raises(TypeError):
        backend.FrameDecoder("server")


# ---- Frame --------------------------------------------------------------------------


def test_frame_value_semantics(backend):
    frame = backend.Frame(Opcode.TEXT, b"hi", fin=False, rsv1=True)
    assert (frame.opcode, frame.payload, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (
        Opcode.TEXT, b"hi", False, True, False, False)
    assert frame == backend.Frame(1, bytearray(b"hi"), fin=False, rsv1=True)
    assert frame != backend.Frame(1, b"hi", fin=True, rsv1=True)
    assert frame != (1, b"hi")
    assert hash(frame) == hash(backend.Frame(1, b"hi", fin=False, rsv1=True))
    assert repr(frame) == "Frame(Opcode.TEXT, b'hi', fin=False, rsv1=True)"
    assert "...<1000 bytes>" in repr(backend.Frame(2, b"x" * 1000))
    for name in ("opcode", "payload", "fin", "rsv1", "rsv2", "rsv3"):
        with pytest.raises(AttributeError):
            setattr(frame, name, 0)


@pytest.mark.parametrize("args, kwargs, error", [
    ((3,), {}, ValueError), ((16,), {}, ValueError), ((-1,), {}, ValueError),
    (("text",), {}, TypeError), ((1, "text"), {}, TypeError), ((1, b""), {"fin": 1}, TypeError),
    ((True,), {}, TypeError),
])
def test_frame_bad_arguments(backend, args, kwargs, error):
    with pytest.raises(error):
        backend.Frame(*args, **kwargs)


# ---- encode_frame --------------------------------------------------------------------


def test_encode_frame_flags(backend):
    assert backend.encode_frame(Opcode.TEXT, b"x", fin=False, rsv1=True, rsv2=True, rsv3=True) == (
        build(TEXT, b"x", fin=False, rsv=7))
    assert backend.encode_frame(Opcode.CONTINUATION) == b"\x80\x00"
    assert backend.encode_frame(Opcode.CLOSE, b"", mask=False) == b"\x88\x00"


def test_encode_frame_random_mask(backend):
    payload = b"hello world" * 10
    first = backend.encode_frame(Opcode.BINARY, payload, mask=True)
    second = backend.encode_frame(Opcode.BINARY, payload, mask=True)
    assert first[1] & 0x80 and second[1] & 0x80
    keys = {first[2:6], second[2:6]}
    assert len(keys) == 2  # fresh key each time (2**-32 chance of a false failure)
    for wire in (first, second):
        assert wire[6:] == mask_bytes(payload, wire[2:6])
        assert [f.payload for f in backend.FrameDecoder().feed(wire)] == [payload]


@pytest.mark.parametrize("opcode, payload, kwargs, error", [
    (3, b"", {}, ValueError),
    (11, b"", {}, ValueError),
    (16, b"", {}, ValueError),
    ("1", b"", {}, TypeError),
    (Opcode.PING, b"x" * 126, {}, ValueError),
    (Opcode.CLOSE, b"", {"fin": False}, ValueError),
    (Opcode.PONG, b"", {"fin": False}, ValueError),
    (Opcode.TEXT, "text", {}, TypeError),
    (Opcode.TEXT, None, {}, TypeError),
    (Opcode.TEXT, memoryview(b"abcd")[::2], {}, ValueError),
    (Opcode.TEXT, b"", {"mask": b"abc"}, ValueError),
    (Opcode.TEXT, b"", {"mask": b"abcde"}, ValueError),
    (Opcode.TEXT, b"", {"mask": 1}, TypeError),
    (Opcode.TEXT, b"", {"mask": "abcd"}, TypeError),
    (Opcode.TEXT, b"", {"rsv1": None}, TypeError),
])
def test_encode_frame_bad_arguments(backend, opcode, payload, kwargs, error):
    with pytest.raises(error):
        backend.encode_frame(opcode, payload, **kwargs)


def test_encode_frame_control_limit_ok(backend):
    wire = backend.encode_frame(Opcode.PING, b"x" * 125, mask=DEFAULT_KEY)
    assert wire == build(PING, b"x" * 125, key=DEFAULT_KEY)


def test_encode_frame_buffers(backend):
    import array

    for payload in (bytearray(b"abc"), memoryview(b"xabcx")[1:4], array.array("B", b"abc")):
        assert backend.encode_frame(Opcode.BINARY, payload, mask=bytearray(DEFAULT_KEY)) == (
            build(BINARY, b"abc", key=DEFAULT_KEY))


# ---- Header primitives: each backend against the reference and each other --------------


def reference_parse(data: bytes, allowed_rsv: int, masked: bool, max_length: int):
    """The header rules of RFC 6455 §5.2 in the order wsfast checks them (test-local)."""
    if not data:
        return (0, 0, 0, 0)
    first = data[0]
    opcode = first & 15
    if (first >> 4) & 7 & ~allowed_rsv:
        return (FRAME_E_RSV, 0, 0, 0)
    if opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        return (FRAME_E_OPCODE, 0, 0, 0)
    if opcode >= 8 and not first & 0x80:
        return (FRAME_E_CONTROL_FRAGMENTED, 0, 0, 0)
    if len(data) < 2:
        return (0, 0, 0, 0)
    if bool(data[1] & 0x80) != masked:
        return (FRAME_E_MASKED if masked is False else FRAME_E_UNMASKED, 0, 0, 0)
    length = data[1] & 0x7F
    if opcode >= 8 and length > 125:
        return (FRAME_E_CONTROL_TOO_LONG, 0, 0, 0)
    size = 2
    if length == 126:
        if len(data) < 4:
            return (0, 0, 0, 0)
        length = int.from_bytes(data[2:4], "big")
        if length < 126:
            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)
        size = 4
    elif length == 127:
        if len(data) < 10:
            return (0, 0, 0, 0)
        length = int.from_bytes(data[2:10], "big")
        if length >= 2**63:
            return (FRAME_E_LENGTH_TOP_BIT, 0, 0, 0)
        if length < 65536:
            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)
        size = 10
    if length > max_length:
        return (FRAME_E_TOO_BIG, 0, 0, 0)
    key = 0
    if masked:
        if len(data) < size + 4:
            return (0, 0, 0, 0)
        key = int.from_bytes(data[size : size + 4], "little")
        size += 4
    return (size, first, length, key)


def header_samples(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        first = rng.randrange(256)
        masked = rng.random() < 0.5
        form = rng.choice([7, 7, 16, 64])
        if form == 7:
            second = rng.randrange(128)
            ext = b""
        elif form == 16:
            second = 126
            ext = rng.choice([rng.randrange(126), rng.randrange(65536)]).to_bytes(2, "big")
        else:
            second = 127
            ext = rng.choice([rng.randrange(65536), rng.randrange(2**64), rng.randrange(2**40)]).to_bytes(8, "big")
        if rng.random() < 0.5:
            second |= 0x80
        data = bytes([first, second]) + ext + os.urandom(4)
        data = data[: rng.randint(0, len(data))] if rng.random() < 0.3 else data
        yield data, rng.randrange(8), masked, rng.choice([NO_LIMIT, 0, 125, 65535, rng.randrange(2**20)])


def test_frame_parse_matches_reference(backend):
    for data, rsv, masked, limit in header_samples(1, 5000):
        pad = b"\xAA\xBB"
        got = backend._frame_parse(pad + data + b"\xCC", 2, 2 + len(data), rsv, masked, limit)
        assert tuple(got) == reference_parse(data, rsv, masked, limit), data.hex()


def test_frame_parse_reads_a_bytearray_as_bytes(backend):
    # The integrations parse their hosts' bytearray receive buffers in place.
    for data, rsv, masked, limit in header_samples(2, 500):
        got = backend._frame_parse(bytearray(b"\xAA" + data), 1, 1 + len(data), rsv, masked, limit)
        assert tuple(got) == reference_parse(data, rsv, masked, limit), data.hex()
    for other in (memoryview(b"\x81\x00"), None, "\x81\x00"):
        assert tuple(backend._frame_parse(other, 0, 2, 0, False, NO_LIMIT)) == (0, 0, 0, 0)


def test_frame_parse_bounds_are_clamped(backend):
    data = build(TEXT, b"hi", key=DEFAULT_KEY)
    assert backend._frame_parse(data, 0, 1000, 0, True, NO_LIMIT)[0] == 6
    assert tuple(backend._frame_parse(data, -5, 3, 0, True, NO_LIMIT)) == (0, 0, 0, 0)
    assert tuple(backend._frame_parse(data, 5, 2, 0, True, NO_LIMIT)) == (0, 0, 0, 0)


def test_frame_build_and_unmask(backend):
    rng = random.Random(2)
    for n in [0, 1, 3, 4, 5, 125, 126, 127, 1000, 65535, 65536, 70001]:
        payload = os.urandom(n)
        first = rng.randrange(256)
        key = os.urandom(4)
        wire = backend._frame_build(first, payload, key)
        assert wire == build(first & 15, payload, fin=bool(first & 0x80), rsv=(first >> 4) & 7, key=key)
        assert backend._frame_build(first, payload, None) == build(
            first & 15, payload, fin=bool(first & 0x80), rsv=(first >> 4) & 7)
        header = len(wire) - n
        assert backend._frame_unmask(wire, header, n, int.from_bytes(key, "little")) == payload
        assert backend._frame_unmask(wire, header, n, 0) == wire[header:]


def test_frame_header(backend):
    for n in [0, 1, 125, 126, 127, 65535, 65536, 2**32, 2**63, 2**64 - 1]:
        for first in (0x00, 0x81, 0x4A, 0x1FF):
            for key in (None, DEFAULT_KEY, bytearray(DEFAULT_KEY), memoryview(DEFAULT_KEY)):
                expected = build(first & 15, fin=bool(first & 0x80), rsv=(first >> 4) & 7,
                                 key=None if key is None else bytes(key), length=n)
                assert backend._frame_header(first, n, key) == expected, (first, n, key)


@pytest.mark.parametrize("first, length, key, error", [
    (-1, 0, None, OverflowError),
    (2**32, 0, None, OverflowError),
    (0x81, -1, None, OverflowError),
    (0x81, 2**64, None, OverflowError),
    (0x81, 200.0, None, TypeError),
    ("x", 0, None, TypeError),
    (0x81, 0, b"abc", ValueError),
    (0x81, 0, "abcd", TypeError),
])
def test_frame_header_bad_input(backend, first, length, key, error):
    with pytest.raises(error):
        backend._frame_header(first, length, key)


@pytest.mark.parametrize("n", [0, 1, 2047, 2048, 2049, 4101, 65536, 2**20, 2**20 + 1])
def test_unmasked_payload_copies(backend, n):
    # Unmasked payloads are copied by the mask kernel with a zero key from
    # 2 KiB to 1 MiB under AVX2 (csrc/wsfast.h, wsfast_copy), by memcpy
    # elsewhere: every size edge, at source offsets of every residue mod 32.
    data = os.urandom(n + 64)
    view = memoryview(data)
    for pos in (0, 1, 3, 5, 16, 31, 33, 63):
        expected = data[pos:pos + n]
        assert backend._frame_unmask(data, pos, n, 0) == expected
        frame = backend._frame_build(0x82, view[pos:pos + n], None)
        assert frame[-n:] == expected if n else frame == backend._frame_header(0x82, 0, None)
        payload = backend._new_payload(n + 3)
        payload.write(b"abc", 0, 3, 0)
        payload.write(data, pos, n, 0)
        assert payload.finish() == b"abc" + expected


@pytest.mark.parametrize("pos, n", [(-1, 1), (0, 11), (10, 1), (5, -1)])
def test_frame_unmask_range_checked(backend, pos, n):
    with pytest.raises(ValueError):
        backend._frame_unmask(b"0123456789", pos, n, 0)


def test_payload_buffer(backend):
    data = os.urandom(1000)
    key = os.urandom(4)
    masked = mask_bytes(data, key)
    payload = backend._new_payload(1000)
    pos = 0
    for n in (0, 1, 2, 3, 500, 494):
        payload.write(masked, pos, n, int.from_bytes(key, "little"))
        pos += n
    with pytest.raises(ValueError):
        payload.write(masked, 0, 1, 0)  # more than it holds
    assert payload.finish() == data
    with pytest.raises(ValueError):
        payload.finish()
    with pytest.raises(ValueError):
        backend._new_payload(-1)
    incomplete = backend._new_payload(2)
    with pytest.raises(ValueError):
        incomplete.finish()
    with pytest.raises(ValueError):
        incomplete.write(b"abc", 2, 5, 0)


UTF8_SAMPLES = [b"", b"abc", "é€𝄞".encode(), b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80",
                b"\xc0\xaf", b"\xf0\x9f", b"\xf0\x9f\x98", b"\xce", b"a\xff", b"\xef\xbf\xbf"]


def test_utf8_feed_fail_fast(backend):
    rng = random.Random(3)
    samples = list(UTF8_SAMPLES)
    alphabet = [b"a", b"\x80", b"\xbf", b"\xc2", b"\xe0", b"\xed", b"\xa0", b"\x9f", b"\xf0",
                b"\x90", b"\xf4", b"\x8f", b"\xff", "é".encode(), "𝄞".encode()]
    samples += [b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    for data in samples:
        error = utf8_error_index(data)
        state = UTF8_ACCEPT
        for i in range(len(data)):
            state = backend._utf8_feed(state, data, i, i + 1)
            if error is not None and error < len(data) and i >= error:
                assert state == UTF8_REJECT, (data, i)
            else:
                assert state != UTF8_REJECT, (data, i)
        whole = backend._utf8_feed(UTF8_ACCEPT, data, 0, len(data))
        assert (whole == UTF8_ACCEPT) == (error is None), data
        assert (whole == UTF8_REJECT) == (error is not None and error < len(data)), data


# ---- Differential: random and corrupted streams, every backend against _py --------------


def random_stream(rng: random.Random, masked: bool) -> bytes:
    frames = []
    for _ in range(rng.randint(1, 12)):
        opcode = rng.choice([0, 1, 2, 8, 9, 10, 1, 2])
        n = rng.choice([0, 1, 5, 125, 126, 300, 65536]) if opcode < 8 else rng.randint(0, 125)
        if opcode == 1:
            payload = "é€a𝄞"[rng.randrange(4)].encode() * (n // 2)
        elif opcode == 8 and n >= 2:
            payload = rng.choice([1000, 1001, 1005, 3000, 999, 5000]).to_bytes(2, "big") + b"bye"[: n - 2]
        else:
            payload = os.urandom(n)
        frames.append(build(opcode, payload, fin=rng.random() < 0.7 or opcode >= 8,
                            key=os.urandom(4) if masked else None))
    return b"".join(frames)


def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(0, 3)):
        action = rng.random()
        if not data:
            break
        i = rng.randrange(len(data))
        if action < 0.6:
            data[i] ^= 1 << rng.randrange(8)
        elif action < 0.8:
            del data[i : i + rng.randint(1, 4)]
        else:
            data[i:i] = os.urandom(rng.randint(1, 4))
    return bytes(data)


@pytest.mark.parametrize("seed", range(8))
def test_differential_streams(backend, py_backend, seed):
    rng = random.Random(seed)
    for _ in range(60):
        masked = rng.random() < 0.5
        role = "server" if masked else "client"
        data = mutate(rng, random_stream(rng, masked))
        chunks = random_splits(data, rng.randrange(1000), rng.choice([7, 100, 5000]))
        for cls, kwargs in (
            ("FrameDecoder", {"role": role, "max_frame_size": rng.choice([None, 65536, 300])}),
            ("Decoder", {"role": role, "max_message_size": rng.choice([None, 70000, 600]),
                         "decode_text": rng.random() < 0.7}),
        ):
            ours = run(getattr(backend, cls)(**kwargs), chunks)
            reference = run(getattr(py_backend, cls)(**kwargs), chunks)
            assert ours.key() == reference.key(), (cls, data.hex())
            assert ours.error_at == reference.error_at
            assert ours.sticky and reference.sticky


def test_compiled_codec_is_an_extension(backend):
    # The C backend's codec must be the Cython build, not an uncompiled copy.
    import importlib.machinery
    import sys

    module = sys.modules[backend.FrameDecoder.__module__]
    if backend.name == "python":
        assert module.__name__ == "wsfast._codec_py"
        return
    assert module.__name__ == "wsfast._codec_c"
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert not hasattr(backend.Frame(1), "__dict__")


def test_primitives_reject_bad_arguments_without_crashing(backend):
    # The primitives are private but reachable from Python: any argument
    # either works on the given range, with the right result, or raises
    # ValueError; nothing reads out of bounds. The parser and the UTF-8 feed
    # clamp their range to the data instead of raising.
    rng = random.Random(11)
    data = os.urandom(64)
    values = [-(2**62), -1, 0, 1, 3, 63, 64, 65, 2**31, 2**62]
    for _ in range(400):
        pos, n = rng.choice(values), rng.choice(values)
        in_range = 0 <= pos and 0 <= n <= len(data) - pos
        lo, hi = max(pos, 0), min(n, len(data))
        rsv, masked = rng.randrange(8), rng.random() < 0.5
        assert backend._frame_parse(data, pos, n, rsv, masked, NO_LIMIT) == (
            backend._frame_parse(data[:hi], lo, hi, rsv, masked, NO_LIMIT) if lo < hi
            else (0, 0, 0, 0))
        key = rng.randrange(2**32)
        if in_range:
            assert backend._frame_unmask(data, pos, n, key) == mask_bytes(
                data[pos : pos + n], key.to_bytes(4, "little"))
        else:
            with pytest.raises(ValueError):
                backend._frame_unmask(data, pos, n, key)
        expected_state = backend._utf8_feed(0, data[lo:hi], 0, hi - lo) if lo < hi else 0
        assert backend._utf8_feed(0, data, pos, n) == expected_state
        payload = backend._new_payload(8)
        if in_range and n <= 8:
            assert payload.write(data, pos, n, 0) == 0
        else:
            with pytest.raises(ValueError):
                payload.write(data, pos, n, 0)
    for bad in (None, bytearray(b"ab"), "ab"):
        with pytest.raises(TypeError):
            backend._frame_unmask(bad, 0, 1, 0)
        with pytest.raises(TypeError):
            backend._new_payload(4).write(bad, 0, 1, 0)
