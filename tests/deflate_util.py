"""Shared helpers of the permessage-deflate tests (test_deflate_*.py)."""

from __future__ import annotations

import gc
import random
import tracemalloc
import zlib
from typing import Any

from wsfast import deflate

TEXT_OPCODE, BINARY_OPCODE = 1, 2
# RFC 7692 §7.2.3.1: "Hello" compressed.
HELLO = bytes.fromhex("f248cdc9c90700")

ZLIBS = deflate.zlib_backends()
# Implementations whose compressor is zlib's algorithm, so the RFC examples
# come out byte for byte (ISA-L's output is valid but different).
ZLIB_FAMILY = [name for name in ZLIBS if name in ("zlib", "zlib-ng")]
TAIL = b"\x00\x00\xff\xff"
MiB = 2**20


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


def inflate_all(inflater: Any, payload: bytes, limit: int | None = None) -> bytes:
    return bytes(inflater.inflate(payload, True, limit))


def bomb(total: int) -> bytes:
    """A compressed message of ``total`` zero bytes, built without inflating it.

    Each 1 MiB block ends with a full flush, which empties the dictionary, so
    the same compressed block repeated still forms a valid stream.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block.endswith(TAIL)
    return (block * (total // MiB))[:-4]


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
