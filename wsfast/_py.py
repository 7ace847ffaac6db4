"""Pure-Python backend: the readable twin of every primitive in ``_c``.

Runs wherever there is no compiler, and is the reference the compiled
kernels are tested against. Each primitive uses the fastest technique pure
Python offers (whole-buffer big-integer XOR for masking) rather than a loop
over bytes.
"""

from __future__ import annotations

import operator

from ._buffers import byte_view, key_bytes

__all__ = [
    "KERNEL_NAMES",
    "Masker",
    "mask",
    "mask_inplace",
]

# features() reports these when the Python backend runs.
KERNEL_NAMES = {"mask": "python", "utf8": "python"}


# ---- Masking (RFC 6455 §5.3) -------------------------------------------------


def _xor(data: memoryview, key: bytes) -> bytes:
    """XOR ``data`` with ``key`` repeated, as one big-integer operation.

    CPython converts between bytes and integers in C, so three linear passes
    beat any per-byte loop in Python by two orders of magnitude.
    """
    length = len(data)
    if length == 0:
        return b""
    repeated = key * (length // 4 + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(repeated[:length], "little")
    return value.to_bytes(length, "little")


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
    return _xor(byte_view(data, "data"), masking_key)


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
    view = byte_view(buffer, "buffer", writable=True)
    view[:] = _xor(view, _rotate(masking_key, phase))
    return (phase + len(view)) % 4


class Masker:
    """Masks a payload that arrives in pieces, continuing the key phase.

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
        view = byte_view(data, "data")
        result = _xor(view, self._keys[self._offset])
        self._offset = (self._offset + len(view)) % 4
        return result

    def reset(self) -> None:
        """Start again from key phase 0."""
        self._offset = 0


# ---- UTF-8 validation (RFC 3629) ----------------------------------------------
# (utf8 section)
