"""Buffer argument checks shared by both backends.

The compiled backend takes its fast path through the buffer protocol and
calls :func:`buffer_error` only once that has failed, so both backends raise
the same exception with the same message for every bad argument.
"""

from __future__ import annotations

__all__ = ["buffer_error", "byte_view", "key_bytes", "key_length_error"]


def buffer_error(obj: object, name: str, writable: bool = False) -> Exception:
    """The exception for an argument that is not a usable buffer."""
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        return TypeError(f"{name} must be a bytes-like object, not {type(obj).__name__}")
    if not view.c_contiguous:
        return ValueError(f"{name} must be a C-contiguous buffer")
    if writable and view.readonly:
        return TypeError(f"{name} must be a writable buffer, not a read-only {type(obj).__name__}")
    return ValueError(f"{name} cannot be used as a buffer")


def byte_view(obj: object, name: str, writable: bool = False) -> memoryview:
    """A flat, C-contiguous, unsigned-byte view of ``obj``.

    Raises:
        TypeError: not a buffer, or read-only when ``writable``.
        ValueError: not C-contiguous.
    """
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise buffer_error(obj, name, writable) from None
    if not view.c_contiguous or (writable and view.readonly):
        raise buffer_error(obj, name, writable)
    if view.ndim != 1 or view.format != "B":
        if not view.nbytes:
            # memoryview cannot cast a shape with a zero in it; the buffer
            # is still a valid, empty one (the compiled backend takes it).
            return memoryview(bytearray() if writable else b"")
        view = view.cast("B")
    return view


def key_bytes(key: object) -> bytes:
    """A masking key as 4 bytes (RFC 6455 §5.3).

    Raises:
        TypeError: not a buffer.
        ValueError: not exactly 4 bytes long.
    """
    if type(key) is bytes and len(key) == 4:
        return key
    view = byte_view(key, "key")
    if view.nbytes != 4:
        raise key_length_error(view.nbytes)
    return view.tobytes()


def key_length_error(length: int) -> ValueError:
    """The exception for a key of the wrong length (shared wording)."""
    return ValueError(f"key must be 4 bytes long, not {length}")
