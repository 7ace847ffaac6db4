"""permessage-deflate (RFC 7692): negotiation and bounded per-message compression.

Written once in Python for both backends: zlib (or a faster drop-in) does the
work, and the codec calls :meth:`PerMessageDeflate._inflater` and
:meth:`PerMessageDeflate._deflater` once per ``Decoder``/``Encoder``.

Deflate implementation. zlib-ng (the ``zlib_ng`` package) and ISA-L
(``isal.isal_zlib``) are used when installed and they pass a short self-test
at first use; the standard ``zlib`` always works. Neither is a dependency.
``PerMessageDeflate(zlib=...)`` pins one; by default (``zlib=None``) each
operation gets the one that was fastest for it in wsfast's measurements (see
docs/api.md, "Choosing the deflate implementation"): ISA-L compresses, and a
stream inflates with ISA-L when its first compressed message is at least
``_INFLATE_SPLIT`` bytes long, else with zlib-ng.
"""

from __future__ import annotations

import importlib
import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .constants import ERR_MESSAGE_TOO_BIG
from ._py import _Payload
from .exceptions import ProtocolError

__all__ = ["EXTENSION_NAME", "PerMessageDeflate", "zlib_backend", "zlib_backends"]

EXTENSION_NAME = "permessage-deflate"

# RFC 7692 §7.2.1: a sync flush ends with an empty stored block, 00 00 FF FF,
# which the sender strips and the receiver appends back (§7.2.2).
_TAIL = b"\x00\x00\xff\xff"

# Inflating is done in steps bounded on both sides, so that no call allocates
# much more than the message-size budget: at most _OUT_STEP bytes of output
# per call (the zlib module assembles output blocks and then copies them, so a
# single call transiently holds twice its output), and at most _IN_STEP bytes
# of input (each call copies the unconsumed input into ``unconsumed_tail``).
_OUT_STEP = 256 * 1024
_IN_STEP = 64 * 1024

_MIN_WINDOW_BITS = 8
_MAX_WINDOW_BITS = 15

_INVALID_DATA = "invalid compressed data"


# ---------------------------------------------------------------------------
# Deflate implementations
# ---------------------------------------------------------------------------


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
                if not payload.endswith(_TAIL) or _strict_inflate(payload, bits) != sample:
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


def _strict_inflate(payload: bytes, bits: int) -> bytes:
    """Inflate with zlib holding a ``2**bits`` window, 64 bytes per call.

    zlib checks distances against its window plus the current call's output,
    so small calls make it reject references beyond the window.
    """
    inflater = zlib.decompressobj(-bits)
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


# ---------------------------------------------------------------------------
# Per-message compression (RFC 7692 §7.2)
# ---------------------------------------------------------------------------


class _Inflater:
    """Decompresses the messages of one direction, never beyond a budget.

    The receiving ``Decoder`` calls :meth:`inflate` once per fragment of a
    compressed message (RFC 7692 §6.2: only the first frame has RSV1, but
    every fragment is part of the deflate stream). Not thread-safe: each
    Decoder makes its own, and Decoder.feed runs one call at a time.
    """

    __slots__ = ("_zlib", "_window_bits", "_no_context_takeover", "_inflater")

    def __init__(self, impl: _Zlib, window_bits: int, no_context_takeover: bool) -> None:
        self._zlib = impl
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover
        self._inflater: _DecompressObj | None = None

    @staticmethod
    def frame_limit(limit: int) -> int:
        """The longest compressed frame a message of ``limit`` bytes may need.

        Deflate codes a byte, at worst, as a literal of 15 bits (the longest
        Huffman code, RFC 1951 §3.2.7): 15/8 of the message, plus block
        headers (under 300 bytes per block of thousands of symbols), so
        twice the message bounds what an encoder that does not pad its
        output produces. Real ones come closer than one might think on
        incompressible data (random bytes; bytes from 0x80 up): zlib +0.03 %
        (stored blocks), zlib-ng level 1 +5.5 % / +12.5 % (fixed Huffman
        codes), ISA-L level 0 +23 % / +34 % (its static table). A frame's
        buffer grows with the bytes that arrive, so allowing this costs
        nothing until the peer actually sends them.
        """
        return 2 * limit + 64

    def inflate(self, data: Any, fin: bool, limit: int | None) -> bytes:
        """Feed one fragment's payload; return what it inflates to.

        :meth:`inflate_into` with a buffer of its own (see there).
        """
        buffer = _Payload(_UNLIMITED, False)
        output = self.inflate_into(data, fin, limit, buffer)
        return buffer.finish() if output is None else output

    def inflate_into(self, data: Any, fin: bool, limit: int | None, buffer: Any) -> bytes | None:
        """Feed one fragment's payload; append what it inflates to to ``buffer``.

        Args:
            data: the fragment's payload (any contiguous buffer).
            fin: whether this fragment ends the message; the stripped
                00 00 FF FF tail is then appended (RFC 7692 §7.2.2).
            limit: the most this call may produce (the message's remaining
                size budget), or None for no limit.
            buffer: the message's buffer (a ``_Payload`` of either backend,
                written with ``write(piece, 0, len(piece), 0)``). The output
                goes there in steps of at most 256 KiB, so inflating a
                message of size L holds L plus one step, never a list of
                pieces and their join.

        Returns:
            The whole output as bytes, with ``buffer`` untouched, when
            ``buffer`` is empty, ``fin`` is set and one zlib call produced it
            all (a whole small message: no copy); otherwise None.

        Raises:
            ProtocolError: 1009 when the message inflates to more than
                ``limit`` bytes (detected after producing at most ``limit + 1``
                bytes, none of them written); 1007 when the data is not a
                valid deflate stream.
            MemoryError: zlib could not allocate its window or its output.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = self._zlib.decompressobj(self._window_bits, len(data))
        # One byte past the limit proves the message too big. (zlib reads
        # max_length=0 as "no limit", so the budget stays >= 1.)
        if limit is None:
            budget = _UNLIMITED
        else:
            budget = limit + 1 if limit > 0 else 1
        want = budget if budget < _OUT_STEP else _OUT_STEP
        output = None
        try:
            if fin and len(data) <= _IN_STEP:
                # The common case, a whole small message: one call, with the
                # tail appended (copying a few bytes beats a second call).
                if type(data) is not bytes:
                    data = bytes(data)
                piece = inflater.decompress(data + _TAIL, want)
                if len(piece) == want or inflater.unconsumed_tail or buffer.size:
                    _inflate_on(inflater, piece, want, iter(()), budget, buffer)
                else:
                    output = piece
            else:
                view = memoryview(data).cast("B")
                segments: Iterator[Any] = (
                    view[start : start + _IN_STEP] for start in range(0, len(view), _IN_STEP)
                )
                if fin:
                    segments = itertools.chain(segments, (_TAIL,))
                _inflate_on(inflater, b"", want, segments, budget, buffer)
        except self._zlib.error as exc:
            if _Z_MEM_ERROR in str(exc):
                raise MemoryError(str(exc)) from None
            raise ProtocolError(1007, _INVALID_DATA) from None
        # A message ending in a BFINAL block ends the deflate stream (RFC 7692
        # §7.2.3.4), so the next one starts a new stream, as it does without
        # context takeover (§7.1.1).
        if fin and (self._no_context_takeover or inflater.eof):
            self._inflater = None
        return output

    def reset(self) -> None:
        """Forget the sliding window (the next message starts a new stream)."""
        self._inflater = None


_UNLIMITED = 2**63 - 1
# zlib.error's text for Z_MEM_ERROR ("Error -4 while decompressing data"):
# the inflater's window is allocated on first use, and failing that is a
# memory failure, not corrupt input.
_Z_MEM_ERROR = "Error -4 "


def _inflate_on(
    inflater: _DecompressObj,
    piece: bytes,
    want: int,
    segments: Iterator[Any],
    budget: int,
    buffer: Any,
) -> None:
    """Go on inflating after a first call that returned ``piece`` (b"": none yet).

    Feeds the input ``segments`` (each at most _IN_STEP bytes) and appends
    everything inflated, ``piece`` included, to ``buffer``, in calls of at
    most _OUT_STEP.

    Raises:
        ProtocolError: 1009 as soon as the output reaches ``budget`` bytes,
            before writing the piece that reached it.
    """
    produced = 0
    pending = inflater.unconsumed_tail
    # A call that filled its output may have left output inside the
    # decompressor with no input left (a long match, or ISA-L's own
    # buffering), so after a full call the next one drains it.
    full = len(piece) == want
    before = -1
    while True:
        if piece:
            produced += len(piece)
            if produced >= budget:
                raise ProtocolError(*ERR_MESSAGE_TOO_BIG)
            buffer.write(piece, 0, len(piece), 0)
        elif pending and len(pending) == before:
            # Input left, room for output, yet nothing moved: never seen
            # with zlib, but looping forever is worse than refusing.
            raise ProtocolError(1007, _INVALID_DATA)
        if not pending and not full:
            if inflater.eof:
                return  # the rest follows a BFINAL block: nothing to inflate
            segment = next(segments, None)
            if segment is None:
                return
            pending = segment
        want = min(budget - produced, _OUT_STEP)
        before = len(pending)
        piece = inflater.decompress(pending, want)
        pending = inflater.unconsumed_tail
        full = len(piece) == want


class _Deflater:
    """Compresses the messages of one direction (RFC 7692 §7.2.1).

    One call at a time: a message is a compress() and a flush() of a shared
    compressor, so overlapping calls (threads sharing an Encoder) could each
    flush part of the other's message. The overlapping call raises
    RuntimeError instead, as Decoder.feed does.
    """

    __slots__ = (
        "_zlib", "_level", "_window_bits", "_flush", "_min_size", "_compressor", "_gate"
    )

    def __init__(
        self, impl: _Zlib, level: int, window_bits: int, no_context_takeover: bool, min_size: int
    ) -> None:
        self._zlib = impl
        self._level = level
        self._window_bits = window_bits
        # Without context takeover (RFC 7692 §7.1.1), a full flush ends each
        # message: like a sync flush it ends in 00 00 FF FF, and it also
        # empties the dictionary, so the next message cannot refer back.
        # Reusing one compressor this way is about 3x faster on 1 KiB messages
        # than building a new one per message.
        self._flush = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH
        self._min_size = min_size
        self._compressor: _CompressObj | None = None
        self._gate: list[None] = [None]  # list.pop() is the atomic test-and-set

    def compress(self, data: Any) -> bytes | None:
        """Compress one whole message.

        Args:
            data: the message payload (any contiguous buffer of bytes).

        Returns:
            The payload to send with RSV1 set on the first frame, the
            00 00 FF FF tail removed; or None when the message is shorter than
            ``min_size`` and is to be sent uncompressed (RSV1 clear).
        """
        if len(data) < self._min_size:
            return None
        gate = self._gate
        try:
            gate.pop()
        except IndexError:
            raise RuntimeError(
                "Encoder used by two threads at once with permessage-deflate;"
                " serialise encoding and sending with a lock"
            ) from None
        try:
            compressor = self._compressor
            if compressor is None:
                compressor = self._compressor = self._zlib.compressobj(
                    self._level, self._window_bits
                )
            payload = compressor.compress(data) + compressor.flush(self._flush)
        finally:
            gate.append(None)
        # Every flush of the implementations accepted by _self_test ends with
        # the empty stored block, so stripping it is all of §7.2.1.
        return payload[:-4]

    def compress_message(self, data: Any) -> bytes | None:
        """:meth:`compress`, or None when compressing would make it longer.

        The Encoder's choice: an incompressible message goes as it is (RSV1
        clear, RFC 7692 §6.1), so no message grows on the wire and a peer's
        frame-size check never sees more than the message. The peer does not
        put it in its window, so with context takeover the next message
        starts a new compressor (the sync flush left the stream at a block
        boundary: the peer's inflater just goes on); a full flush (no
        context takeover) has already forgotten it.
        """
        payload = self.compress(data)
        if payload is None or len(payload) <= len(data):
            return payload
        if self._flush == zlib.Z_SYNC_FLUSH:
            self._compressor = None
        return None


# ---------------------------------------------------------------------------
# Negotiation (RFC 7692 §5, §7.1; header syntax RFC 6455 §9.1)
# ---------------------------------------------------------------------------

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"

_SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
_CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
_SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
_CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"
_PARAMETERS = frozenset(
    {
        _SERVER_NO_CONTEXT_TAKEOVER,
        _CLIENT_NO_CONTEXT_TAKEOVER,
        _SERVER_MAX_WINDOW_BITS,
        _CLIENT_MAX_WINDOW_BITS,
    }
)

Params = list[tuple[str, "str | None"]]


def _parse_extensions(header: str) -> list[tuple[str, Params]]:
    """Parse a ``Sec-WebSocket-Extensions`` value into (name, params) pairs.

    Grammar (RFC 6455 §9.1, with RFC 7230 #list rules): a comma-separated
    list, empty elements allowed, of ``token *( ";" token [ "=" value ] )``,
    where a value is a token or a quoted string that unescapes to a token.

    Raises:
        ValueError: the value does not follow this grammar.
    """
    if not isinstance(header, str):
        raise TypeError(f"header must be str, not {type(header).__name__}")
    end = len(header)
    position = 0

    def skip_ows() -> None:
        nonlocal position
        while position < end and header[position] in _OWS:
            position += 1

    def token() -> str:
        nonlocal position
        start = position
        while position < end and header[position] in _TCHAR:
            position += 1
        if position == start:
            raise ValueError(f"expected a token at offset {start} of {header!r}")
        return header[start:position]

    def quoted() -> str:
        nonlocal position
        position += 1  # the opening quote
        chars: list[str] = []
        while position < end:
            char = header[position]
            position += 1
            if char == '"':
                value = "".join(chars)
                # RFC 6455 §9.1: after unescaping, the value must be a token.
                if not value or not all(c in _TCHAR for c in value):
                    raise ValueError(f"quoted value {value!r} is not a token")
                return value
            if char == "\\":
                if position == end:
                    break
                char = header[position]
                position += 1
            chars.append(char)
        raise ValueError(f"unterminated quoted string in {header!r}")

    extensions: list[tuple[str, Params]] = []
    while True:
        # Skip empty list elements (", ,").
        skip_ows()
        while position < end and header[position] == ",":
            position += 1
            skip_ows()
        if position == end:
            return extensions
        name = token()
        params: Params = []
        skip_ows()
        while position < end and header[position] == ";":
            position += 1
            skip_ows()
            key = token()
            skip_ows()
            value: str | None = None
            if position < end and header[position] == "=":
                position += 1
                skip_ows()
                value = quoted() if position < end and header[position] == '"' else token()
                skip_ows()
            params.append((key, value))
        extensions.append((name, params))
        if position < end and header[position] != ",":
            raise ValueError(f"unexpected {header[position]!r} at offset {position} of {header!r}")


def _window_bits_value(name: str, value: str | None) -> int:
    """RFC 7692 §7.1.2: a decimal integer 8..15 without leading zeros."""
    if value is None:
        raise ValueError(f"{name} needs a value")
    if not value.isdigit() or not value.isascii() or value[0] == "0":
        raise ValueError(f"{name}={value!r} is not a decimal integer without leading zeros")
    bits = int(value)
    if not _MIN_WINDOW_BITS <= bits <= _MAX_WINDOW_BITS:
        raise ValueError(f"{name}={bits} is outside {_MIN_WINDOW_BITS}..{_MAX_WINDOW_BITS}")
    return bits


def _read_params(params: Params, *, offer: bool) -> dict[str, Any]:
    """Check one element's parameters (RFC 7692 §7.1) and return them by name.

    A no-context-takeover flag maps to True; a window size maps to its int,
    except ``client_max_window_bits`` without a value in an offer, which maps
    to True ("I support it, set any value", §7.1.2.2).

    Raises:
        ValueError: an unknown or repeated parameter, or an invalid value.
    """
    seen: dict[str, Any] = {}
    for name, value in params:
        if name not in _PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}")
        if name in seen:
            raise ValueError(f"duplicate parameter {name!r}")
        if name in (_SERVER_NO_CONTEXT_TAKEOVER, _CLIENT_NO_CONTEXT_TAKEOVER):
            if value is not None:
                raise ValueError(f"{name} takes no value")
            seen[name] = True
        elif name == _CLIENT_MAX_WINDOW_BITS and value is None and offer:
            seen[name] = True
        else:
            seen[name] = _window_bits_value(name, value)
    return seen


def _check_window_bits(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not _MIN_WINDOW_BITS <= value <= _MAX_WINDOW_BITS:
        raise ValueError(f"{name} must be in {_MIN_WINDOW_BITS}..{_MAX_WINDOW_BITS}, not {value}")
    return value


class PerMessageDeflate:
    """The permessage-deflate extension (RFC 7692) of one connection.

    An instance is a configuration: a client builds one to make its
    :meth:`offer`; :meth:`accept` (server) and :meth:`from_response` (client)
    return the one both sides agreed on, which configures that connection's
    ``Decoder`` and ``Encoder`` (each uses the direction of its role: the
    server deflates with the ``server_*`` parameters and inflates with the
    ``client_*`` ones, the client the other way round).

    Args:
        server_no_context_takeover: the server starts each message with an
            empty sliding window (RFC 7692 §7.1.1.1).
        client_no_context_takeover: the same for the client (§7.1.1.2).
        server_max_window_bits: the base-2 logarithm (8..15) of the server's
            LZ77 window (§7.1.2.1).
        client_max_window_bits: the same for the client (§7.1.2.2).
        level: this endpoint's compression level, 0-9 or -1 for the default
            (zlib's levels; ISA-L maps them onto its 0-3).
        min_size: messages shorter than this are sent uncompressed (a small
            message gains nothing and costs a deflate call).
        zlib: the deflate implementation: "isal", "zlib-ng" or "zlib" (see
            :func:`zlib_backends`), or None for the fastest one installed
            for each operation. It only changes speed and the compressed
            bytes, never what the peer can read.

    Raises:
        TypeError: a parameter of the wrong type.
        ValueError: a parameter out of range, or ``zlib`` names an
            implementation that is unknown or not installed.
    """

    __slots__ = (
        "_server_no_context_takeover",
        "_client_no_context_takeover",
        "_server_max_window_bits",
        "_client_max_window_bits",
        "_level",
        "_min_size",
        "_zlib",
    )

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        client_max_window_bits: int = 15,
        level: int = 6,
        min_size: int = 0,
        zlib: str | None = None,
        _zlib: str | None = None,
    ) -> None:
        for name, flag in (
            ("server_no_context_takeover", server_no_context_takeover),
            ("client_no_context_takeover", client_no_context_takeover),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be an int, not {type(level).__name__}")
        if not -1 <= level <= 9:
            raise ValueError(f"level must be in -1..9, not {level}")
        if isinstance(min_size, bool) or not isinstance(min_size, int):
            raise TypeError(f"min_size must be an int, not {type(min_size).__name__}")
        if min_size < 0:
            raise ValueError(f"min_size must be >= 0, not {min_size}")
        self._server_no_context_takeover = server_no_context_takeover
        self._client_no_context_takeover = client_no_context_takeover
        self._server_max_window_bits = _check_window_bits(
            "server_max_window_bits", server_max_window_bits
        )
        self._client_max_window_bits = _check_window_bits(
            "client_max_window_bits", client_max_window_bits
        )
        self._level = level
        self._min_size = min_size
        if zlib is not None and not isinstance(zlib, str):
            raise TypeError(f"zlib must be a str or None, not {type(zlib).__name__}")
        # _zlib: the earlier, private name of the same argument.
        self._zlib = _get_zlib(zlib if zlib is not None else _zlib)

    # -- configuration (read-only) ------------------------------------------

    @property
    def server_no_context_takeover(self) -> bool:
        return self._server_no_context_takeover

    @property
    def client_no_context_takeover(self) -> bool:
        return self._client_no_context_takeover

    @property
    def server_max_window_bits(self) -> int:
        return self._server_max_window_bits

    @property
    def client_max_window_bits(self) -> int:
        return self._client_max_window_bits

    @property
    def level(self) -> int:
        return self._level

    @property
    def min_size(self) -> int:
        return self._min_size

    @property
    def zlib(self) -> str | None:
        """The deflate implementation chosen at construction (None: automatic)."""
        return None if self._zlib.name == AUTO else self._zlib.name

    def _key(self) -> tuple[Any, ...]:
        return (
            self._server_no_context_takeover,
            self._client_no_context_takeover,
            self._server_max_window_bits,
            self._client_max_window_bits,
            self._level,
            self._min_size,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PerMessageDeflate):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(server_no_context_takeover={self._server_no_context_takeover}, "
            f"client_no_context_takeover={self._client_no_context_takeover}, "
            f"server_max_window_bits={self._server_max_window_bits}, "
            f"client_max_window_bits={self._client_max_window_bits}, "
            f"level={self._level}, min_size={self._min_size})"
        )

    def _replace(self, **changes: Any) -> PerMessageDeflate:
        values: dict[str, Any] = {
            "server_no_context_takeover": self._server_no_context_takeover,
            "client_no_context_takeover": self._client_no_context_takeover,
            "server_max_window_bits": self._server_max_window_bits,
            "client_max_window_bits": self._client_max_window_bits,
            "level": self._level,
            "min_size": self._min_size,
            "zlib": self.zlib,
        }
        values.update(changes)
        return PerMessageDeflate(**values)

    # -- negotiation ---------------------------------------------------------

    def offer(self) -> str:
        """The client's ``Sec-WebSocket-Extensions`` value for this configuration.

        ``client_max_window_bits`` is always offered, without a value when it
        is 15, to tell the server it may limit our window (RFC 7692 §7.1.2.2).
        """
        parts = [EXTENSION_NAME]
        if self._server_no_context_takeover:
            parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
        if self._client_no_context_takeover:
            parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
        if self._server_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_SERVER_MAX_WINDOW_BITS}={self._server_max_window_bits}")
        if self._client_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={self._client_max_window_bits}")
        else:
            parts.append(_CLIENT_MAX_WINDOW_BITS)
        return "; ".join(parts)

    def _response(self, *, server_window_asked: bool) -> str:
        """The server's ``Sec-WebSocket-Extensions`` value for this agreement.

        An offered server_max_window_bits is always answered, even with 15
        (RFC 7692 §7.1.2.1); otherwise 15 goes without saying.
        """
        parts = [EXTENSION_NAME]
        if self._server_no_context_takeover:
            parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
        if self._client_no_context_takeover:
            parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
        if server_window_asked or self._server_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_SERVER_MAX_WINDOW_BITS}={self._server_max_window_bits}")
        if self._client_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={self._client_max_window_bits}")
        return "; ".join(parts)

    @classmethod
    def accept(cls, offer_header: str, **preferences: Any) -> tuple[str, PerMessageDeflate] | None:
        """Server side: choose the first acceptable offer (RFC 7692 §5, §7.1).

        Offers are the ``permessage-deflate`` elements of the header, in the
        client's order of preference; other extensions are ignored, and an
        offer with an unknown, repeated or invalid parameter is declined
        (§7.1). The server's ``preferences`` (the constructor's arguments)
        combine with each offer:

        * ``server_no_context_takeover``: agreed when offered or preferred.
        * ``client_no_context_takeover``: agreed when offered (the client's
          hint) or preferred (the server requires it, §7.1.1.2).
        * ``server_max_window_bits``: the smaller of the offered and the
          preferred value; always answered when offered (§7.1.2.1).
        * ``client_max_window_bits``: answered only when offered, with or
          without a value (§7.1.2.2), as the smaller of that value and the
          preference; a client that did not offer it keeps a 15-bit window.

        Args:
            offer_header: the request's ``Sec-WebSocket-Extensions`` value
                (several header lines joined with ", ").
            **preferences: keyword arguments of :class:`PerMessageDeflate`.

        Returns:
            ``(response_header_value, agreed_instance)``, or None when no
            offer is acceptable (or the header cannot be parsed): the server
            then answers without the extension.

        Raises:
            TypeError, ValueError: invalid ``preferences``.
        """
        server = cls(**preferences)
        try:
            extensions = _parse_extensions(offer_header)
        except ValueError:
            return None
        for name, params in extensions:
            if name != EXTENSION_NAME:
                continue
            try:
                offered = _read_params(params, offer=True)
            except ValueError:
                continue  # §7.1: decline this offer, try the next one
            server_bits = min(
                offered.get(_SERVER_MAX_WINDOW_BITS, _MAX_WINDOW_BITS),
                server._server_max_window_bits,
            )
            client_bits = _MAX_WINDOW_BITS
            client_offer = offered.get(_CLIENT_MAX_WINDOW_BITS)
            if client_offer is not None:
                limit = _MAX_WINDOW_BITS if client_offer is True else client_offer
                client_bits = min(limit, server._client_max_window_bits)
            agreed = server._replace(
                server_no_context_takeover=server._server_no_context_takeover
                or _SERVER_NO_CONTEXT_TAKEOVER in offered,
                client_no_context_takeover=server._client_no_context_takeover
                or _CLIENT_NO_CONTEXT_TAKEOVER in offered,
                server_max_window_bits=server_bits,
                client_max_window_bits=client_bits,
            )
            return agreed._response(server_window_asked=_SERVER_MAX_WINDOW_BITS in offered), agreed
        return None

    @classmethod
    def from_response(cls, response_header: str, offered: PerMessageDeflate) -> PerMessageDeflate:
        """Client side: check the server's answer against our offer (RFC 7692 §7.1).

        Args:
            response_header: the response's ``Sec-WebSocket-Extensions``
                value. Elements of other extensions are left to the caller;
                exactly one ``permessage-deflate`` element must be there.
            offered: the instance whose :meth:`offer` was sent.

        Returns:
            The agreed configuration (``level`` and ``min_size`` from
            ``offered``).

        Raises:
            ValueError: the answer must fail the connection (§7.1): it has no
                or several ``permessage-deflate`` elements, an unknown,
                repeated or invalid parameter, omits
                ``server_no_context_takeover`` or ``server_max_window_bits``
                that we offered, or raises a window above what we offered.
        """
        if not isinstance(offered, PerMessageDeflate):
            raise TypeError(f"offered must be a PerMessageDeflate, not {type(offered).__name__}")
        answers = [
            params for name, params in _parse_extensions(response_header) if name == EXTENSION_NAME
        ]
        if len(answers) != 1:
            raise ValueError(f"expected one {EXTENSION_NAME} in the response, got {len(answers)}")
        answer = _read_params(answers[0], offer=False)

        # §7.1.1.1: a server accepting our server_no_context_takeover must say
        # so; it may also choose it unasked.
        if offered._server_no_context_takeover and _SERVER_NO_CONTEXT_TAKEOVER not in answer:
            raise ValueError(f"the response omits the offered {_SERVER_NO_CONTEXT_TAKEOVER}")

        # §7.1.2.1: an offered limit must be answered, with the same or a
        # smaller value; unasked, the server may still announce any value.
        server_bits = answer.get(_SERVER_MAX_WINDOW_BITS, _MAX_WINDOW_BITS)
        if offered._server_max_window_bits != _MAX_WINDOW_BITS:
            if _SERVER_MAX_WINDOW_BITS not in answer:
                raise ValueError(f"the response omits the offered {_SERVER_MAX_WINDOW_BITS}")
            if server_bits > offered._server_max_window_bits:
                raise ValueError(
                    f"{_SERVER_MAX_WINDOW_BITS}={server_bits} exceeds the offered "
                    f"{offered._server_max_window_bits}"
                )

        # §7.1.2.2: the server may only lower the window we offered (always
        # offered, without a value when 15).
        client_bits = answer.get(_CLIENT_MAX_WINDOW_BITS, offered._client_max_window_bits)
        if client_bits > offered._client_max_window_bits:
            raise ValueError(
                f"{_CLIENT_MAX_WINDOW_BITS}={client_bits} exceeds the offered "
                f"{offered._client_max_window_bits}"
            )

        return offered._replace(
            server_no_context_takeover=_SERVER_NO_CONTEXT_TAKEOVER in answer,
            # §7.1.1.2: the server may impose it; our own choice stands too.
            client_no_context_takeover=offered._client_no_context_takeover
            or _CLIENT_NO_CONTEXT_TAKEOVER in answer,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )

    # -- codec interface (see design notes) ----------------------------------

    def _directions(self, role: str) -> tuple[tuple[int, bool], tuple[int, bool]]:
        """((window, no_takeover) this role deflates with, (...) it inflates with)."""
        server = (self._server_max_window_bits, self._server_no_context_takeover)
        client = (self._client_max_window_bits, self._client_no_context_takeover)
        if role == "server":
            return server, client
        if role == "client":
            return client, server
        raise ValueError(f"role must be 'server' or 'client', not {role!r}")

    def _inflater(self, role: str) -> _Inflater:
        """The decompressor for a ``Decoder`` of ``role`` (it inflates the peer's messages)."""
        window_bits, no_context_takeover = self._directions(role)[1]
        return _Inflater(self._zlib, window_bits, no_context_takeover)

    def _deflater(self, role: str) -> _Deflater:
        """The compressor for an ``Encoder`` of ``role``."""
        window_bits, no_context_takeover = self._directions(role)[0]
        return _Deflater(self._zlib, self._level, window_bits, no_context_takeover, self._min_size)
