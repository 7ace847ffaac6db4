"""permessage-deflate through the codec: ``backend.Decoder`` and ``backend.Encoder``.

Each wsfast backend, with RFC 7692's frames, RSV1 rules, round trips against
a plain-zlib peer, the inflated-size limit, bombs and corrupt data.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import pytest
from codec_util import DEFAULT_KEY, ZlibPeer, build, parse_frames
from deflate_util import BINARY_OPCODE, MiB, TAIL, TEXT_OPCODE, ZLIB_FAMILY, json_like, peak_memory

from wsfast.deflate import PerMessageDeflate

# The zlib_name and gigabyte_bomb fixtures.
pytest_plugins = ["deflate_fixtures"]


# ---------------------------------------------------------------------------
# Through the codec: backend.Decoder and backend.Encoder
# ---------------------------------------------------------------------------

# RFC 7692 §7.2.3: whole frames, server to client (unmasked).
RFC_FRAMES = [
    pytest.param("c107f248cdc9c90700", ["Hello"], id="7.2.3.1"),
    pytest.param("4103f248cd8004c9c90700", ["Hello"], id="7.2.3.1-fragmented"),
    pytest.param("c107f248cdc9c90700c105f200110000", ["Hello", "Hello"], id="7.2.3.2"),
    pytest.param("c10b000500faff48656c6c6f00", ["Hello"], id="7.2.3.3"),
    pytest.param("c108f348cdc9c9070000", ["Hello"], id="7.2.3.4"),
    pytest.param("c10df24805000000ffffcac9c90700", ["Hello"], id="7.2.3.5"),
    pytest.param("c10100", [""], id="7.2.3.6"),
]


@pytest.mark.parametrize("wire, texts", RFC_FRAMES)
def test_codec_rfc_frames_decode(backend: Any, wire: str, texts: list[str]) -> None:
    data = bytes.fromhex(wire)
    expected = [backend.Message(backend.Opcode.TEXT, t) for t in texts]
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    assert decoder.feed(data) == expected
    # The same, one byte at a time.
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    assert [event for i in range(len(data)) for event in decoder.feed(data[i : i + 1])] == expected


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
def test_codec_rfc_frames_encode(backend: Any, zlib_name: str) -> None:
    # The RFC's examples all grow when compressed ("Hello": 5 -> 7 bytes,
    # §7.2.3.1), so the Encoder sends them as they are, RSV1 clear; a
    # message that shrinks gets the RFC's framing (RSV1, tail stripped).
    encoder = backend.Encoder(role="server", deflate=PerMessageDeflate(zlib=zlib_name))
    assert encoder.text("Hello") == bytes.fromhex("810548656c6c6f")
    assert encoder.binary(b"") == bytes.fromhex("8200")  # §7.2.3.6 would be c20100
    text = "Hello" * 8
    compressed = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (compressed.compress(text.encode()) + compressed.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert encoder.text(text) == bytes([0xC1, len(payload)]) + payload
    no_takeover = PerMessageDeflate(server_no_context_takeover=True, zlib=zlib_name)
    encoder = backend.Encoder(role="server", deflate=no_takeover)
    assert encoder.text(text) + encoder.text(text) == (bytes([0xC1, len(payload)]) + payload) * 2
    stored = backend.Encoder(role="server", deflate=PerMessageDeflate(level=0, zlib=zlib_name))
    assert stored.text("Hello") == bytes.fromhex("810548656c6c6f")  # §7.2.3.3 would be 11 bytes


def test_codec_fragmented_rsv1_on_first_frame_only(backend: Any) -> None:
    text = json_like(3000, seed=20).decode()
    wire = backend.Encoder(role="server", deflate=PerMessageDeflate()).text(text, fragment_size=100)
    frames = backend.FrameDecoder(role="client", allow_rsv=0b100).feed(wire)
    assert len(frames) > 2
    assert [f.rsv1 for f in frames] == [True] + [False] * (len(frames) - 1)
    assert [f.opcode for f in frames] == [backend.Opcode.TEXT] + [backend.Opcode.CONTINUATION] * (
        len(frames) - 1
    )
    assert [f.fin for f in frames] == [False] * (len(frames) - 1) + [True]
    payload = b"".join(f.payload for f in frames)
    assert zlib.decompressobj(-15).decompress(payload + TAIL) == text.encode()
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    assert decoder.feed(wire) == [backend.Message(backend.Opcode.TEXT, text)]


def test_codec_client_masks_compressed_frames(backend: Any) -> None:
    pmd = PerMessageDeflate()
    encoder = backend.Encoder(role="client", deflate=pmd)
    decoder = backend.Decoder(role="server", deflate=pmd)
    data = json_like(5000, seed=21)
    wire = encoder.binary(data) + encoder.text("Hello", fragment_size=2)
    assert wire[1] & 0x80  # masked
    assert decoder.feed(wire) == [
        backend.Message(backend.Opcode.BINARY, data),
        backend.Message(backend.Opcode.TEXT, "Hello"),
    ]


def test_codec_control_frames_never_compressed(backend: Any) -> None:
    # RFC 7692 §6.1: only data messages are compressed.
    plain = backend.Encoder(role="server")
    deflating = backend.Encoder(role="server", deflate=PerMessageDeflate())
    for method, args in (("ping", (b"ping" * 10,)), ("pong", (b"pong",)), ("close", (1000, "bye"))):
        assert getattr(deflating, method)(*args) == getattr(plain, method)(*args)


def test_codec_min_size_sends_uncompressed(backend: Any) -> None:
    pmd = PerMessageDeflate(min_size=100)
    encoder = backend.Encoder(role="server", deflate=pmd)
    assert encoder.text("Hello") == backend.Encoder(role="server").text("Hello")  # no RSV1
    big = "Hello " * 100
    wire = encoder.text(big)
    assert wire[0] == 0xC1  # FIN, RSV1, TEXT
    decoder = backend.Decoder(role="client", deflate=pmd)
    assert decoder.feed(encoder.text("Hello") + wire) == [
        backend.Message(backend.Opcode.TEXT, "Hello"),
        backend.Message(backend.Opcode.TEXT, big),
    ]


def test_codec_uncompressed_message_keeps_window(backend: Any) -> None:
    # An uncompressed message (RSV1 clear) between compressed ones does not
    # enter the sliding window: §7.2.3.2's second message still decodes.
    wire = bytes.fromhex("c107f248cdc9c90700") + b"\x81\x05Hello" + bytes.fromhex("c105f200110000")
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    assert decoder.feed(wire) == [backend.Message(backend.Opcode.TEXT, "Hello")] * 3


@pytest.mark.parametrize(
    "wire, deflate_on",
    [
        pytest.param("4103f248cdc004c9c90700", True, id="rsv1-on-continuation"),
        pytest.param("c900", True, id="rsv1-on-ping"),
        pytest.param("4103f248cdc9008004c9c90700", True, id="rsv1-on-ping-between-fragments"),
        pytest.param("c107f248cdc9c90700", False, id="rsv1-without-deflate"),
        pytest.param("a105" + b"Hello".hex(), True, id="rsv2"),
        pytest.param("9105" + b"Hello".hex(), True, id="rsv3"),
    ],
)
def test_codec_rsv_rules(backend: Any, wire: str, deflate_on: bool) -> None:
    deflate_arg = PerMessageDeflate() if deflate_on else None
    decoder = backend.Decoder(role="client", deflate=deflate_arg)
    with pytest.raises(backend.ProtocolError) as info:
        decoder.feed(bytes.fromhex(wire))
    assert info.value.code == 1002


@pytest.mark.parametrize("window_bits", [8, 9, 12, 15])
@pytest.mark.parametrize(
    "no_takeover",
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["takeover", "server-no-takeover", "client-no-takeover", "no-takeover"],
)
def test_codec_round_trip(backend: Any, window_bits: int, no_takeover: tuple[bool, bool]) -> None:
    pmd = PerMessageDeflate(
        server_no_context_takeover=no_takeover[0],
        client_no_context_takeover=no_takeover[1],
        server_max_window_bits=window_bits,
        client_max_window_bits=window_bits,
    )
    texts = [json_like(n, seed=n).decode() for n in (0, 10, 1000, 30000)] + ["Hello"] * 3
    blobs = [random.Random(n).randbytes(n) for n in (1, 500, 70000)] + [bytes(100000)]
    # wsfast's Encoder against a plain-zlib peer's inflater, and the peer's
    # deflater against wsfast's Decoder, in both roles.
    messages = [(TEXT_OPCODE, t.encode()) for t in texts] + [(BINARY_OPCODE, b) for b in blobs]
    bits = {"server": window_bits, "client": window_bits}
    reset = {"server": no_takeover[0], "client": no_takeover[1]}
    for ours, theirs in (("server", "client"), ("client", "server")):
        encoder = backend.Encoder(role=ours, deflate=pmd)
        decoder = backend.Decoder(role=ours, deflate=pmd)
        peer = ZlibPeer(send_bits=bits[theirs], send_reset=reset[theirs],
                        receive_reset=reset[ours])
        key = DEFAULT_KEY if theirs == "client" else None
        for fragment_size in (None, 1000, 7):
            wire = b"".join(encoder.text(t, fragment_size=fragment_size) for t in texts)
            wire += b"".join(encoder.binary(b, fragment_size=fragment_size) for b in blobs[:3])
            wire += encoder.ping(b"between") + encoder.binary(blobs[3])
            expected = messages[:-1] + [(9, b"between"), messages[-1]]
            assert peer.receive(wire) == expected
            assert all(masked is (ours == "client") for *_, masked in parse_frames(wire))
            wire = b"".join(peer.send(op, data, fragment=fragment_size or 0, key=key)
                            for op, data in messages[:-1])
            wire += build(9, b"between", key=key) + peer.send(*messages[-1], key=key)
            assert [(int(m.opcode), m.data if isinstance(m.data, bytes) else m.data.encode())
                    for m in decoder.feed(wire)] == expected


@pytest.mark.parametrize("role", ["client", "server"])
def test_codec_compressed_fragments_with_a_ping_between(backend: Any, role: str) -> None:
    # RFC 6455 §5.4: control frames may come between the fragments of a
    # compressed message (RSV1 only on the first); the message inflates whole.
    text = json_like(3000, seed=5)
    key = DEFAULT_KEY if role == "server" else None
    peer = ZlibPeer()
    payload = peer.compress(text)
    cut = [0, 1, len(payload) // 2, len(payload)]
    frames = [build(TEXT_OPCODE if i == 0 else 0, payload[a:b], fin=b == len(payload),
                    rsv=4 if i == 0 else 0, key=key) for i, (a, b) in enumerate(zip(cut, cut[1:]))]
    wire = frames[0] + build(9, b"mid", key=key) + frames[1] + build(10, b"", key=key) + frames[2]
    expected = [backend.Message(backend.Opcode.PING, b"mid"), backend.Message(backend.Opcode.PONG, b""),
                backend.Message(backend.Opcode.TEXT, text.decode())]
    for step in (len(wire), 7, 1):
        decoder = backend.Decoder(role=role, deflate=PerMessageDeflate())
        events = [e for i in range(0, len(wire), step) for e in decoder.feed(wire[i : i + step])]
        assert events == expected
    # The context carries over: a second message compressed after the first.
    decoder = backend.Decoder(role=role, deflate=PerMessageDeflate())
    second = peer.send(TEXT_OPCODE, text, fragment=100, key=key)
    assert decoder.feed(wire + second)[-1] == backend.Message(backend.Opcode.TEXT, text.decode())


def test_codec_message_limit_counts_inflated_bytes(backend: Any) -> None:
    pmd = PerMessageDeflate()
    data = bytes(100000)
    for limit, ok in ((100000, True), (99999, False)):
        wire = backend.Encoder(role="server", deflate=pmd).binary(data, fragment_size=50)
        decoder = backend.Decoder(role="client", deflate=pmd, max_message_size=limit)
        if ok:
            assert decoder.feed(wire) == [backend.Message(backend.Opcode.BINARY, data)]
        else:
            with pytest.raises(backend.ProtocolError) as info:
                decoder.feed(wire)
            assert info.value.code == 1009


@pytest.mark.parametrize("role", ["client", "server"])
def test_codec_bomb(backend: Any, gigabyte_bomb: bytes, role: str) -> None:
    # A 1 GiB message compressed into about 1 MiB, in one frame.
    limit = 16 * MiB
    sender = "server" if role == "client" else "client"
    wire = backend.encode_frame(
        backend.Opcode.BINARY,
        gigabyte_bomb,
        rsv1=True,
        mask=b"\x01\x02\x03\x04" if sender == "client" else None,
    )
    good = backend.Encoder(role=sender).binary(b"before")
    decoder = backend.Decoder(role=role, deflate=PerMessageDeflate(), max_message_size=limit)
    raised: list[Any] = []

    def run() -> None:
        try:
            decoder.feed(good + wire)
        except backend.ProtocolError as exc:
            raised.append(exc)

    peak = peak_memory(run)
    [error] = raised
    assert error.code == 1009
    assert error.events == [backend.Message(backend.Opcode.BINARY, b"before")]
    assert peak < 2 * limit, f"peak {peak / MiB:.1f} MiB for a {limit / MiB:.0f} MiB limit"


def test_codec_bomb_in_fragments(backend: Any, gigabyte_bomb: bytes) -> None:
    limit = 4 * MiB
    step = 64 * 1024
    frames = [
        backend.encode_frame(
            backend.Opcode.BINARY if start == 0 else backend.Opcode.CONTINUATION,
            gigabyte_bomb[start : start + step],
            fin=start + step >= len(gigabyte_bomb),
            rsv1=start == 0,
        )
        for start in range(0, len(gigabyte_bomb), step)
    ]
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate(), max_message_size=limit)
    with pytest.raises(backend.ProtocolError) as info:
        for frame in frames:
            decoder.feed(frame)
    assert info.value.code == 1009


def test_codec_corrupt_gives_1007(backend: Any) -> None:
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    wire = bytes.fromhex("c107f248cdc9c90700") + bytes.fromhex("c20107")
    with pytest.raises(backend.ProtocolError) as info:
        decoder.feed(wire)
    assert info.value.code == 1007
    assert info.value.events == [backend.Message(backend.Opcode.TEXT, "Hello")]
    with pytest.raises(backend.ProtocolError) as again:
        decoder.feed(b"\x81\x00")
    assert again.value.code == 1007


def test_codec_invalid_utf8_after_inflating(backend: Any) -> None:
    deflater = PerMessageDeflate()._deflater("server")
    payload = deflater.compress(b"valid, then \xed\xa0\x80 a surrogate")
    assert payload is not None
    wire = backend.encode_frame(backend.Opcode.TEXT, payload, rsv1=True)
    decoder = backend.Decoder(role="client", deflate=PerMessageDeflate())
    with pytest.raises(backend.ProtocolError) as info:
        decoder.feed(wire)
    assert info.value.code == 1007
