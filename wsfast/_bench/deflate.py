"""permessage-deflate (RFC 7692): compress and decompress typical messages.

Each peer runs its own deflate path: wsfast's ``_deflater``/``_inflater``
(what ``Encoder``/``Decoder`` call), websockets' ``PerMessageDeflate``
extension (``encode``/``decode`` of a frame) and aiohttp's ``ZLibCompressor``/
``ZLibDecompressor`` with the two lines of glue its WebSocket writer and
reader wrap around them. wsfast runs with its automatic choice (the row
ratios refer to) and pinned to each deflate implementation installed (zlib,
zlib-ng, ISA-L), aiohttp once per implementation; websockets only uses zlib.

The messages are JSON documents of 1 KiB and 64 KiB. One timed call handles a
batch of distinct documents, so the compressor sees new data every message
as in real traffic. Everyone compresses at level 1 with a 15-bit window and
context takeover: aiohttp's writer always uses level 1. The payloads to
decompress were each compressed alone, so a receiver that keeps its
decompressor (context takeover) can inflate the batch call after call; the
receivers enforce a 16 MiB message limit, as they would on a connection.
"""

from __future__ import annotations

import functools
import importlib
import json
import random
import zlib
from collections.abc import Callable
from typing import Any

from . import Call, Case, Operation, Setup, load

SIZES = (1024, 64 * 1024)
BATCH = {1024: 64, 64 * 1024: 8}  # messages per timed call
LEVEL = 1
WINDOW_BITS = 15
LIMIT = 16 * 2**20
TAIL = b"\x00\x00\xff\xff"
IMPLEMENTATIONS = ("zlib-ng", "isal", "zlib")


def document(size: int, seed: int) -> bytes:
    """A JSON array of records cut to ``size`` bytes: repeated keys, varied values."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    encoded = b"[]"
    while len(encoded) < size:
        for _ in range(max(1, size // 200)):
            records.append(
                {
                    "id": rng.randrange(1 << 40),
                    "user": f"user{rng.randrange(100000)}",
                    "active": rng.random() < 0.5,
                    "score": round(rng.random() * 1000, 3),
                    "tags": rng.sample(["red", "green", "blue", "alpha", "beta", "gamma"], 2),
                    "ts": "2024-%02d-%02dT%02d:%02d:%02dZ"
                    % tuple(rng.randrange(1, n) for n in (13, 29, 24, 60, 60)),
                }
            )
        encoded = json.dumps(records, separators=(",", ":")).encode()
    return encoded[:size]


def make_case(size: int) -> Case:
    messages = [document(size, seed) for seed in range(BATCH[size])]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -WINDOW_BITS)
    # A full flush makes each payload independent of the ones before it.
    payloads = [
        (compressor.compress(m) + compressor.flush(zlib.Z_FULL_FLUSH))[:-4] for m in messages
    ]
    return Case(size, nbytes=size * len(messages), messages=messages, payloads=payloads)


def reference(case: Case) -> bytes:
    return b"".join(case.messages)


def inflate_sequence(payloads: list[bytes]) -> bytes:
    """What a compressor produced, inflated by zlib as one connection would."""
    inflater = zlib.decompressobj(-WINDOW_BITS)
    return b"".join(inflater.decompress(bytes(p) + TAIL) for p in payloads)


_operation = functools.partial(
    Operation, family="deflate", sizes=SIZES, make_case=make_case, reference=reference,
    unit="message", batch=BATCH,
)  # fmt: skip
COMPRESS = _operation(
    "deflate compress",
    description="compress JSON messages (level 1, 15-bit window, context takeover)",
)
DECOMPRESS = _operation(
    "deflate decompress", description="decompress JSON messages within a 16 MiB message limit"
)


def _batch(func: Callable[[Any], Any], items: list[Any]) -> Callable[[], list[Any]]:
    return lambda: [func(item) for item in items]


def _zlib_module(name: str) -> Any:
    """The zlib-compatible module of a deflate implementation."""
    if name == "zlib":
        return zlib
    if name == "zlib-ng":
        return load("zlib_ng", "zlib_ng")
    return load("isal", "isal_zlib")


# ---- wsfast -------------------------------------------------------------------


def _wsfast_pmd(name: str | None) -> Any:
    from wsfast import deflate

    if name is not None and name not in deflate.zlib_backends():
        raise ImportError(f"{name} is not installed (or failed wsfast's self-test)")
    return lambda: deflate.PerMessageDeflate(level=LEVEL, zlib=name)


# The automatic choice first (it is the row ratios refer to), then each
# implementation pinned with PerMessageDeflate(zlib=...).
for _name in (None, *IMPLEMENTATIONS):

    def _compress_loader(name: str | None = _name) -> Setup:
        new = _wsfast_pmd(name)

        def setup(case: Case) -> Call:
            compress = new()._deflater("server").compress
            return Call(_batch(compress, case.messages), output=inflate_sequence)

        return setup

    def _decompress_loader(name: str | None = _name) -> Setup:
        new = _wsfast_pmd(name)

        def setup(case: Case) -> Call:
            inflate = new()._inflater("client").inflate
            return Call(_batch(lambda p: inflate(p, True, LIMIT), case.payloads), output=b"".join)

        return setup

    _label = "wsfast" if _name is None else f"wsfast (zlib={_name})"
    COMPRESS.contender(_label, kind="wsfast", dist="wsfast")(_compress_loader)
    DECOMPRESS.contender(_label, kind="wsfast", dist="wsfast")(_decompress_loader)


# ---- websockets (zlib only) ------------------------------------------------------


def _websockets() -> tuple[Callable[[], Any], Callable[..., Any]]:
    """A factory of websockets' ``PerMessageDeflate``, and one of binary ``Frame``s."""
    extension = load("websockets.extensions.permessage_deflate", "PerMessageDeflate")
    frame, opcode = load("websockets.frames", "Frame"), load("websockets.frames", "Opcode")
    return (
        lambda: extension(False, False, WINDOW_BITS, WINDOW_BITS, {"level": LEVEL}),
        functools.partial(frame, opcode.BINARY),
    )


@COMPRESS.contender("websockets (zlib)", dist="websockets")
def _websockets_compress() -> Setup:
    new, binary = _websockets()

    def setup(case: Case) -> Call:
        frames = [binary(m) for m in case.messages]
        return Call(
            _batch(new().encode, frames), output=lambda out: inflate_sequence([f.data for f in out])
        )

    return setup


@DECOMPRESS.contender("websockets (zlib)", dist="websockets")
def _websockets_decompress() -> Setup:
    new, binary = _websockets()

    def setup(case: Case) -> Call:
        decode = new().decode
        frames = [binary(p, rsv1=True) for p in case.payloads]
        return Call(
            _batch(lambda f: decode(f, max_size=LIMIT), frames),
            output=lambda out: b"".join(f.data for f in out),
        )

    return setup


# ---- aiohttp (its zlib backend switch) ---------------------------------------------


def _aiohttp_with(name: str, build: Callable[[Any], Any]) -> Any:
    """Build an aiohttp (de)compressor while ``name`` is its zlib backend.

    aiohttp binds the backend when the object is built, so the global switch
    is restored at once and no other benchmark sees it.
    """
    utils = importlib.import_module("aiohttp.compression_utils")
    previous = utils.ZLibBackend._zlib_backend
    utils.set_zlib_backend(_zlib_module(name))
    try:
        return build(utils)
    finally:
        utils.set_zlib_backend(previous)


def _aiohttp_trailing() -> bytes:
    trailing: bytes = load("aiohttp._websocket.models", "WS_DEFLATE_TRAILING")
    return trailing


for _name in IMPLEMENTATIONS:

    def _aiohttp_compress_loader(name: str = _name) -> Setup:
        _zlib_module(name)  # ImportError when not installed: skipped
        trailing = _aiohttp_trailing()
        sync_flush = zlib.Z_SYNC_FLUSH

        def setup(case: Case) -> Call:
            compressor = _aiohttp_with(
                name,
                lambda u: u.ZLibCompressor(level=u.ZLibBackend.Z_BEST_SPEED, wbits=-WINDOW_BITS),
            )

            # aiohttp/_websocket/writer.py, _send_compressed_frame_sync.
            def compress(message: bytes) -> bytes:
                return (  # type: ignore[no-any-return]
                    compressor.compress_sync(message) + compressor.flush(sync_flush)
                ).removesuffix(trailing)

            return Call(_batch(compress, case.messages), output=inflate_sequence)

        return setup

    def _aiohttp_decompress_loader(name: str = _name) -> Setup:
        _zlib_module(name)
        trailing = _aiohttp_trailing()

        def setup(case: Case) -> Call:
            decompressor = _aiohttp_with(
                name, lambda u: u.ZLibDecompressor(suppress_deflate_header=True)
            )

            # aiohttp/_websocket/reader_py.py, _handle_frame.
            def decompress(payload: bytes) -> bytes:
                return decompressor.decompress_sync(payload + trailing, LIMIT + 1)  # type: ignore[no-any-return]

            return Call(_batch(decompress, case.payloads), output=b"".join)

        return setup

    COMPRESS.contender(f"aiohttp ({_name})", dist="aiohttp")(_aiohttp_compress_loader)
    DECOMPRESS.contender(f"aiohttp ({_name})", dist="aiohttp")(_aiohttp_decompress_loader)
