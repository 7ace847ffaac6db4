"""Bounded per-message compression and decompression (RFC 7692 §7.2).

One ``_Inflater`` and one ``_Deflater`` per direction of a connection, made by
``PerMessageDeflate`` for the codec's ``Decoder`` and ``Encoder``. Inflating
never produces more than the message-size budget allows.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from typing import Any

from ._py import _Payload
from ._zlib_backends import _TAIL, _CompressObj, _DecompressObj, _Zlib
from .constants import ERR_MESSAGE_TOO_BIG
from .exceptions import ProtocolError

# Inflating is done in steps bounded on both sides, so that no call allocates
# much more than the message-size budget: at most _OUT_STEP bytes of output
# per call (the zlib module assembles output blocks and then copies them, so a
# single call transiently holds twice its output), and at most _IN_STEP bytes
# of input (each call copies the unconsumed input into ``unconsumed_tail``).
_OUT_STEP = 256 * 1024
_IN_STEP = 64 * 1024

_INVALID_DATA = "invalid compressed data"


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
