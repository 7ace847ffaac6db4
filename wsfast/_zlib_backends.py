"""The zlib backends of permessage-deflate: zlib-ng, ISA-L or the standard zlib.

zlib-ng (the ``zlib_ng`` package) and ISA-L (``isal.isal_zlib``) are used when
installed and they pass a short self-test at first use; the standard ``zlib``
always works. Neither is a dependency. ``PerMessageDeflate(zlib=...)`` pins
one; by default (``zlib=None``) each operation gets the one that was fastest
for it in wsfast's measurements (see docs/api.md, "Choosing the deflate
implementation"): ISA-L compresses, and a stream inflates with ISA-L when its
first compressed message is at least ``_INFLATE_SPLIT`` bytes long, else with
zlib-ng.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

# RFC 7692 §7.2.1: a sync flush ends with an empty stored block, 00 00 FF FF,
# which the sender strips and the receiver appends back (§7.2.2).
_TAIL = b"\x00\x00\xff\xff"


class _CompressObj(Protocol):
    def compress(self, data: Any, /) -> bytes: ...
    def flush(self, mode: int, /) -> bytes: ...


class _DecompressObj(Protocol):
    def decompress(self, data: Any, max_length: int = ..., /) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def eof(self) -> bool: ...


class _Zlib:
    """One deflate implementation, seen through the zlib module's API.

    Window sizes are the negotiated ones (8..15): each implementation maps
    them onto what its library accepts.

    Attributes:
        name: "zlib", "zlib-ng", "isal", or "auto" for the automatic choice.
        error: the exception classes its objects raise on corrupt input.
    """

    __slots__ = ("name", "error", "compressobj", "decompressobj")

    def __init__(
        self,
        name: str,
        error: tuple[type[Exception], ...],
        compressobj: Callable[[int, int], _CompressObj],
        decompressobj: Callable[[int, int], _DecompressObj],
    ) -> None:
        self.name = name
        self.error = error
        self.compressobj = compressobj  # (level, window_bits) -> compressor
        # (window_bits, length of the first compressed data) -> decompressor
        self.decompressobj = decompressobj

    def __repr__(self) -> str:
        return f"<deflate implementation {self.name}>"


def _raw_wbits(window_bits: int) -> int:
    # RFC 7692 §7.1.2.1: zlib cannot deflate with a 256-byte window, so 8 is
    # served with 9. That stays within what the peer can inflate: zlib's
    # matches reach back at most 2**9 - 262 = 250 bytes. Inflating with 9
    # when 8 was agreed costs 256 bytes and accepts peers that deflate with 9.
    return -max(window_bits, 9)


def _zlib_like(name: str, module: Any) -> _Zlib:
    """A module with the zlib API and levels (zlib, zlib_ng.zlib_ng)."""
    deflated = module.DEFLATED

    def compressobj(level: int, window_bits: int) -> _CompressObj:
        return module.compressobj(level, deflated, _raw_wbits(window_bits))  # type: ignore[no-any-return]

    def decompressobj(window_bits: int, size: int) -> _DecompressObj:
        return module.decompressobj(_raw_wbits(window_bits))  # type: ignore[no-any-return]

    return _Zlib(name, (module.error,), compressobj, decompressobj)


def _load_zlib() -> _Zlib:
    return _zlib_like("zlib", zlib)


def _load_zlib_ng() -> _Zlib:
    return _zlib_like("zlib-ng", importlib.import_module("zlib_ng.zlib_ng"))


# zlib level (-1..9) -> ISA-L level (index -1 is the default). Level 1 asks
# for speed: ISA-L's fastest level 0, as isal's own Z_BEST_SPEED (and aiohttp
# with ISA-L). Levels 2-3 get ISA-L 1, which compresses JSON as well as zlib 1.
_ISAL_LEVELS = (1, 0, 1, 1, 2, 2, 2, 2, 2, 3, 2)


def _load_isal() -> _Zlib:
    module = importlib.import_module("isal.isal_zlib")
    deflated = module.DEFLATED
    stdlib = _load_zlib()

    def compressobj(level: int, window_bits: int) -> _CompressObj:
        # ISA-L has no store-only level, and its 512-byte-window compressor
        # emits distances up to 512, which a peer holding the 256-byte window
        # it negotiated rejects; zlib serves both cases exactly.
        if level == 0 or window_bits == 8:
            return stdlib.compressobj(level, window_bits)
        # zlib's levels onto ISA-L's 0-3 (2 is its default, like zlib's 6).
        isal_level = _ISAL_LEVELS[level]
        return module.compressobj(isal_level, deflated, _raw_wbits(window_bits))  # type: ignore[no-any-return]

    def decompressobj(window_bits: int, size: int) -> _DecompressObj:
        return module.decompressobj(_raw_wbits(window_bits))  # type: ignore[no-any-return]

    # The zlib fallback raises zlib.error, ISA-L its own class.
    return _Zlib("isal", (module.error, zlib.error), compressobj, decompressobj)


# Every implementation wsfast knows, by name.
_LOADERS: dict[str, Callable[[], _Zlib]] = {
    "zlib-ng": _load_zlib_ng,
    "isal": _load_isal,
    "zlib": _load_zlib,
}


def _self_test(impl: _Zlib) -> bool:
    """Whether ``impl`` does what the codec relies on, checked on a short sample.

    Raw deflate at windows 8, 9 and 15 with a sync flush ending in 00 00 FF FF,
    inflate bounded by ``max_length`` that resumes from ``unconsumed_tail``,
    interoperation with the standard zlib both ways, a full flush that cuts
    the history, and its error class on corrupt input.
    """
    # Repeats 300 and 600 bytes apart, which a 256- or 512-byte window must
    # not reach, and short-range ones.
    noise = b"".join(b"%05d" % (i * i % 99991) for i in range(120))
    sample = noise * 2 + noise[:300] * 2 + b"".join(b"%d:{'deflate'} " % i for i in range(200))
    try:
        for bits in (8, 9, 15):
            for level in (1, 6):  # ISA-L serves these with different levels
                compressor = impl.compressobj(level, bits)
                payload = compressor.compress(sample) + compressor.flush(zlib.Z_SYNC_FLUSH)
                if not payload.endswith(_TAIL):
                    return False
                if _strict_inflate(zlib.decompressobj(-bits), payload) != sample:
                    return False
            inflater = impl.decompressobj(bits, 0)
            head = inflater.decompress(payload[:-4], 100)
            if len(head) != 100:
                return False
            rest = inflater.decompress(inflater.unconsumed_tail + _TAIL)
            if head + rest != sample:
                return False
            reference = zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))
            payload = reference.compress(sample) + reference.flush(zlib.Z_SYNC_FLUSH)
            if impl.decompressobj(bits, 0).decompress(payload) != sample:
                return False
        # A full flush (no context takeover) must make the next message
        # independent of the ones before it.
        compressor = impl.compressobj(6, 15)
        compressor.compress(sample)
        compressor.flush(zlib.Z_FULL_FLUSH)
        payload = compressor.compress(sample) + compressor.flush(zlib.Z_FULL_FLUSH)
        if zlib.decompressobj(-15).decompress(payload) != sample:
            return False
        try:
            impl.decompressobj(15, 0).decompress(b"\xff\xff\xff\xff")
        except impl.error:
            return True
        return False
    except Exception:  # an optional library failing in any way is just not used
        return False


def _strict_inflate(inflater: Any, payload: bytes) -> bytes:
    """Inflate with a zlib decompressor, such as ``zlib.decompressobj(-bits)``, 64 bytes per call.

    zlib checks distances against its window plus the current call's output,
    so small calls make it reject references beyond the window. Passing the
    decompressor lets a caller keep one across messages (context takeover).
    """
    pieces = []
    while True:
        piece = inflater.decompress(payload, 64)
        pieces.append(piece)
        payload = inflater.unconsumed_tail
        if not payload and len(piece) < 64:
            return b"".join(pieces)


def _detect() -> dict[str, _Zlib]:
    found: dict[str, _Zlib] = {}
    for name, loader in _LOADERS.items():
        try:
            impl = loader()
        except ImportError:
            continue
        if name == "zlib" or _self_test(impl):
            found[name] = impl
    return found


# The automatic choice, fastest first, from docs/api.md's measurements (JSON
# messages of 1-64 KiB, level 1 and 6): ISA-L compresses 1.5-3x faster than
# zlib-ng; inflating, zlib-ng is about 1.3x faster than ISA-L on messages
# below about 1 KiB compressed (4 KiB of JSON), ISA-L 1.5-1.8x faster above.
AUTO = "auto"
_COMPRESS_ORDER = ("isal", "zlib-ng", "zlib")
_INFLATE_SMALL_ORDER = ("zlib-ng", "isal", "zlib")
_INFLATE_LARGE_ORDER = ("isal", "zlib-ng", "zlib")
_INFLATE_SPLIT = 1024  # compressed bytes of a stream's first message


def _first(found: dict[str, _Zlib], order: tuple[str, ...]) -> _Zlib:
    return next(found[name] for name in order if name in found)


def _automatic(found: dict[str, _Zlib]) -> _Zlib:
    """One implementation per operation; a stream's first message picks its inflater."""
    compress = _first(found, _COMPRESS_ORDER)
    small = _first(found, _INFLATE_SMALL_ORDER)
    large = _first(found, _INFLATE_LARGE_ORDER)

    def decompressobj(window_bits: int, size: int) -> _DecompressObj:
        chosen = large if size >= _INFLATE_SPLIT else small
        return chosen.decompressobj(window_bits, size)

    errors = tuple(dict.fromkeys(compress.error + small.error + large.error))
    return _Zlib(AUTO, errors, compress.compressobj, decompressobj)


_AVAILABLE: dict[str, _Zlib] | None = None


def _available() -> dict[str, _Zlib]:
    """The usable implementations (the automatic choice under "auto"), found once.

    Lazily, so that ``import wsfast`` does not load zlib-ng or ISA-L (about
    10 ms) for a program that never negotiates permessage-deflate.
    """
    global _AVAILABLE
    if _AVAILABLE is None:
        found = _detect()
        ordered = {name: found[name] for name in _COMPRESS_ORDER if name in found}
        # idempotent: a race only repeats the work
        _AVAILABLE = {AUTO: _automatic(ordered), **ordered}
    return _AVAILABLE


def zlib_backend(operation: str = "compress") -> str:
    """The implementation the automatic choice uses: "isal", "zlib-ng" or "zlib".

    Args:
        operation: "compress", or "decompress" for a stream whose first
            compressed message is short (under 1 KiB), or "decompress large".

    ``wsfast.features()["zlib"]`` reports the one for "compress".
    """
    orders = {
        "compress": _COMPRESS_ORDER,
        "decompress": _INFLATE_SMALL_ORDER,
        "decompress large": _INFLATE_LARGE_ORDER,
    }
    if operation not in orders:
        raise ValueError(f"operation must be one of {list(orders)}, not {operation!r}")
    return _first(_available(), orders[operation]).name


def zlib_backends() -> list[str]:
    """Every usable deflate implementation here, the automatic compressor first."""
    return [name for name in _available() if name != AUTO]


def _get_zlib(name: str | None) -> _Zlib:
    available = _available()
    try:
        return available[AUTO if name is None else name]
    except KeyError:
        if name in _LOADERS:
            raise ValueError(f"deflate implementation {name!r} is not available") from None
        raise ValueError(
            f"unknown deflate implementation {name!r}: use one of {list(_LOADERS)} or None"
        ) from None
