"""permessage-deflate (RFC 7692) without the codec: implementations, configuration, streams.

The choice and self-test of the deflate implementation, ``PerMessageDeflate``'s
checks, the RFC 7692 §7.2.3 examples and round trips through the bounded
streams, once per deflate implementation present (zlib always; zlib-ng and
ISA-L when installed).
"""

from __future__ import annotations

import os
import random
import zlib
from typing import Any

import pytest
from deflate_util import HELLO, TAIL, ZLIB_FAMILY, ZLIBS, inflate_all, json_like
from hypothesis import given, settings
from hypothesis import strategies as st

from wsfast import _zlib_backends, deflate
from wsfast._zlib_backends import _strict_inflate
from wsfast.deflate import PerMessageDeflate
from wsfast.exceptions import ProtocolError

# The zlib_name fixture.
pytest_plugins = ["deflate_fixtures"]


# ---------------------------------------------------------------------------
# Implementation selection
# ---------------------------------------------------------------------------


def test_default_backend_is_listed() -> None:
    assert deflate.zlib_backend() == ZLIBS[0]
    assert "zlib" in ZLIBS
    assert set(ZLIBS) <= {"zlib", "zlib-ng", "isal"}
    assert PerMessageDeflate().zlib is None  # the automatic choice


def test_pin_backend(zlib_name: str) -> None:
    assert PerMessageDeflate(zlib=zlib_name).zlib == zlib_name
    # The agreed instance keeps the choice.
    agreed = PerMessageDeflate.from_response(
        "permessage-deflate", PerMessageDeflate(zlib=zlib_name)
    )
    assert agreed.zlib == zlib_name


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown"):
        PerMessageDeflate(zlib="brotli")
    with pytest.raises(TypeError, match="zlib must be a str or None"):
        PerMessageDeflate(zlib=1)  # type: ignore[arg-type]


def _fake(name: str) -> Any:
    """A stand-in implementation that records which one built each object."""
    built: list[str] = []

    def compressobj(level: int, window_bits: int) -> Any:
        built.append(f"{name} compress")
        return zlib.compressobj(level, zlib.DEFLATED, -window_bits)

    def decompressobj(window_bits: int, size: int) -> Any:
        built.append(f"{name} decompress")
        return zlib.decompressobj(-window_bits)

    impl = _zlib_backends._Zlib(name, (zlib.error,), compressobj, decompressobj)
    return impl, built


@pytest.mark.parametrize(
    "present, compress, small, large",
    [
        (("isal", "zlib-ng", "zlib"), "isal", "zlib-ng", "isal"),
        (("zlib-ng", "zlib"), "zlib-ng", "zlib-ng", "zlib-ng"),
        (("isal", "zlib"), "isal", "isal", "isal"),
        (("zlib",), "zlib", "zlib", "zlib"),
    ],
)
def test_automatic_choice_per_operation(
    present: tuple[str, ...], compress: str, small: str, large: str
) -> None:
    fakes = {name: _fake(name) for name in present}
    auto = _zlib_backends._automatic({name: impl for name, (impl, _) in fakes.items()})
    built = {name: log for name, (_, log) in fakes.items()}
    auto.compressobj(6, 15)
    auto.decompressobj(15, _zlib_backends._INFLATE_SPLIT - 1)
    auto.decompressobj(15, _zlib_backends._INFLATE_SPLIT)
    log = [entry for name in present for entry in built[name]]
    assert sorted(log) == sorted(
        [f"{compress} compress", f"{small} decompress", f"{large} decompress"]
    )


def test_automatic_choice_round_trip() -> None:
    """Small and large first messages, with and without context takeover."""
    for no_takeover in (False, True):
        pmd = PerMessageDeflate(server_no_context_takeover=no_takeover)
        deflater, inflater = pmd._deflater("server"), pmd._inflater("client")
        for size in (10, 100_000, 10, 5_000):
            data = os.urandom(size // 2) * 2
            assert inflater.inflate(deflater.compress(data), True, None) == data


def test_zlib_backend_per_operation() -> None:
    assert deflate.zlib_backend("compress") == deflate.zlib_backend() == ZLIBS[0]
    assert deflate.zlib_backend("decompress") in ZLIBS
    assert deflate.zlib_backend("decompress large") in ZLIBS
    with pytest.raises(ValueError, match="operation"):
        deflate.zlib_backend("inflate")


def test_self_test_rejects_a_broken_implementation() -> None:
    def compressobj(level: int, bits: int) -> Any:
        return zlib.compressobj(level, zlib.DEFLATED, -15)  # ignores the window

    def decompressobj(bits: int) -> Any:
        class Unbounded:  # ignores max_length
            def __init__(self) -> None:
                self._d = zlib.decompressobj(-15)
                self.unconsumed_tail = b""
                self.eof = False

            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                return self._d.decompress(data)

        return Unbounded()

    broken = _zlib_backends._Zlib("broken", (zlib.error,), compressobj, decompressobj)
    assert not _zlib_backends._self_test(broken)
    assert _zlib_backends._self_test(_zlib_backends._load_zlib())


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"server_max_window_bits": 7}, ValueError),
        ({"server_max_window_bits": 16}, ValueError),
        ({"client_max_window_bits": 7}, ValueError),
        ({"client_max_window_bits": 16}, ValueError),
        ({"client_max_window_bits": True}, TypeError),
        ({"client_max_window_bits": "15"}, TypeError),
        ({"server_no_context_takeover": 1}, TypeError),
        ({"client_no_context_takeover": None}, TypeError),
        ({"level": 10}, ValueError),
        ({"level": -2}, ValueError),
        ({"level": 6.0}, TypeError),
        ({"min_size": -1}, ValueError),
        ({"min_size": None}, TypeError),
    ],
)
def test_invalid_configuration(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        PerMessageDeflate(**kwargs)


def test_configuration_is_read_only_and_compares_by_value() -> None:
    a = PerMessageDeflate(server_max_window_bits=10, level=1)
    b = PerMessageDeflate(server_max_window_bits=10, level=1)
    assert a == b and hash(a) == hash(b)
    assert a != PerMessageDeflate(server_max_window_bits=11, level=1)
    assert a != "permessage-deflate"
    with pytest.raises(AttributeError):
        a.server_max_window_bits = 12  # type: ignore[misc]
    assert "server_max_window_bits=10" in repr(a)
    assert eval(repr(a)) == a


def test_roles() -> None:
    pmd = PerMessageDeflate()
    for role in ("server", "client"):
        pmd._inflater(role)
        pmd._deflater(role)
    with pytest.raises(ValueError):
        pmd._inflater("proxy")
    with pytest.raises(ValueError):
        pmd._deflater("")


# ---------------------------------------------------------------------------
# RFC 7692 §7.2.3 examples
# ---------------------------------------------------------------------------

HELLO_AGAIN = bytes.fromhex("f200110000")  # §7.2.3.2, second message, shared window
HELLO_STORED = bytes.fromhex("000500faff48656c6c6f00")  # §7.2.3.3
HELLO_BFINAL = bytes.fromhex("f348cdc9c9070000")  # §7.2.3.4
HELLO_TWO_BLOCKS = bytes.fromhex("f24805000000ffffcac9c90700")  # §7.2.3.5


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
def test_rfc_compress_hello(zlib_name: str) -> None:
    # §7.2.3.1 and §7.2.3.2: with context takeover the second "Hello" refers
    # back to the first.
    deflater = PerMessageDeflate(zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"Hello") == HELLO
    assert deflater.compress(b"Hello") == HELLO_AGAIN


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
@pytest.mark.parametrize("role", ["server", "client"])
def test_rfc_compress_hello_no_context_takeover(zlib_name: str, role: str) -> None:
    pmd = PerMessageDeflate(
        server_no_context_takeover=True, client_no_context_takeover=True, zlib=zlib_name
    )
    deflater = pmd._deflater(role)
    assert [deflater.compress(b"Hello") for _ in range(3)] == [HELLO] * 3


def test_rfc_compress_stored(zlib_name: str) -> None:
    # §7.2.3.3: level 0 emits a block with no compression.
    deflater = PerMessageDeflate(level=0, zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"Hello") == HELLO_STORED


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
def test_rfc_empty_message(zlib_name: str) -> None:
    # §7.2.3.6: an empty message compresses to a single 0x00 byte.
    deflater = PerMessageDeflate(zlib=zlib_name)._deflater("client")
    assert deflater.compress(b"") == b"\x00"


@pytest.mark.parametrize(
    "payloads",
    [
        [HELLO],
        [HELLO_STORED],
        [HELLO_BFINAL],
        [HELLO_TWO_BLOCKS],
        [b"\x00"],  # §7.2.3.6, empty
    ],
)
def test_rfc_inflate_examples(zlib_name: str, payloads: list[bytes]) -> None:
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
    for payload in payloads:
        expected = b"" if payload == b"\x00" else b"Hello"
        assert inflate_all(inflater, payload) == expected


def test_rfc_inflate_shared_window(zlib_name: str) -> None:
    # §7.2.3.2: the second message only makes sense with the first's window.
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO_AGAIN) == b"Hello"


def test_rfc_inflate_no_context_takeover(zlib_name: str) -> None:
    # Without client context takeover the server's inflater starts over, so
    # a message that refers back is corrupt.
    pmd = PerMessageDeflate(client_no_context_takeover=True, zlib=zlib_name)
    inflater = pmd._inflater("server")
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO) == b"Hello"
    if zlib_name != "isal":  # ISA-L does not check distances against the window
        with pytest.raises(ProtocolError) as info:
            inflate_all(inflater, HELLO_AGAIN)
        assert info.value.code == 1007


def test_rfc_inflate_fragmented(zlib_name: str) -> None:
    # §7.2.3.1: "Hello" in two fragments, f2 48 cd | c9 c9 07 00.
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
    first = inflater.inflate(HELLO[:3], False, 100)
    rest = inflater.inflate(HELLO[3:], True, 100 - len(first))
    assert first + rest == b"Hello"


def test_rfc_inflate_after_bfinal(zlib_name: str) -> None:
    # §7.2.3.4: a BFINAL block ends the stream; the next message starts a new one.
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
    assert inflate_all(inflater, HELLO_BFINAL) == b"Hello"
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO_AGAIN) == b"Hello"


def test_fragment_boundaries_anywhere(zlib_name: str) -> None:
    data = json_like(5000)
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    for cut in range(0, len(payload) + 1, 7):
        inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
        out = inflater.inflate(payload[:cut], False, len(data))
        out += inflater.inflate(payload[cut:], True, len(data) - len(out))
        assert out == data


# ---------------------------------------------------------------------------
# Round trips: both directions, context takeover on/off, window bits 8..15
# ---------------------------------------------------------------------------


def messages() -> list[bytes]:
    rng = random.Random(7692)
    text = json_like(20000, seed=1)
    return [
        b"",
        b"Hello",
        json_like(1000, seed=2),
        text,
        text,  # a repeat: a shared window makes it tiny
        rng.randbytes(3000),  # incompressible
        bytes(70000),
        text[:700] * 40,  # repeats 700 bytes apart: beyond a 512-byte window
    ]


@pytest.mark.parametrize("window_bits", range(8, 16))
@pytest.mark.parametrize(
    "server_no_context_takeover", [False, True], ids=["s-takeover", "s-no-takeover"]
)
@pytest.mark.parametrize(
    "client_no_context_takeover", [False, True], ids=["c-takeover", "c-no-takeover"]
)
def test_round_trip(
    zlib_name: str,
    window_bits: int,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
) -> None:
    pmd = PerMessageDeflate(
        server_no_context_takeover=server_no_context_takeover,
        client_no_context_takeover=client_no_context_takeover,
        server_max_window_bits=window_bits,
        client_max_window_bits=window_bits,
        zlib=zlib_name,
    )
    for sender, no_takeover in (
        ("server", server_no_context_takeover),
        ("client", client_no_context_takeover),
    ):
        receiver = "client" if sender == "server" else "server"
        deflater = pmd._deflater(sender)
        inflater = pmd._inflater(receiver)
        # An independent peer: zlib holding exactly the negotiated window,
        # which fails on any reference further back (RFC 7692 §7.1.2).
        peer = zlib.decompressobj(-window_bits)
        for data in messages():
            payload = deflater.compress(data)
            assert payload is not None
            assert not payload.endswith(TAIL)
            assert inflate_all(inflater, payload, len(data)) == data
            if no_takeover:
                # Each message stands alone (§7.1.1).
                peer = zlib.decompressobj(-window_bits)
            assert _strict_inflate(peer, payload + TAIL) == data


def test_context_takeover_shrinks_repeats(zlib_name: str) -> None:
    data = json_like(4000, seed=3)
    takeover = PerMessageDeflate(zlib=zlib_name)._deflater("server")
    fresh = PerMessageDeflate(server_no_context_takeover=True, zlib=zlib_name)._deflater("server")
    first = takeover.compress(data)
    assert first is not None and fresh.compress(data) is not None
    again = takeover.compress(data)
    alone = fresh.compress(data)
    assert again is not None and alone is not None
    assert len(again) < len(alone) // 10


def test_directions_use_their_own_parameters() -> None:
    # The server deflates with server_* and the client inflates with them.
    pmd = PerMessageDeflate(server_max_window_bits=9, client_no_context_takeover=True)
    data = json_like(1000, seed=4) * 3  # repeats 1000 bytes apart
    payload = pmd._deflater("server").compress(data)
    assert payload is not None
    _strict_inflate(zlib.decompressobj(-9), payload + TAIL)  # fits a 512-byte window
    big = PerMessageDeflate(server_max_window_bits=15)._deflater("server").compress(data)
    assert big is not None and len(big) < len(payload)
    # The client deflates with context takeover off: two messages alone.
    deflater = pmd._deflater("client")
    one, two = deflater.compress(data), deflater.compress(data)
    assert one == two


@pytest.mark.parametrize("level", [-1, 0, 1, 5, 9])
def test_levels(zlib_name: str, level: int) -> None:
    pmd = PerMessageDeflate(level=level, zlib=zlib_name)
    data = json_like(30000, seed=level + 10)
    payload = pmd._deflater("client").compress(data)
    assert payload is not None
    assert inflate_all(pmd._inflater("server"), payload) == data
    if level == 0:
        assert len(payload) > len(data)  # stored blocks
    else:
        assert len(payload) < len(data) // 2


def test_min_size(zlib_name: str) -> None:
    deflater = PerMessageDeflate(min_size=10, zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"") is None
    assert deflater.compress(b"123456789") is None
    payload = deflater.compress(b"0123456789")
    assert payload is not None
    assert zlib.decompressobj(-15).decompress(payload + TAIL) == b"0123456789"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_types(zlib_name: str, kind: Any) -> None:
    data = json_like(3000, seed=5)
    pmd = PerMessageDeflate(zlib=zlib_name)
    payload = pmd._deflater("server").compress(kind(data))
    assert payload is not None
    framed = b"xx" + payload
    inflater = pmd._inflater("client")
    assert inflater.inflate(kind(framed)[2:], True, None) == data


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.binary(max_size=3000) | st.sampled_from([b"Hello", b"a" * 5000]), max_size=6
    ),
    cuts=st.lists(st.integers(1, 4000), max_size=3),
    empty_last=st.booleans(),
    bits=st.integers(8, 15),
    no_takeover=st.booleans(),
    name=st.sampled_from(ZLIBS),
)
def test_round_trip_fragmented(
    messages: list[bytes],
    cuts: list[int],
    empty_last: bool,
    bits: int,
    no_takeover: bool,
    name: str,
) -> None:
    pmd = PerMessageDeflate(
        client_max_window_bits=bits, client_no_context_takeover=no_takeover, zlib=name
    )
    deflater, inflater = pmd._deflater("client"), pmd._inflater("server")
    for data in messages:
        payload = deflater.compress(data)
        assert payload is not None
        bounds = sorted({cut for cut in cuts if cut < len(payload)})
        fragments = [payload[i:j] for i, j in zip([0, *bounds], [*bounds, len(payload)])]
        if empty_last:
            fragments.append(b"")  # a final continuation frame may be empty
        out = b""
        for index, fragment in enumerate(fragments):
            out += inflater.inflate(fragment, index == len(fragments) - 1, len(data) - len(out))
        assert out == data
