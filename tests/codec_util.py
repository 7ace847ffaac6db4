"""Helpers shared by the codec tests: an independent frame builder, event
normalisation, feeding strategies and an independent fail-fast UTF-8 reference.

Nothing here imports the codec under test, so the tests never check wsfast
against itself.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wsfast.exceptions import ProtocolError

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
DEFAULT_KEY = bytes.fromhex("37fa213d")


def build(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = None,
    length: int | None = None,
    length_form: int | None = None,
) -> bytes:
    """A frame written by hand from RFC 6455 §5.2, for tests.

    Args:
        rsv: the RSV bits as a number 0..7 (4 = RSV1), as in Autobahn section 3.
        key: a masking key, or None for an unmasked frame.
        length: the length to declare (defaults to the payload's).
        length_form: force 7, 16 or 64-bit length encoding (non-minimal on purpose).
    """
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if key is not None else 0
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        header = bytes([first, mask_bit | n])
    elif form == 16:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if key is None:
        return header + payload
    return header + key + mask_bytes(payload, key)


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def event_tuple(event: Any) -> tuple[Any, ...]:
    """An event of either backend as a plain tuple (public attributes only)."""
    name = type(event).__name__
    if name == "Frame":
        return ("frame", int(event.opcode), event.fin, event.rsv1, event.rsv2, event.rsv3,
                event.payload)
    if name == "Message":
        return ("message", int(event.opcode), event.data)
    if name == "Close":
        return ("close", event.code, event.reason)
    raise AssertionError(f"unexpected event {event!r}")


class Outcome:
    """Everything a decoder produced for one stream and one way of feeding it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.error: tuple[int, str] | None = None
        self.error_at: int | None = None  # stream offset of the last byte of the failing feed
        self.sticky: bool = True

    def key(self) -> tuple[Any, ...]:
        return (self.events, self.error)

    def __repr__(self) -> str:
        return f"Outcome(events={self.events!r}, error={self.error!r}, at={self.error_at})"


def run(decoder: Any, chunks: Iterable[bytes]) -> Outcome:
    """Feed ``chunks`` in order; collect events and the first error.

    Also checks the contract around errors: the failing feed's completed events
    are on the exception, and every later feed raises the same error with
    ``events == []``.
    """
    out = Outcome()
    offset = 0
    for chunk in chunks:
        offset += len(chunk)
        try:
            got = decoder.feed(chunk)
        except ProtocolError as exc:
            out.events += [event_tuple(e) for e in exc.events]
            out.error = (exc.code, exc.reason)
            out.error_at = offset - 1
            try:
                decoder.feed(b"\x00")
            except ProtocolError as again:
                out.sticky = (again.code, again.reason) == out.error and again.events == []
            else:
                out.sticky = False
            return out
        out.events += [event_tuple(e) for e in got]
    return out


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int, max_chunk: int = 40) -> list[bytes]:
    rng = random.Random(seed)
    chunks = []
    pos = 0
    while pos < len(data):
        n = rng.randint(0, max_chunk)  # empty feeds included on purpose
        chunks.append(data[pos : pos + n])
        pos += n
    return chunks


FEEDS: dict[str, Callable[[bytes], Sequence[bytes]]] = {
    "whole": whole,
    "bytewise": bytewise,
    "random": lambda data: random_splits(data, seed=len(data)),
}


# ---- Independent UTF-8 reference (Unicode 15, Table 3-7) ------------------------

# (first-byte range, second-byte range, number of further continuation bytes)
_WELL_FORMED = [
    ((0x00, 0x7F), None, 0),
    ((0xC2, 0xDF), (0x80, 0xBF), 0),
    ((0xE0, 0xE0), (0xA0, 0xBF), 1),
    ((0xE1, 0xEC), (0x80, 0xBF), 1),
    ((0xED, 0xED), (0x80, 0x9F), 1),
    ((0xEE, 0xEF), (0x80, 0xBF), 1),
    ((0xF0, 0xF0), (0x90, 0xBF), 2),
    ((0xF1, 0xF3), (0x80, 0xBF), 2),
    ((0xF4, 0xF4), (0x80, 0x8F), 2),
]


def utf8_error_index(data: bytes) -> int | None:
    """Index of the first byte that makes ``data`` impossible to complete as
    UTF-8 (fail-fast), len(data) when it ends inside a code point, None when valid."""
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        for (lo, hi), second, more in _WELL_FORMED:
            if lo <= b <= hi:
                break
        else:
            return i
        if second is None:
            i += 1
            continue
        if i + 1 >= n:
            return n
        if not second[0] <= data[i + 1] <= second[1]:
            return i + 1
        for j in range(more):
            k = i + 2 + j
            if k >= n:
                return n
            if not 0x80 <= data[k] <= 0xBF:
                return k
        i += 2 + more
    return None


# ---- Independent frame parser and permessage-deflate peer -------------------------


def parse_frames(wire: bytes) -> list[tuple[bool, int, int, bytes, bool]]:
    """Split ``wire`` into frames by RFC 6455 §5.2, written apart from wsfast:
    ``(fin, rsv, opcode, payload unmasked, masked)`` each. The wire must end on
    a frame boundary."""
    frames = []
    pos = 0
    while pos < len(wire):
        b0, b1 = wire[pos], wire[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(wire[pos : pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(wire[pos : pos + 8], "big"), pos + 8
        key = None
        if b1 & 0x80:
            key, pos = wire[pos : pos + 4], pos + 4
        payload = wire[pos : pos + n]
        assert len(payload) == n, "truncated frame"
        pos += n
        frames.append((bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F,
                       payload if key is None else mask_bytes(payload, key), key is not None))
    return frames


class ZlibPeer:
    """One endpoint's permessage-deflate (RFC 7692) on plain zlib, independent
    of wsfast.deflate: messages are compressed with a sync flush and the
    trailing 00 00 ff ff removed (§7.2.1), inflated with it appended back
    (§7.2.2); no_context_takeover means a fresh (de)compressor per message."""

    def __init__(self, *, send_bits: int = 15, send_reset: bool = False,
                 receive_reset: bool = False, level: int = 6) -> None:
        import zlib

        self._zlib = zlib
        self.send_bits = max(send_bits, 9)  # zlib cannot deflate with 8 (RFC 7692 §7.1.2.1)
        self.send_reset, self.receive_reset, self.level = send_reset, receive_reset, level
        self._compressor = self._inflater = None

    def compress(self, data: bytes) -> bytes:
        zlib = self._zlib
        if self._compressor is None or self.send_reset:
            self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, -self.send_bits)
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def decompress(self, payload: bytes) -> bytes:
        if self._inflater is None or self.receive_reset:
            self._inflater = self._zlib.decompressobj(-15)
        return self._inflater.decompress(payload + b"\x00\x00\xff\xff")

    def send(self, opcode: int, data: bytes, *, fragment: int = 0, compress: bool = True,
             key: bytes | None = None) -> bytes:
        """A message as frames (``fragment`` payload bytes each, 0: one frame)."""
        payload = self.compress(data) if compress else data
        step = fragment or max(len(payload), 1)
        pieces = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        return b"".join(
            build(opcode if i == 0 else CONTINUATION, piece, fin=i == len(pieces) - 1,
                  rsv=4 if compress and i == 0 else 0, key=key)
            for i, piece in enumerate(pieces))

    def receive(self, wire: bytes) -> list[tuple[int, bytes]]:
        """Data and control messages in ``wire`` as ``(opcode, bytes)``, inflated."""
        out: list[tuple[int, bytes]] = []
        parts: list[bytes] = []
        opcode = compressed = None
        for fin, rsv, op, payload, _ in parse_frames(wire):
            if op >= 8:
                out.append((op, payload))
                continue
            if op != CONTINUATION:
                opcode, compressed, parts = op, bool(rsv & 4), []
            else:
                assert rsv == 0, "RSV on a continuation frame"
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                out.append((opcode, self.decompress(data) if compressed else data))
        return out
