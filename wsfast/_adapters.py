"""Adapters from wsfast's primitives to the shapes other libraries expect.

Each library names its masker and UTF-8 helpers differently but wants one of
a few shapes; they are written once here and named per library in
``wsfast/integrations/<library>.py`` and :mod:`wsfast.compat.wsaccel`.
:func:`parse_header` gives the integrations and ``wsfast decode`` the
backend's frame header parser on any buffer.
"""

from __future__ import annotations

import codecs
from typing import Any

from ._backend import impl
from .constants import MAX_FRAME_HEADER, NO_LIMIT

__all__ = [
    "NullMasker",
    "PointerMasker",
    "PointerUtf8Validator",
    "Utf8IncrementalDecoder",
    "getincrementaldecoder",
    "parse_header",
]

_utf_8_decode = codecs.utf_8_decode
_frame_parse = impl._frame_parse


def parse_header(
    data: Any, masked: bool, max_length: int = NO_LIMIT, allowed_rsv: int = 0b111, pos: int = 0
) -> tuple[int, int, int, int]:
    """The frame header at ``data[pos:]``, read by the backend's parser (RFC 6455 §5.2).

    Args:
        data: ``bytes`` or ``bytearray``, or another buffer (its header
            bytes are copied).
        masked: whether the frame must be masked.
        max_length: the largest payload allowed (default: no limit).
        allowed_rsv: the RSV bits allowed, RSV1 as ``0b100`` (default: all).
        pos: where the header starts.

    Returns:
        ``(status, first, length, key)``: ``status`` is the header size (key
        included), 0 when more bytes are needed, or a negative
        ``constants.FRAME_E_*`` code; ``first`` is the first byte; ``key`` is
        the masking key as an integer, key byte i in bits 8i..8i+7 (0 when
        unmasked).
    """
    if type(data) is not bytes and type(data) is not bytearray:
        data = bytes(data[pos : pos + MAX_FRAME_HEADER])
        pos = 0
    result: tuple[int, int, int, int] = _frame_parse(
        data, pos, pos + MAX_FRAME_HEADER, allowed_rsv, masked, max_length
    )
    return result


class PointerMasker:
    """The autobahn / wsaccel masker: ``process(data) -> bytes`` continues the
    key phase, and ``pointer()`` counts the bytes processed since ``reset()``.

    Args:
        mask: the 4-byte masking key (RFC 6455 §5.3).

    Raises:
        ValueError: ``mask`` is not 4 bytes long.
        TypeError: ``mask`` is not a buffer.
    """

    __slots__ = ("_masker", "_ptr")

    def __init__(self, mask: Any, length: int | None = None) -> None:
        self._masker = impl.Masker(mask)
        self._ptr = 0

    def pointer(self) -> int:
        """Bytes processed since the last ``reset()``."""
        return self._ptr

    def reset(self) -> None:
        """Start again at the first key byte."""
        self._ptr = 0
        self._masker.reset()

    def process(self, data: Any) -> bytes:
        """Mask (or unmask) the next piece of the payload."""
        result: bytes = self._masker.process(data)
        self._ptr += len(result)
        return result


class NullMasker:
    """A masker for unmasked frames: returns ``data`` itself and counts it."""

    __slots__ = ("_ptr",)

    def __init__(self, mask: Any = None) -> None:
        self._ptr = 0

    def pointer(self) -> int:
        """Bytes processed since the last ``reset()``."""
        return self._ptr

    def reset(self) -> None:
        """Start counting again."""
        self._ptr = 0

    def process(self, data: Any) -> Any:
        """Return ``data`` unchanged."""
        self._ptr += len(data)
        return data


def create_xor_masker(mask: Any, length: int | None = None) -> PointerMasker:
    """A :class:`PointerMasker` for ``mask``; ``length`` (a size hint) is ignored:
    the wsfast kernels need no per-size variant."""
    return PointerMasker(mask)


class PointerUtf8Validator:
    """The autobahn / wsaccel incremental validator.

    ``validate(chunk)`` returns ``(valid, ends_on_code_point, index_in_chunk,
    total_index)``. A failure is sticky: every later chunk is invalid too (an
    empty chunk reports ``(True, False, 0, total)``, as autobahn's pure-Python
    validator and wsaccel do).
    """

    __slots__ = ("_validator",)

    UTF8_ACCEPT = 0
    UTF8_REJECT = 1

    def __init__(self) -> None:
        self._validator = impl.Utf8Validator()

    def reset(self) -> None:
        """Start a new message."""
        self._validator.reset()

    def validate(self, data: Any) -> tuple[bool, bool, int, int]:
        """Validate the next chunk of a message (fail-fast, RFC 3629)."""
        result: tuple[bool, bool, int, int] = self._validator.validate(data)
        return result


class Utf8IncrementalDecoder(codecs.IncrementalDecoder):
    """``codecs``' incremental UTF-8 decoder, failing at the first impossible byte.

    The text and every error message are CPython's own (the decoding is
    ``codecs.utf_8_decode``). The one difference: CPython waits on a chunk
    that ends in ``ED A0``..``ED BF`` (the start of a UTF-16 surrogate, never
    valid UTF-8) until more bytes come; this decoder raises at once, which is
    what RFC 6455 §8.1 asks of an endpoint ("fail the connection as soon as").
    wsfast's validator decides whether an unfinished tail can still become
    valid.
    """

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self._pending = b""

    def decode(self, input: Any, final: bool = False) -> str:
        """Decode the next chunk; keep an unfinished code point for the next call."""
        data = self._pending + input if self._pending else input
        text, consumed = _utf_8_decode(data, self.errors, final)
        if consumed == len(data):
            self._pending = b""
            return text
        tail = bytes(data[consumed:])
        if self.errors == "strict" and not impl.Utf8Validator().feed(tail):
            # Let CPython word the error: decoding the chunk as final raises
            # what a later call would have raised.
            _utf_8_decode(data, "strict", True)
            raise UnicodeDecodeError("utf-8", tail, 0, len(tail), "invalid continuation byte")
        self._pending = tail
        return text

    def reset(self) -> None:
        """Forget any unfinished code point."""
        self._pending = b""

    def getstate(self) -> tuple[bytes, int]:
        """``(pending bytes, 0)``, like ``codecs.BufferedIncrementalDecoder``."""
        return (self._pending, 0)

    def setstate(self, state: tuple[bytes, int]) -> None:
        """Restore a state from :meth:`getstate`."""
        self._pending = state[0]


def getincrementaldecoder(encoding: str) -> Any:
    """``codecs.getincrementaldecoder`` with wsfast's decoder for UTF-8."""
    if codecs.lookup(encoding).name == "utf-8":
        return Utf8IncrementalDecoder
    return codecs.getincrementaldecoder(encoding)
