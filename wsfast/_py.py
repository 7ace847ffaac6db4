"""Pure-Python backend: the readable twin of every primitive in ``_c``.

Runs wherever there is no compiler, and is the reference the compiled
kernels are tested against. Each primitive uses the fastest technique pure
Python offers (big-integer XOR or bytes.translate for masking) rather than a
loop over bytes.
"""

from __future__ import annotations

import io
import operator
import struct
import sys

from ._buffers import byte_view, key_bytes
from .constants import (
    FRAME_E_CONTROL_FRAGMENTED,
    FRAME_E_CONTROL_TOO_LONG,
    FRAME_E_LENGTH_TOP_BIT,
    FRAME_E_MASKED,
    FRAME_E_NOT_MINIMAL,
    FRAME_E_OPCODE,
    FRAME_E_RSV,
    FRAME_E_TOO_BIG,
    FRAME_E_UNMASKED,
    FRAME_NEED_MORE,
    MAX_CONTROL_PAYLOAD,
    RESERVED_OPCODES,
    UTF8_ACCEPT,
    UTF8_REJECT,
)

__all__ = [
    "KERNEL_NAMES",
    "Masker",
    "Utf8Validator",
    "mask",
    "mask_inplace",
    "validate_utf8",
]

# features() reports these when the Python backend runs.
KERNEL_NAMES = {"mask": "python", "utf8": "python"}


def _kernels() -> list[str]:
    """Kernel levels of the compiled backend; the Python backend has none."""
    return []


def _build_info() -> dict[str, str]:
    """How the compiled backend was built; nothing was compiled here."""
    return {}


# ---- Masking (RFC 6455 §5.3) -------------------------------------------------


# Below this length one big-integer XOR is cheapest; from there, four
# bytes.translate passes over the strided lanes are (they avoid the
# bytes <-> int conversions, which dominate for mid-sized buffers).
_TRANSLATE_THRESHOLD = 128
# From this length, big-integer XOR again, chunk by chunk. The lanes need a
# bytearray and a bytes result, two payload-sized buffers: from here malloc
# maps them fresh and page-faults on every call (0.6x wsproto's speed at
# 256 KiB), and their eight strided passes leave the CPU cache.
_INT_CHUNKS_THRESHOLD = 128 * 1024
# A chunk (a multiple of 4, so each starts at key phase 0) and its integers
# stay in the CPU cache.
_CHUNK = 16 * 1024
# 1 in the low byte of each 4-byte lane of a chunk: key32 * _LANE_ONES is the
# key repeated over a chunk (the lanes do not overlap, so nothing carries),
# without converting a chunk of repeated key bytes on every call.
_LANE_ONES = int.from_bytes(b"\x01\x00\x00\x00" * (_CHUNK // 4), "little")


def _xor_tables() -> tuple[bytes, ...]:
    """For each key byte k, the translate table mapping every byte b to b ^ k.

    Built with one big-integer XOR per table: about 0.3 ms for all 256.
    """
    identity = int.from_bytes(bytes(range(256)), "little")
    return tuple(
        (identity ^ int.from_bytes(bytes([k]) * 256, "little")).to_bytes(256, "little")
        for k in range(256)
    )


_XOR_TABLES = _xor_tables()


def _xor_lanes(buf: bytearray, key: bytes) -> None:
    """XOR ``buf`` in place with ``key`` repeated: byte i of lane p (bytes
    p, p + 4, ...) goes through the table of key[p]. Unrolled: this is the
    per-call overhead of every long payload."""
    tables = _XOR_TABLES
    buf[0::4] = buf[0::4].translate(tables[key[0]])
    buf[1::4] = buf[1::4].translate(tables[key[1]])
    buf[2::4] = buf[2::4].translate(tables[key[2]])
    buf[3::4] = buf[3::4].translate(tables[key[3]])


def _xor(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """XOR ``data`` with ``key`` repeated, without a per-byte Python loop."""
    length = len(data)
    if length < _TRANSLATE_THRESHOLD:
        if length == 0:
            return b""
        repeated = key * (length // 4 + 1)
        value = int.from_bytes(data, "little") ^ int.from_bytes(repeated[:length], "little")
        return value.to_bytes(length, "little")
    if length < _INT_CHUNKS_THRESHOLD:
        lanes = bytearray(data)
        _xor_lanes(lanes, key)
        return bytes(lanes)
    if type(data) is not bytes:
        data = memoryview(data)  # slices without copying (from_bytes copies once)
    chunk_key = int.from_bytes(key, "little") * _LANE_ONES
    from_bytes = int.from_bytes
    whole = length - length % _CHUNK
    # Each chunk is written straight into the result: CPython's BytesIO
    # writes into the (calloc'd, unshared) bytes it was given and getvalue()
    # returns that object, so no list of chunks is live next to the result
    # (that working set left the CPU cache at 16 MiB) and there is no join
    # copy. Elsewhere it is merely a copy more.
    out = io.BytesIO(bytes(length))
    write = out.write
    for start in range(0, whole, _CHUNK):
        write((from_bytes(data[start : start + _CHUNK], "little") ^ chunk_key).to_bytes(_CHUNK, "little"))
    if whole < length:
        write(_xor(data[whole:], key))
    return out.getvalue()


def _bytes_like(data: object) -> bytes | bytearray | memoryview:
    """``data`` itself when it is bytes or bytearray (no view needed), else a byte view."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    return byte_view(data, "data")


def _rotate(key: bytes, offset: int) -> bytes:
    """The key as seen from payload byte ``offset``: byte i uses key[(offset + i) % 4]."""
    return key[offset:] + key[:offset]


def mask(data: object, key: object) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` repeated (RFC 6455 §5.3).

    Args:
        data: any C-contiguous buffer.
        key: any buffer of exactly 4 bytes.

    Raises:
        TypeError: ``data`` or ``key`` is not a buffer.
        ValueError: ``key`` is not 4 bytes long, or ``data`` is not contiguous.
    """
    masking_key = key_bytes(key)
    return _xor(_bytes_like(data), masking_key)


def mask_inplace(buffer: object, key: object, offset: int = 0) -> int:
    """XOR a writable buffer in place, byte i with ``key[(offset + i) % 4]``.

    Returns:
        ``(offset + len(buffer)) % 4``: the offset for the next chunk.

    Raises:
        TypeError: not a buffer, read-only, or ``offset`` is not an integer.
        ValueError: ``key`` is not 4 bytes long, or ``buffer`` is not contiguous.
    """
    masking_key = key_bytes(key)
    phase = operator.index(offset) % 4
    if phase:
        masking_key = _rotate(masking_key, phase)
    if type(buffer) is bytearray and len(buffer) >= _TRANSLATE_THRESHOLD:
        # Always a writable, contiguous buffer: the lanes are XORed in
        # place, with no copy in or out.
        _xor_lanes(buffer, masking_key)
        return (phase + len(buffer)) % 4
    view = byte_view(buffer, "buffer", writable=True)
    view[:] = _xor(view, masking_key)
    return (phase + len(view)) % 4


def _mask_inplace_keyfirst(key: object, buffer: object) -> None:
    """``mask_inplace(buffer, key)`` in aiohttp's argument order.

    aiohttp's writer calls ``websocket_mask(mask, data)``; the integration
    binds it to this. Same checks and errors as :func:`mask_inplace`, no result.
    """
    mask_inplace(buffer, key)


class Masker:
    """Masks a payload that arrives in pieces, continuing the key phase.

    One stream's position: use one per thread or serialise the calls
    (overlapping calls are memory-safe but may continue from the wrong phase).

    Args:
        key: any buffer of exactly 4 bytes.

    Raises:
        TypeError: ``key`` is not a buffer.
        ValueError: ``key`` is not 4 bytes long.
    """

    __slots__ = ("_keys", "_offset")

    def __init__(self, key: object) -> None:
        masking_key = key_bytes(key)
        self._keys = tuple(_rotate(masking_key, phase) for phase in range(4))
        self._offset = 0

    @property
    def offset(self) -> int:
        """Key phase of the next byte, 0..3."""
        return self._offset

    def process(self, data: object) -> bytes:
        """Mask the next piece of the payload and return it."""
        view = _bytes_like(data)
        result = _xor(view, self._keys[self._offset])
        self._offset = (self._offset + len(view)) % 4
        return result

    def reset(self) -> None:
        """Start again from key phase 0."""
        self._offset = 0


# ---- UTF-8 validation (RFC 3629) ----------------------------------------------
# RFC 6455 §5.6 and §8.1: text payloads and close reasons must be valid UTF-8.
# CPython's strict decoder gives the verdict at C speed (it follows RFC 3629:
# no overlongs, surrogates or code points above U+10FFFF). A small state
# machine over at most four bytes adds what the decoder does not say: the
# exact first invalid byte, and whether an unfinished tail can still become
# valid (CPython also waits on ED A0..BF, a surrogate that never can).


def _lead_rules() -> tuple[tuple[int, int, int] | None, ...]:
    """RFC 3629 §4 by lead byte: (continuation bytes due, lowest and highest
    allowed first continuation byte); None for bytes that never start a
    sequence (continuations, C0, C1 and F5..FF)."""
    rules: list[tuple[int, int, int] | None] = [None] * 256
    for lead in range(0xC2, 0xE0):
        rules[lead] = (1, 0x80, 0xBF)
    for lead in range(0xE1, 0xF0):
        rules[lead] = (2, 0x80, 0xBF)
    rules[0xE0] = (2, 0xA0, 0xBF)  # E0 80..9F would be overlong
    rules[0xED] = (2, 0x80, 0x9F)  # ED A0..BF would be a surrogate
    for lead in range(0xF1, 0xF4):
        rules[lead] = (3, 0x80, 0xBF)
    rules[0xF0] = (3, 0x90, 0xBF)  # F0 80..8F would be overlong
    rules[0xF4] = (3, 0x80, 0x8F)  # F4 90..BF would be above U+10FFFF
    return tuple(rules)


_LEAD = _lead_rules()


def _first_invalid(seq: bytes | memoryview) -> int:
    """The index of the first byte of ``seq`` (which starts at a code point
    boundary) that no valid UTF-8 can have there, or -1. The end of ``seq``
    may cut a sequence: that alone is not an error."""
    i, n = 0, len(seq)
    while i < n:
        lead = seq[i]
        if lead < 0x80:
            i += 1
            continue
        rule = _LEAD[lead]
        if rule is None:
            return i
        due, low, high = rule
        for k in range(1, due + 1):
            if i + k >= n:
                return -1
            byte = seq[i + k]
            if not (low <= byte <= high if k == 1 else 0x80 <= byte <= 0xBF):
                return i + k
        i += due + 1
    return -1


def validate_utf8(data: object) -> bool:
    """Whether ``data`` is complete, valid UTF-8 (RFC 3629).

    No overlong form, no surrogate, nothing above U+10FFFF, no truncated
    sequence at the end.

    Raises:
        TypeError: ``data`` is not a buffer.
        ValueError: ``data`` is not C-contiguous.
    """
    try:
        if type(data) is bytes:
            if not data.isascii():  # ASCII needs no str at all
                data.decode()
        else:
            str(byte_view(data, "data"), "utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation of a message that arrives in pieces.

    ``feed`` turns False at the chunk holding the first byte that proves the
    input invalid (``ED A0`` fails at ``A0``) and stays False; a sequence cut
    at a chunk boundary is carried into the next chunk, and only ``finish``
    treats an unfinished sequence as invalid. One stream's state: use one per
    thread or serialise the calls.
    """

    __slots__ = ("_consumed", "_error", "_pending")

    def __init__(self) -> None:
        self._pending = b""  # the open sequence at the end of the last chunk
        self._consumed = 0
        self._error: int | None = None

    def _close_pending(self, view: bytes | memoryview, start: int) -> int:
        """Finish the sequence the last chunk left open (at most 3 bytes) with
        the first bytes of ``view``; how many it took, or -1 after an error."""
        pending = self._pending
        due = _LEAD[pending[0]][0] + 1 - len(pending)  # type: ignore[index]
        seq = pending + bytes(view[:due])
        bad = _first_invalid(seq)
        if bad >= 0:
            self._error = start + bad - len(pending)
            return -1
        self._pending = seq if len(seq) - len(pending) < due else b""
        return min(due, len(view))

    def _error_or_open_tail(self, view: bytes | memoryview, at: int, base: int) -> bool:
        """The decoder stopped at ``view[at]``: either at a sequence that the end
        of the chunk cut (keep it for the next chunk) or at an invalid one (find
        its first impossible byte: CPython reports where the sequence starts,
        and also gives up on ED A0..BF only at the end of the data)."""
        window = bytes(view[at : at + 4])
        bad = _first_invalid(window)
        if bad < 0 and len(view) - at < 4:
            self._pending = window
            return True
        self._error = base + at + max(bad, 0)
        return False

    def feed(self, data: object) -> bool:
        """Validate the next chunk.

        Returns:
            False as soon as the bytes seen so far cannot start valid UTF-8,
            and from then on; True otherwise.

        Raises:
            TypeError: ``data`` is not a buffer.
            ValueError: ``data`` is not C-contiguous.
        """
        view: bytes | memoryview = data if type(data) is bytes else byte_view(data, "data")
        n = len(view)
        start = self._consumed
        self._consumed = start + n  # after an error the bytes are only counted
        if self._error is None and not self._pending:
            # The common case runs inline: one Python call per chunk, and the
            # decoder's fast path for complete text (no tuple, no state).
            try:
                if type(view) is bytes:
                    if not view.isascii():  # ASCII needs no str at all
                        view.decode()
                else:
                    str(view, "utf-8")
                return True
            except UnicodeDecodeError as exc:
                return self._error_or_open_tail(view, exc.start, start)
        if self._error is not None:
            return False
        skip = self._close_pending(view, start)
        if skip < 0:
            return False
        if skip == n:
            return True
        # The rest starts at a code point boundary: feed it as a chunk of its own.
        self._consumed = start + skip
        return self.feed(memoryview(view)[skip:])

    def finish(self) -> bool:
        """Whether the bytes so far are valid and end at a code point boundary.

        A message that stops inside a sequence is invalid (RFC 3629); this
        only reports it and changes nothing.
        """
        return self._error is None and not self._pending

    def reset(self) -> None:
        """Start a new message."""
        self._pending = b""
        self._consumed = 0
        self._error = None

    # The codec's UTF-8 state (an int, as _utf8_feed's compiled twin keeps
    # it): UTF8_ACCEPT, UTF8_REJECT, or the unfinished sequence, its length
    # in bits 24+ and its bytes below.
    @classmethod
    def _from_state(cls, state: int) -> Utf8Validator:
        """A validator resuming the codec state ``state`` (not UTF8_REJECT)."""
        validator = cls()
        if state:
            validator._pending = (state & 0xFFFFFF).to_bytes(state >> 24, "big")
        return validator

    def _state(self) -> int:
        """This validator's progress as a codec state."""
        if self._error is not None:
            return UTF8_REJECT
        pending = self._pending
        return (len(pending) << 24) | int.from_bytes(pending, "big") if pending else UTF8_ACCEPT

    @property
    def valid(self) -> bool:
        """No invalid byte seen so far."""
        return self._error is None

    @property
    def error_offset(self) -> int | None:
        """Absolute offset of the first byte proven invalid, or None."""
        return self._error

    @property
    def consumed(self) -> int:
        """Total bytes fed since the last reset, including any after an error."""
        return self._consumed

    def validate(self, data: object) -> tuple[bool, bool, int, int]:
        """The wsaccel / autobahn API: validate the next chunk.

        Returns:
            ``(valid, ends_on_code_point, index_in_this_chunk, total_index)``.
            Valid: ``(True, ends, len(data), consumed)``. At the first error:
            ``(False, False, index of the invalid byte, its absolute offset)``.
            Afterwards, as wsaccel: ``(False, False, 0, offset)``, or
            ``(True, False, 0, offset)`` for an empty chunk.

        Raises:
            TypeError: ``data`` is not a buffer.
            ValueError: ``data`` is not C-contiguous.
        """
        failed_before = self._error is not None
        start = self._consumed
        if self.feed(data):
            return (True, not self._pending, self._consumed - start, self._consumed)
        error: int = self._error  # type: ignore[assignment]
        if failed_before:
            return (self._consumed == start, False, 0, error)
        return (False, False, error - start, error)


# ---- Codec primitives (RFC 6455 §5.2, §5.3) ------------------------------------
# Twins of _c.pyx's cpdef codec primitives, called by wsfast/_codec_py.py (docs/build.md
# says how its compiled build calls the C ones instead). Masking keys
# travel as integers: key byte i is bits 8i..8i+7, the same in both backends.


def _frame_parse(
    data: bytes | bytearray, pos: int, end: int, allowed_rsv: int, masked: bool, max_length: int
) -> tuple[int, int, int, int]:
    """Parse the frame header at ``data[pos:end]`` (csrc/frame_header.c, check for check).

    Returns:
        ``(status, first, length, key)``: ``status`` is the header size, 0 when
        more bytes are needed, or a negative ``constants.FRAME_E_*`` code, each
        reported as soon as the byte that decides it is there.
    """
    if type(data) is not bytes and type(data) is not bytearray:
        return (FRAME_NEED_MORE, 0, 0, 0)  # as the C twin: anything else reads as empty
    end = min(end, len(data))
    pos = max(pos, 0)
    if pos >= end:
        return (FRAME_NEED_MORE, 0, 0, 0)
    first = data[pos]
    opcode = first & 0x0F
    control = opcode & 0x08
    # Byte 0: RSV bits (RSV1 is 0b100 in allowed_rsv), reserved opcodes, and
    # §5.5: control frames are never fragmented.
    if (first >> 4) & 0x7 & ~allowed_rsv:
        return (FRAME_E_RSV, 0, 0, 0)
    if (RESERVED_OPCODES >> opcode) & 1:
        return (FRAME_E_OPCODE, 0, 0, 0)
    if control and not first & 0x80:
        return (FRAME_E_CONTROL_FRAGMENTED, 0, 0, 0)
    if end - pos < 2:
        return (FRAME_NEED_MORE, 0, 0, 0)
    # Byte 1: masking by role (§5.1) and the control payload limit (§5.5).
    second = data[pos + 1]
    is_masked = bool(second & 0x80)
    if is_masked != bool(masked):
        return (FRAME_E_MASKED if is_masked else FRAME_E_UNMASKED, 0, 0, 0)
    length = second & 0x7F
    if control and length > MAX_CONTROL_PAYLOAD:
        return (FRAME_E_CONTROL_TOO_LONG, 0, 0, 0)
    # §5.2: extended lengths in their shortest form; the 64-bit one has MSB 0.
    size = 2
    if length == 126:
        if end - pos < 4:
            return (FRAME_NEED_MORE, 0, 0, 0)
        length = (data[pos + 2] << 8) | data[pos + 3]
        if length < 126:
            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)
        size = 4
    elif length == 127:
        if end - pos < 10:
            return (FRAME_NEED_MORE, 0, 0, 0)
        length = int.from_bytes(data[pos + 2 : pos + 10], "big")
        if length >> 63:
            return (FRAME_E_LENGTH_TOP_BIT, 0, 0, 0)
        if length <= 0xFFFF:
            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)
        size = 10
    # Refused before the masking key is read: nothing of it gets buffered.
    if length > max_length:
        return (FRAME_E_TOO_BIG, 0, 0, 0)
    key = 0
    if is_masked:
        if end - pos < size + 4:
            return (FRAME_NEED_MORE, 0, 0, 0)
        key = int.from_bytes(data[pos + size : pos + size + 4], "little")
        size += 4
    return (size, first, length, key)


def _check_range(data: bytes, pos: int, n: int) -> None:
    if type(data) is not bytes:
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if pos < 0 or n < 0 or n > len(data) - pos:
        raise ValueError("payload range outside data")


def _frame_unmask(data: bytes, pos: int, n: int, key: int) -> bytes:
    """``data[pos:pos + n]`` unmasked with ``key`` (0: a plain copy)."""
    _check_range(data, pos, n)
    if key == 0:
        return data[pos : pos + n]
    return _xor(memoryview(data)[pos : pos + n], key.to_bytes(4, "little"))


def _utf8_feed(state: int, data: bytes, pos: int, end: int) -> int:
    """Continue UTF-8 validation over ``data[pos:end]`` (fail-fast, as Utf8Validator).

    Returns:
        0 (``UTF8_ACCEPT``) at a code point boundary, 1 (``UTF8_REJECT``) once a
        byte is invalid, otherwise a state holding the unfinished sequence
        (see ``Utf8Validator._state``).
    """
    end = min(end, len(data) if data is not None else 0)
    pos = max(pos, 0)
    if pos >= end or state == UTF8_REJECT:
        return state
    validator = Utf8Validator._from_state(state)
    validator.feed(memoryview(data)[pos:end])
    return validator._state()


def _tuple3(cls: type[tuple[object, ...]], a: object, b: object, c: object) -> tuple[object, ...]:
    """``tuple.__new__(cls, (a, b, c))`` for a tuple subclass ``cls`` (the C
    twin builds it without the call)."""
    return tuple.__new__(cls, (a, b, c))


def _frame_header(first: int, length: int, key: object) -> bytes:
    """A frame header (§5.2): byte ``first``, the shortest encoding of
    ``length``, then ``key`` (4 bytes) with the mask bit set, or no key (None).

    Raises what the compiled twin's unsigned C arguments raise.
    """
    first = operator.index(first)
    length = operator.index(length)
    if not (0 <= first <= 0xFFFFFFFF and 0 <= length <= 0xFFFFFFFFFFFFFFFF):
        raise OverflowError("first must fit in 32 bits and length in 64 bits, unsigned")
    return _header(first & 0xFF, length, None if key is None else key_bytes(key))


def _header(first: int, length: int, key: bytes | None) -> bytes:
    """:func:`_frame_header` for arguments already checked (csrc/frame_header.c's twin)."""
    mask_bit = 0 if key is None else 0x80
    if length < 126:
        header = bytes((first, mask_bit | length))
    elif length <= 0xFFFF:
        header = _HEADER16(first, mask_bit | 126, length)
    else:
        header = _HEADER64(first, mask_bit | 127, length)
    return header if key is None else header + key


def _frame_build(first: int, payload: object, key: object) -> bytes:
    """One frame: the header (:func:`_frame_header`), then the payload masked
    with ``key`` (4 bytes) or unmasked (None)."""
    # bytes, the common payload, needs no view (a view is a flat byte one).
    data = payload if type(payload) is bytes else byte_view(payload, "payload")
    masking_key = None if key is None else key_bytes(key)
    header = _header(first & 0xFF, len(data), masking_key)
    if masking_key is None:
        return header + data
    return header + _xor(data, masking_key)


_HEADER16 = struct.Struct("!BBH").pack
_HEADER64 = struct.Struct("!BBQ").pack


class _Payload:
    """A frame payload, or a message, that arrives over several feed() calls
    (twin of _c._Payload).

    An io.BytesIO: it grows with the bytes written (by about 1/8 each time),
    and getvalue() hands its bytes object out without a copy when the buffer
    is not shared, so finish() costs no copy either. ``exact``: the payload
    is exactly ``size`` bytes; otherwise ``size`` only limits it.
    """

    __slots__ = ("_buf", "_done", "_exact", "_fill", "_last", "_size")

    def __init__(self, size: int, exact: bool = True) -> None:
        size = operator.index(size)
        if size < 0:
            raise ValueError("size must be >= 0")
        self._buf: io.BytesIO | None = None  # created by the first byte
        self._size = size
        self._exact = exact
        self._fill = 0
        self._last = 0
        self._done = False

    def write(self, data: bytes, pos: int, n: int, key: int) -> int:
        """Append ``data[pos:pos + n]``, unmasked with ``key``."""
        _check_range(data, pos, n)
        if self._done:
            raise ValueError("payload already finished")
        if n > self._size - self._fill:
            raise ValueError("more bytes than the payload holds")
        if n == 0:
            return 0
        buf = self._buf
        if buf is None:
            buf = self._buf = io.BytesIO()
        fill = self._fill
        chunk = memoryview(data)[pos : pos + n]
        if key:
            buf.write(_xor(chunk, _rotate(key.to_bytes(4, "little"), fill & 3)))
        else:
            buf.write(chunk)
        self._fill = fill + n
        return 0

    def utf8(self, state: int) -> int:
        """Continue UTF-8 validation (as _utf8_feed) over the bytes written since the last call."""
        last, fill = self._last, self._fill
        self._last = fill
        if self._buf is None or last >= fill or state == UTF8_REJECT:
            return state
        # In slices: a copy of all of it would double a large message.
        with self._buf.getbuffer() as view:
            for start in range(last, fill, _UTF8_SLICE):
                piece = view[start : min(start + _UTF8_SLICE, fill)].tobytes()
                state = _utf8_feed(state, piece, 0, len(piece))
                if state == UTF8_REJECT:
                    break
        return state

    def finish(self) -> bytes:
        """The complete payload; the object accepts no more writes."""
        if self._done or (self._exact and self._fill != self._size):
            raise ValueError("payload is not complete")
        self._done = True
        buf, self._buf = self._buf, None
        return b"" if buf is None else buf.getvalue()

    @property
    def capacity(self) -> int:
        """Bytes allocated for the payload so far (BytesIO's buffer)."""
        return 0 if self._buf is None else sys.getsizeof(self._buf) - _BYTESIO_OVERHEAD

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._fill


_UTF8_SLICE = 256 * 1024
# sys.getsizeof of a BytesIO counts itself and its buffer (a bytes object).
_BYTESIO_OVERHEAD = sys.getsizeof(io.BytesIO()) + sys.getsizeof(b"")


def _new_payload(size: int) -> _Payload:
    """The buffer of a frame payload of ``size`` bytes."""
    return _Payload(size)


def _new_buffer(limit: int) -> _Payload:
    """A message being reassembled: at most ``limit`` bytes, any number of them."""
    return _Payload(limit, False)
