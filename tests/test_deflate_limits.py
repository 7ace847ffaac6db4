"""permessage-deflate: bounded inflation, decompression bombs and corrupt data.

Driven through the streams of ``PerMessageDeflate`` directly, once per
deflate implementation present; the codec's own limit tests are in
test_deflate_codec.py.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import zlib
from typing import Any

import pytest
from deflate_util import (
    HELLO,
    MiB,
    TAIL,
    ZLIB_FAMILY,
    ZLIBS,
    bomb,
    inflate_all,
    json_like,
    peak_memory,
)

from wsfast import deflate
from wsfast.deflate import PerMessageDeflate
from wsfast.exceptions import ProtocolError

# The zlib_name and gigabyte_bomb fixtures.
pytest_plugins = ["deflate_fixtures"]


# ---------------------------------------------------------------------------
# Bounded inflation: message size limit, decompression bombs, corrupt data
# ---------------------------------------------------------------------------


def test_limit_exact(zlib_name: str) -> None:
    data = json_like(10000, seed=6)
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    assert (
        inflate_all(PerMessageDeflate(zlib=zlib_name)._inflater("client"), payload, 10000) == data
    )
    with pytest.raises(ProtocolError) as info:
        inflate_all(PerMessageDeflate(zlib=zlib_name)._inflater("client"), payload, 9999)
    assert info.value.code == 1009
    assert info.value.events == []


def test_limit_zero(zlib_name: str) -> None:
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
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
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    pmd = PerMessageDeflate(zlib=zlib_name)
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
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None and len(payload) < 10000
    pmd = PerMessageDeflate(zlib=zlib_name)
    assert inflate_all(pmd._inflater("client"), payload, 2 * MiB) == data
    assert inflate_all(pmd._inflater("client"), payload, None) == data
    inflater = pmd._inflater("client")
    out = inflater.inflate(payload, False, 2 * MiB)
    out += inflater.inflate(b"", True, 2 * MiB - len(out))
    assert out == data


def test_large_incompressible(zlib_name: str) -> None:
    # More compressed input than one internal input step.
    data = random.Random(1).randbytes(MiB)
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None and len(payload) > MiB
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
    half = len(payload) // 2
    out = inflater.inflate(payload[:half], False, MiB)
    out += inflater.inflate(payload[half:], True, MiB - len(out))
    assert out == data


def test_limit_across_fragments(zlib_name: str) -> None:
    # The codec passes each fragment the budget the earlier ones left.
    data = bytes(100000)
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
    budget = 60000
    with pytest.raises(ProtocolError) as info:
        for index in range(len(payload)):
            out = inflater.inflate(payload[index : index + 1], index == len(payload) - 1, budget)
            assert len(out) <= budget
            budget -= len(out)
    assert info.value.code == 1009


def test_bomb_payload_is_valid() -> None:
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(bomb(8 * MiB) + TAIL) == bytes(8 * MiB)


@pytest.mark.parametrize("limit", [MiB, 16 * MiB])
def test_bomb_refused_near_limit(zlib_name: str, gigabyte_bomb: bytes, limit: int) -> None:
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
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
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
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
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("server")
    with pytest.raises(ProtocolError) as info:
        inflater.inflate(payload, True, MiB)
    assert info.value.code == 1007
    assert info.value.reason == "invalid compressed data"


def test_corrupt_without_limit(zlib_name: str) -> None:
    inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
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
        inflater = PerMessageDeflate(server_max_window_bits=9, zlib=name)._inflater("client")
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
    payload = PerMessageDeflate(zlib=zlib_name)._deflater("server").compress(data)
    assert payload is not None
    for _ in range(300):
        corrupt = bytearray(payload)
        for _ in range(rng.randrange(1, 4)):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        inflater = PerMessageDeflate(zlib=zlib_name)._inflater("client")
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
            inflater = PerMessageDeflate(zlib=sys.argv[2])._inflater("server")
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
