"""permessage-deflate (RFC 7692): negotiation, per-message (de)compression, limits.

The extension is pure Python, shared by both backends, so most tests here
drive ``wsfast.deflate`` directly, once per deflate implementation present
(zlib always; zlib-ng and ISA-L when installed). The tests at the end go
through ``backend.Decoder``/``backend.Encoder`` of each wsfast backend.
"""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from typing import Any

import pytest
from codec_util import DEFAULT_KEY, ZlibPeer, build, parse_frames
from hypothesis import given, settings
from hypothesis import strategies as st

from wsfast import _zlib_backends, deflate
from wsfast.deflate import PerMessageDeflate
from wsfast.exceptions import ProtocolError
from wsfast.handshake import accept_key

TEXT_OPCODE, BINARY_OPCODE = 1, 2

ZLIBS = deflate.zlib_backends()
# Implementations whose compressor is zlib's algorithm, so the RFC examples
# come out byte for byte (ISA-L's output is valid but different).
ZLIB_FAMILY = [name for name in ZLIBS if name in ("zlib", "zlib-ng")]
TAIL = b"\x00\x00\xff\xff"
MiB = 2**20


@pytest.fixture(params=ZLIBS)
def zlib_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def json_like(size: int, seed: int = 0) -> bytes:
    """A JSON-ish document: repetitive keys, varying values, like real traffic."""
    rng = random.Random(seed)
    parts = []
    total = 0
    while total < size:
        item = b'{"id":%d,"user":"user%d","active":%s,"score":%d.%03d,"tags":["%s","%s"]},' % (
            rng.randrange(1 << 30),
            rng.randrange(10000),
            b"true" if rng.random() < 0.5 else b"false",
            rng.randrange(100),
            rng.randrange(1000),
            rng.choice([b"alpha", b"beta", b"gamma"]),
            rng.choice([b"delta", b"epsilon", b"zeta"]),
        )
        parts.append(item)
        total += len(item)
    return b"".join(parts)[:size]


def inflate_in_small_steps(inflater: Any, payload: bytes) -> bytes:
    """Inflate with a zlib decompressor, 64 bytes per call.

    zlib checks distances against its window plus the current call's output,
    so small calls make it reject any reference beyond the window.
    """
    pieces = []
    while True:
        piece = inflater.decompress(payload, 64)
        pieces.append(piece)
        payload = inflater.unconsumed_tail
        if not payload and len(piece) < 64:
            return b"".join(pieces)


def inflate_all(inflater: Any, payload: bytes, limit: int | None = None) -> bytes:
    return bytes(inflater.inflate(payload, True, limit))


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
# Negotiation (RFC 7692 §5, §7.1)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, header",
    [
        ({}, "permessage-deflate; client_max_window_bits"),
        (
            {"server_no_context_takeover": True},
            "permessage-deflate; server_no_context_takeover; client_max_window_bits",
        ),
        (
            {"client_no_context_takeover": True},
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        ),
        (
            {"server_max_window_bits": 10},
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        ),
        ({"client_max_window_bits": 8}, "permessage-deflate; client_max_window_bits=8"),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 9,
                "client_max_window_bits": 12,
                "level": 1,
                "min_size": 100,
            },
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=9; client_max_window_bits=12",
        ),
    ],
)
def test_offer(kwargs: dict[str, Any], header: str) -> None:
    assert PerMessageDeflate(**kwargs).offer() == header


PMD = "permessage-deflate"

# (offer header, server preferences, expected response, expected agreement)
ACCEPTED = [
    # Firefox and Chrome's offers.
    (PMD, {}, PMD, {}),
    (f"{PMD}; client_max_window_bits", {}, PMD, {}),
    # client_max_window_bits without a value: the server may set any value.
    (
        f"{PMD}; client_max_window_bits",
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    # With a value: the answer repeats it, or lowers it.
    (
        f"{PMD}; client_max_window_bits=12",
        {},
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 12},
    ),
    (
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    (
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 12},
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 9},
    ),
    (
        f"{PMD}; client_max_window_bits=8",
        {},
        f"{PMD}; client_max_window_bits=8",
        {"client_max_window_bits": 8},
    ),
    # Not offered: it must not be answered (§7.1.2.2); the client keeps 15.
    (PMD, {"client_max_window_bits": 10}, PMD, {}),
    # server_max_window_bits offered: always answered, never raised (§7.1.2.1).
    (
        f"{PMD}; server_max_window_bits=10",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 12},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 9},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    (
        f"{PMD}; server_max_window_bits=15",
        {},
        f"{PMD}; server_max_window_bits=15",
        {},
    ),
    (
        f"{PMD}; server_max_window_bits=15; client_max_window_bits=10",
        {},
        f"{PMD}; server_max_window_bits=15; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=8",
        {},
        f"{PMD}; server_max_window_bits=8",
        {"server_max_window_bits": 8},
    ),
    # ...and the server may announce a limit unasked.
    (
        PMD,
        {"server_max_window_bits": 11},
        f"{PMD}; server_max_window_bits=11",
        {"server_max_window_bits": 11},
    ),
    # Context takeover flags: offered, or the server's own choice.
    (
        f"{PMD}; server_no_context_takeover",
        {},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    (
        PMD,
        {"server_no_context_takeover": True},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    (
        f"{PMD}; client_no_context_takeover",
        {},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    (
        PMD,
        {"client_no_context_takeover": True},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    (
        f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11",
        {"level": 1, "min_size": 64},
        f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11",
        {
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 10,
            "client_max_window_bits": 11,
            "level": 1,
            "min_size": 64,
        },
    ),
    # Several offers: the first acceptable one wins.
    (
        f"{PMD}; server_max_window_bits=10, {PMD}",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (f"{PMD}; x_unknown, {PMD}; client_max_window_bits", {}, PMD, {}),
    (
        f"{PMD}; server_max_window_bits=7, {PMD}; server_max_window_bits=9",
        {},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    (
        f"{PMD}; server_no_context_takeover; server_no_context_takeover, "
        f"{PMD}; client_no_context_takeover",
        {},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    # Other extensions are not ours to judge.
    (f"x-webkit-deflate-frame, {PMD}; client_max_window_bits", {}, PMD, {}),
    (f'foo; bar="baz", {PMD}', {}, PMD, {}),
    # Header syntax: empty list elements, optional whitespace, quoted values.
    (f" , {PMD} ,, ", {}, PMD, {}),
    (
        f"{PMD} ;\tserver_max_window_bits = 10 ",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f'{PMD}; server_max_window_bits="10"',
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f'{PMD}; client_max_window_bits="1\\2"',
        {},
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 12},
    ),
]


@pytest.mark.parametrize("offer, preferences, response, agreed", ACCEPTED)
def test_accept(
    offer: str, preferences: dict[str, Any], response: str, agreed: dict[str, Any]
) -> None:
    result = PerMessageDeflate.accept(offer, **preferences)
    assert result is not None
    assert result[0] == response
    assert result[1] == PerMessageDeflate(**agreed)


DECLINED = [
    "",
    " , ",
    "x-webkit-deflate-frame",
    "Permessage-Deflate",  # extension tokens match exactly
    f"{PMD}; unknown",
    f"{PMD}; server_no_context_takeover; server_no_context_takeover",
    f"{PMD}; client_max_window_bits; client_max_window_bits=10",
    f"{PMD}; server_no_context_takeover=1",
    f"{PMD}; client_no_context_takeover=true",
    f"{PMD}; server_max_window_bits",  # needs a value
    f"{PMD}; server_max_window_bits=7",
    f"{PMD}; server_max_window_bits=16",
    f"{PMD}; server_max_window_bits=08",  # no leading zeros
    f"{PMD}; server_max_window_bits=+9",
    f"{PMD}; client_max_window_bits=abc",
    f"{PMD}; client_max_window_bits=0x0f",
    f'{PMD}; client_max_window_bits=""',
    # Malformed headers: the extension is declined, not the handshake.
    f"{PMD};",
    f"{PMD}; ;",
    f"{PMD}; =10",
    f'{PMD}; server_max_window_bits="10',
    f'{PMD}; server_max_window_bits="1 0"',
    f"{PMD} server_max_window_bits",
    f"{PMD}; server_max_window_bits=10 11",
    '"permessage-deflate"',
]


@pytest.mark.parametrize("offer", DECLINED)
def test_accept_declines(offer: str) -> None:
    assert PerMessageDeflate.accept(offer) is None


def test_accept_checks_preferences() -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate.accept(PMD, server_max_window_bits=20)
    with pytest.raises(TypeError):
        PerMessageDeflate.accept(PMD, compression=True)


def test_accept_keeps_backend(zlib_name: str) -> None:
    result = PerMessageDeflate.accept(PMD, _zlib=zlib_name)
    assert result is not None and result[1].zlib == zlib_name


# (offer preferences, response header, expected agreement)
RESPONSES_OK = [
    ({}, PMD, {}),
    ({}, f"{PMD}; server_no_context_takeover", {"server_no_context_takeover": True}),
    ({}, f"{PMD}; client_no_context_takeover", {"client_no_context_takeover": True}),
    ({}, f"{PMD}; server_max_window_bits=10", {"server_max_window_bits": 10}),
    ({}, f"{PMD}; client_max_window_bits=8", {"client_max_window_bits": 8}),
    ({}, f"{PMD}; client_max_window_bits=15", {}),
    (
        {"server_max_window_bits": 10},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        {"server_max_window_bits": 10},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    ({"client_max_window_bits": 10}, PMD, {"client_max_window_bits": 10}),
    (
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 9},
    ),
    (
        {"server_no_context_takeover": True},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    # Our own client_no_context_takeover stands whatever the answer.
    ({"client_no_context_takeover": True}, PMD, {"client_no_context_takeover": True}),
    ({"level": 1, "min_size": 10}, PMD, {"level": 1, "min_size": 10}),
    ({}, f"foo, {PMD}, bar; baz", {}),
    ({}, f'{PMD}; server_max_window_bits="12"', {"server_max_window_bits": 12}),
]


@pytest.mark.parametrize("offered, response, agreed", RESPONSES_OK)
def test_from_response(offered: dict[str, Any], response: str, agreed: dict[str, Any]) -> None:
    result = PerMessageDeflate.from_response(response, PerMessageDeflate(**offered))
    assert result == PerMessageDeflate(**agreed)


RESPONSES_BAD = [
    ({}, ""),
    ({}, "foo"),
    ({}, f"{PMD}, {PMD}"),
    ({}, f"{PMD}; unknown"),
    ({}, f"{PMD}; unknown=1"),
    ({}, f"{PMD}; server_no_context_takeover; server_no_context_takeover"),
    ({}, f"{PMD}; server_max_window_bits=10; server_max_window_bits=10"),
    ({}, f"{PMD}; server_max_window_bits"),
    ({}, f"{PMD}; server_max_window_bits=7"),
    ({}, f"{PMD}; server_max_window_bits=16"),
    ({}, f"{PMD}; server_max_window_bits=010"),
    ({}, f"{PMD}; client_max_window_bits"),  # a response needs the value
    ({}, f"{PMD}; client_max_window_bits=7"),
    ({}, f"{PMD}; client_no_context_takeover=1"),
    ({}, f"{PMD};"),
    # Answers that break what we offered.
    ({"server_no_context_takeover": True}, PMD),
    ({"server_max_window_bits": 10}, PMD),
    ({"server_max_window_bits": 10}, f"{PMD}; server_max_window_bits=11"),
    ({"client_max_window_bits": 10}, f"{PMD}; client_max_window_bits=11"),
    ({"client_max_window_bits": 10}, f"{PMD}; client_max_window_bits=15"),
]


@pytest.mark.parametrize("offered, response", RESPONSES_BAD)
def test_from_response_rejects(offered: dict[str, Any], response: str) -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate.from_response(response, PerMessageDeflate(**offered))


def test_from_response_type_errors() -> None:
    with pytest.raises(TypeError):
        PerMessageDeflate.from_response(PMD, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PerMessageDeflate.from_response(b"permessage-deflate", PerMessageDeflate())  # type: ignore[arg-type]


negotiation_preferences = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.integers(8, 15),
        "client_max_window_bits": st.integers(8, 15),
    }
)


@settings(max_examples=300, deadline=None)
@given(client=negotiation_preferences, server=negotiation_preferences)
def test_both_sides_agree(client: dict[str, Any], server: dict[str, Any]) -> None:
    offered = PerMessageDeflate(**client)
    result = PerMessageDeflate.accept(offered.offer(), **server)
    assert result is not None
    response, server_side = result
    client_side = PerMessageDeflate.from_response(response, offered)
    assert client_side == server_side
    # Neither side's limits are exceeded.
    assert server_side.server_max_window_bits <= min(
        client["server_max_window_bits"], server["server_max_window_bits"]
    )
    assert server_side.client_max_window_bits <= min(
        client["client_max_window_bits"], server["client_max_window_bits"]
    )
    for name in ("server_no_context_takeover", "client_no_context_takeover"):
        assert getattr(server_side, name) == (client[name] or server[name])


# ---------------------------------------------------------------------------
# RFC 7692 §7.2.3 examples
# ---------------------------------------------------------------------------

HELLO = bytes.fromhex("f248cdc9c90700")  # §7.2.3.1
HELLO_AGAIN = bytes.fromhex("f200110000")  # §7.2.3.2, second message, shared window
HELLO_STORED = bytes.fromhex("000500faff48656c6c6f00")  # §7.2.3.3
HELLO_BFINAL = bytes.fromhex("f348cdc9c9070000")  # §7.2.3.4
HELLO_TWO_BLOCKS = bytes.fromhex("f24805000000ffffcac9c90700")  # §7.2.3.5


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
def test_rfc_compress_hello(zlib_name: str) -> None:
    # §7.2.3.1 and §7.2.3.2: with context takeover the second "Hello" refers
    # back to the first.
    deflater = PerMessageDeflate(_zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"Hello") == HELLO
    assert deflater.compress(b"Hello") == HELLO_AGAIN


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
@pytest.mark.parametrize("role", ["server", "client"])
def test_rfc_compress_hello_no_context_takeover(zlib_name: str, role: str) -> None:
    pmd = PerMessageDeflate(
        server_no_context_takeover=True, client_no_context_takeover=True, _zlib=zlib_name
    )
    deflater = pmd._deflater(role)
    assert [deflater.compress(b"Hello") for _ in range(3)] == [HELLO] * 3


def test_rfc_compress_stored(zlib_name: str) -> None:
    # §7.2.3.3: level 0 emits a block with no compression.
    deflater = PerMessageDeflate(level=0, _zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"Hello") == HELLO_STORED


@pytest.mark.parametrize("zlib_name", ZLIB_FAMILY)
def test_rfc_empty_message(zlib_name: str) -> None:
    # §7.2.3.6: an empty message compresses to a single 0x00 byte.
    deflater = PerMessageDeflate(_zlib=zlib_name)._deflater("client")
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
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    for payload in payloads:
        expected = b"" if payload == b"\x00" else b"Hello"
        assert inflate_all(inflater, payload) == expected


def test_rfc_inflate_shared_window(zlib_name: str) -> None:
    # §7.2.3.2: the second message only makes sense with the first's window.
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO_AGAIN) == b"Hello"


def test_rfc_inflate_no_context_takeover(zlib_name: str) -> None:
    # Without client context takeover the server's inflater starts over, so
    # a message that refers back is corrupt.
    pmd = PerMessageDeflate(client_no_context_takeover=True, _zlib=zlib_name)
    inflater = pmd._inflater("server")
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO) == b"Hello"
    if zlib_name != "isal":  # ISA-L does not check distances against the window
        with pytest.raises(ProtocolError) as info:
            inflate_all(inflater, HELLO_AGAIN)
        assert info.value.code == 1007


def test_rfc_inflate_fragmented(zlib_name: str) -> None:
    # §7.2.3.1: "Hello" in two fragments, f2 48 cd | c9 c9 07 00.
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
    first = inflater.inflate(HELLO[:3], False, 100)
    rest = inflater.inflate(HELLO[3:], True, 100 - len(first))
    assert first + rest == b"Hello"


def test_rfc_inflate_after_bfinal(zlib_name: str) -> None:
    # §7.2.3.4: a BFINAL block ends the stream; the next message starts a new one.
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    assert inflate_all(inflater, HELLO_BFINAL) == b"Hello"
    assert inflate_all(inflater, HELLO) == b"Hello"
    assert inflate_all(inflater, HELLO_AGAIN) == b"Hello"


def test_fragment_boundaries_anywhere(zlib_name: str) -> None:
    data = json_like(5000)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    for cut in range(0, len(payload) + 1, 7):
        inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
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
        _zlib=zlib_name,
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
            assert inflate_in_small_steps(peer, payload + TAIL) == data


def test_context_takeover_shrinks_repeats(zlib_name: str) -> None:
    data = json_like(4000, seed=3)
    takeover = PerMessageDeflate(_zlib=zlib_name)._deflater("server")
    fresh = PerMessageDeflate(server_no_context_takeover=True, _zlib=zlib_name)._deflater("server")
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
    inflate_in_small_steps(zlib.decompressobj(-9), payload + TAIL)  # fits a 512-byte window
    big = PerMessageDeflate(server_max_window_bits=15)._deflater("server").compress(data)
    assert big is not None and len(big) < len(payload)
    # The client deflates with context takeover off: two messages alone.
    deflater = pmd._deflater("client")
    one, two = deflater.compress(data), deflater.compress(data)
    assert one == two


@pytest.mark.parametrize("level", [-1, 0, 1, 5, 9])
def test_levels(zlib_name: str, level: int) -> None:
    pmd = PerMessageDeflate(level=level, _zlib=zlib_name)
    data = json_like(30000, seed=level + 10)
    payload = pmd._deflater("client").compress(data)
    assert payload is not None
    assert inflate_all(pmd._inflater("server"), payload) == data
    if level == 0:
        assert len(payload) > len(data)  # stored blocks
    else:
        assert len(payload) < len(data) // 2


def test_min_size(zlib_name: str) -> None:
    deflater = PerMessageDeflate(min_size=10, _zlib=zlib_name)._deflater("server")
    assert deflater.compress(b"") is None
    assert deflater.compress(b"123456789") is None
    payload = deflater.compress(b"0123456789")
    assert payload is not None
    assert zlib.decompressobj(-15).decompress(payload + TAIL) == b"0123456789"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_types(zlib_name: str, kind: Any) -> None:
    data = json_like(3000, seed=5)
    pmd = PerMessageDeflate(_zlib=zlib_name)
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
        client_max_window_bits=bits, client_no_context_takeover=no_takeover, _zlib=name
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


# ---------------------------------------------------------------------------
# Bounded inflation: message size limit, decompression bombs, corrupt data
# ---------------------------------------------------------------------------


def test_limit_exact(zlib_name: str) -> None:
    data = json_like(10000, seed=6)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    assert (
        inflate_all(PerMessageDeflate(_zlib=zlib_name)._inflater("client"), payload, 10000) == data
    )
    with pytest.raises(ProtocolError) as info:
        inflate_all(PerMessageDeflate(_zlib=zlib_name)._inflater("client"), payload, 9999)
    assert info.value.code == 1009
    assert info.value.events == []


def test_limit_zero(zlib_name: str) -> None:
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
    assert inflate_all(inflater, b"\x00", 0) == b""
    with pytest.raises(ProtocolError) as info:
        inflate_all(inflater, HELLO, 0)
    assert info.value.code == 1009


@pytest.mark.parametrize(
    "size", [_size for _size in (256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * MiB)]
)
def test_limit_around_steps(zlib_name: str, size: int) -> None:
    # Sizes around the inflater's internal output step.
    data = (json_like(50000, seed=8) * (size // 50000 + 1))[:size]
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    pmd = PerMessageDeflate(_zlib=zlib_name)
    assert inflate_all(pmd._inflater("client"), payload, size) == data
    assert inflate_all(pmd._inflater("client"), payload, None) == data
    with pytest.raises(ProtocolError) as info:
        inflate_all(pmd._inflater("client"), payload, size - 1)
    assert info.value.code == 1009


def test_output_left_inside_the_decompressor(zlib_name: str) -> None:
    # 2 MiB of zeros compress to about 2 KiB: the input is read long before
    # the output is all out (ISA-L buffers it; zlib is mid-match), so the
    # inflater must keep calling until a call comes back short.
    data = bytes(2 * MiB)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None and len(payload) < 10000
    pmd = PerMessageDeflate(_zlib=zlib_name)
    assert inflate_all(pmd._inflater("client"), payload, 2 * MiB) == data
    assert inflate_all(pmd._inflater("client"), payload, None) == data
    inflater = pmd._inflater("client")
    out = inflater.inflate(payload, False, 2 * MiB)
    out += inflater.inflate(b"", True, 2 * MiB - len(out))
    assert out == data


def test_large_incompressible(zlib_name: str) -> None:
    # More compressed input than one internal input step.
    data = random.Random(1).randbytes(MiB)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None and len(payload) > MiB
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
    half = len(payload) // 2
    out = inflater.inflate(payload[:half], False, MiB)
    out += inflater.inflate(payload[half:], True, MiB - len(out))
    assert out == data


def test_limit_across_fragments(zlib_name: str) -> None:
    # The codec passes each fragment the budget the earlier ones left.
    data = bytes(100000)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
    budget = 60000
    with pytest.raises(ProtocolError) as info:
        for index in range(len(payload)):
            out = inflater.inflate(payload[index : index + 1], index == len(payload) - 1, budget)
            assert len(out) <= budget
            budget -= len(out)
    assert info.value.code == 1009


def bomb(total: int) -> bytes:
    """A compressed message of ``total`` zero bytes, built without inflating it.

    Each 1 MiB block ends with a full flush, which empties the dictionary, so
    the same compressed block repeated still forms a valid stream.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block.endswith(TAIL)
    return (block * (total // MiB))[:-4]


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    payload = bomb(2**30)
    assert len(payload) < 2 * MiB  # about 1000:1
    return payload


def test_bomb_payload_is_valid() -> None:
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(bomb(8 * MiB) + TAIL) == bytes(8 * MiB)


def peak_memory(func: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        func()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("limit", [MiB, 16 * MiB])
def test_bomb_refused_near_limit(zlib_name: str, gigabyte_bomb: bytes, limit: int) -> None:
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    raised: list[ProtocolError] = []

    def run() -> None:
        try:
            inflater.inflate(gigabyte_bomb, True, limit)
        except ProtocolError as exc:
            raised.append(exc)

    peak = peak_memory(run)
    assert [exc.code for exc in raised] == [1009]
    assert peak < 2 * limit, f"peak {peak / MiB:.1f} MiB for a {limit / MiB:.0f} MiB limit"


def test_bomb_in_fragments(zlib_name: str, gigabyte_bomb: bytes) -> None:
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    budget = 4 * MiB
    step = 64 * 1024
    with pytest.raises(ProtocolError) as info:
        for start in range(0, len(gigabyte_bomb), step):
            out = inflater.inflate(gigabyte_bomb[start : start + step], False, budget)
            budget -= len(out)
    assert info.value.code == 1009


CORRUPT = [
    b"\x07",  # BFINAL=1, BTYPE=11: reserved block type
    b"\xff\xff\xff\xff",
    b"\x00\x05\x00\x00\x00Hello",  # stored block whose NLEN is not ~LEN
    bytes.fromhex("f248cdc9c907") + b"\xff" * 8,
]


@pytest.mark.parametrize("payload", CORRUPT)
def test_corrupt(zlib_name: str, payload: bytes) -> None:
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("server")
    with pytest.raises(ProtocolError) as info:
        inflater.inflate(payload, True, MiB)
    assert info.value.code == 1007
    assert info.value.reason == "invalid compressed data"


def test_corrupt_without_limit(zlib_name: str) -> None:
    inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
    with pytest.raises(ProtocolError) as info:
        inflater.inflate(b"\x07", True, None)
    assert info.value.code == 1007


def test_too_far_back_for_the_window() -> None:
    # A peer that agreed on a 512-byte window must not refer 700 bytes back.
    # (zlib checks distances against the window it keeps between calls, so
    # the reference spans two messages.)
    data = json_like(700, seed=9)
    deflater = PerMessageDeflate()._deflater("server")  # 15 bits
    first, second = deflater.compress(data), deflater.compress(data)
    assert first is not None and second is not None
    for name in ZLIB_FAMILY:
        inflater = PerMessageDeflate(server_max_window_bits=9, _zlib=name)._inflater("client")
        assert inflate_all(inflater, first) == data
        with pytest.raises(ProtocolError) as info:
            inflate_all(inflater, second)
        assert info.value.code == 1007


def test_reset() -> None:
    inflater = PerMessageDeflate()._inflater("server")
    assert inflate_all(inflater, HELLO) == b"Hello"
    inflater.reset()
    assert inflate_all(inflater, HELLO) == b"Hello"


def test_random_corruption_never_crashes(zlib_name: str) -> None:
    # Flipped bytes give a 1007, a 1009, or some output within the limit.
    rng = random.Random(99)
    data = json_like(8000, seed=11)
    payload = PerMessageDeflate(_zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    for _ in range(300):
        corrupt = bytearray(payload)
        for _ in range(rng.randrange(1, 4)):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        inflater = PerMessageDeflate(_zlib=zlib_name)._inflater("client")
        try:
            out = inflater.inflate(bytes(corrupt), True, 10000)
        except ProtocolError as exc:
            assert exc.code in (1007, 1009)
        else:
            assert len(out) <= 10000


def test_bomb_rss_in_subprocess(tmp_path: Any) -> None:
    # Resident memory, not just Python allocations: nothing in the C
    # libraries balloons either. Linux reports ru_maxrss in KiB.
    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss is in KiB on Linux only")  # a platform fact, not a backend
    script = tmp_path / "bomb.py"
    script.write_text(
        textwrap.dedent(
            """
            import resource, sys, zlib
            from wsfast.deflate import PerMessageDeflate
            from wsfast.exceptions import ProtocolError
            MiB = 2**20
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
            payload = (block * 1024)[:-4]
            del block, compressor
            inflater = PerMessageDeflate(_zlib=sys.argv[2])._inflater("server")
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                inflater.inflate(payload, True, int(sys.argv[1]))
            except ProtocolError as exc:
                assert exc.code == 1009
            else:
                raise AssertionError("the bomb was accepted")
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print((after - before) * 1024)
            """
        )
    )
    # The child imports the wsfast under test, wherever it comes from.
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(deflate.__file__)))
    limit = 64 * MiB
    for name in ZLIBS:
        result = subprocess.run(
            [sys.executable, str(script), str(limit), name],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        growth = int(result.stdout)
        assert growth < 2 * limit, f"{name}: resident memory grew by {growth / MiB:.0f} MiB"


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
    encoder = backend.Encoder(role="server", deflate=PerMessageDeflate(_zlib=zlib_name))
    assert encoder.text("Hello") == bytes.fromhex("810548656c6c6f")
    assert encoder.binary(b"") == bytes.fromhex("8200")  # §7.2.3.6 would be c20100
    text = "Hello" * 8
    compressed = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (compressed.compress(text.encode()) + compressed.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert encoder.text(text) == bytes([0xC1, len(payload)]) + payload
    no_takeover = PerMessageDeflate(server_no_context_takeover=True, _zlib=zlib_name)
    encoder = backend.Encoder(role="server", deflate=no_takeover)
    assert encoder.text(text) + encoder.text(text) == (bytes([0xC1, len(payload)]) + payload) * 2
    stored = backend.Encoder(role="server", deflate=PerMessageDeflate(level=0, _zlib=zlib_name))
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
        wire = b"".join(
            encoder.text(data.decode(), fragment_size=fragment_size)
            if kind == "text"
            else encoder.binary(data, fragment_size=fragment_size)
            for kind, data in messages
        )
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
        wire = b"".join(
            encoder.text(data.decode(), fragment_size=fragment_size)
            if kind == "text"
            else encoder.binary(data, fragment_size=fragment_size)
            for kind, data in messages
        )
        server.receive_data(wire)
        assert websockets_messages(server.events_received()) == messages

    # websockets -> wsfast.
    for kind, data in messages:
        (server.send_text if kind == "text" else server.send_binary)(data)
    decoder = backend.Decoder(role="client", deflate=agreed, max_message_size=None)
    assert wsfast_messages(backend, decoder.feed(b"".join(server.data_to_send()))) == messages
