"""Patches for websockets (the sans-I/O core and its asyncio/sync/trio layers).

- ``apply_mask`` in ``websockets.frames``, ``websockets.utils`` and
  ``websockets.speedups`` (so ``websockets.legacy.framing``, which binds the
  name when first imported, gets wsfast's too; an already imported legacy
  module is patched directly). Same signature and result type (``bytes``);
  like websockets' own, it also takes non-contiguous buffers.
- ``UTF8Decoder`` of the asyncio, sync and trio message assemblers: the
  fail-fast :class:`~wsfast._adapters.Utf8IncrementalDecoder`.
- ``Frame.parse``: waits until the whole frame is in the protocol's
  ``StreamReader`` buffer (as ``read_exact`` would: a large frame spans several
  reads), then parses it in one step instead of three ``read_exact`` round
  trips, unmasking the payload straight out of the buffer. Any header error,
  the end of the stream, a custom reader or a ``Frame`` subclass runs the
  original generator, so errors are exactly websockets' own. The header is
  read by wsfast's frame header parser.
- ``websockets.legacy.framing.Frame.read`` (uvicorn's ``--ws websockets``),
  when that module is imported before ``install()`` (uvicorn imports it
  before it imports the application): one coroutine that waits on the
  ``asyncio.StreamReader`` as ``readexactly`` does (same flow control, same
  ``IncompleteReadError``) and parses each frame straight from its buffer,
  unmasking the payload in the same pass, instead of four ``readexactly``
  calls and a copy. A header that is not complete yet, one wsfast's parser
  refuses, a frame above ``max_size``, an exception set on the stream, a
  custom reader or a ``Frame`` subclass is read by the original from that
  point, so errors are exactly websockets' own.
- ``websockets.legacy.protocol.WebSocketCommonProtocol.write_frame_sync``
  (every frame the legacy protocol sends), when that module is imported
  before ``install()``: a data frame (``bytes`` or ``bytearray``) with debug
  logging off and no extension is built in one step, as ``Frame.serialize``
  below, without the two intermediate frame objects; anything else goes
  through the original.
- ``Frame.serialize`` (every frame sent, also by ``websockets.legacy``, which
  uvicorn runs): the same checks and extensions, then header and payload
  written into one buffer by wsfast (masked in the same pass on a client)
  instead of through ``io.BytesIO``. The key still comes from
  ``secrets.token_bytes``. A payload that is not ``bytes`` or ``bytearray``
  goes through the original.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from .._adapters import Utf8IncrementalDecoder, parse_header
from .._backend import impl
from ..constants import NO_LIMIT
from . import Patch

__all__ = ["apply_mask", "patches"]

_mask = impl.mask


def apply_mask(data: Any, mask: Any) -> bytes:
    """websockets' ``apply_mask(data, mask) -> bytes`` on wsfast's kernel."""
    try:
        return _mask(data, mask)
    except ValueError:
        # websockets accepts non-contiguous buffers (wsfast refuses them):
        # mask a contiguous copy. A wrong key length raises again, as it should.
        data_view, mask_view = memoryview(data), memoryview(mask)
        if data_view.c_contiguous and mask_view.c_contiguous:
            raise
        return _mask(data_view.tobytes(), mask_view.tobytes())

_MESSAGE_MODULES = (
    "websockets.asyncio.messages",
    "websockets.sync.messages",
    "websockets.trio.messages",
)


def _header_limit(max_size: Any) -> int | None:
    """The largest payload wsfast's header parser may accept under websockets'
    ``max_size``; ``None`` when the original should judge it (every frame too
    big, or a limit that is not an ``int``)."""
    if max_size is None:
        return NO_LIMIT
    if type(max_size) is not int or max_size < 0:
        return None
    return max_size if max_size < NO_LIMIT else NO_LIMIT


# What _parse_buffered returns when the frame is not complete in the buffer yet.
_WAIT = object()


def _opcodes() -> tuple[Any, ...]:
    """websockets' ``Opcode`` members indexed by value (``None`` where reserved:
    wsfast's parser refuses those opcodes)."""
    from websockets import frames

    return tuple(frames.Opcode._value2member_map_.get(value) for value in range(16))


def _buffered_parser() -> Callable[[bytearray, bool, int | None], Any]:
    """``parse(buffer, masked, max_size)``: a whole frame from the start of
    ``buffer`` (consumed), ``_WAIT`` or ``None`` (see below)."""
    from websockets import frames

    frame_class = frames.Frame
    opcodes = _opcodes()

    def _parse_buffered(buffer: bytearray, masked: bool, max_size: int | None) -> Any:
        # RFC 6455 §5.2. A Frame when the complete, valid frame is buffered;
        # _WAIT when more bytes are needed; None when wsfast's parser refuses
        # the header (so the original reads it and raises, or accepts what
        # websockets accepts, such as a length not in its shortest form).
        # RSV bits are left to Frame.check(), after the extensions.
        limit = (max_size if type(max_size) is int and 0 <= max_size < NO_LIMIT
                 else _header_limit(max_size))  # the common case first
        if limit is None:
            return None
        status, first, length, _ = parse_header(buffer, masked, limit)
        if status <= 0:
            return _WAIT if status == 0 else None
        end = status + length
        if len(buffer) < end:
            return _WAIT
        if masked:
            with memoryview(buffer) as view:
                data: bytes | bytearray = _mask(view[status:end], view[status - 4 : status])
        else:
            data = buffer[status:end]
        del buffer[:end]
        return frame_class(
            opcodes[first & 0x0F],
            data,
            first & 0x80 != 0,
            first & 0x40 != 0,
            first & 0x20 != 0,
            first & 0x10 != 0,
        )

    return _parse_buffered


def _fast_parse(original: Callable[..., Generator[None, None, Any]]) -> Any:
    """A ``Frame.parse`` classmethod that parses a frame straight from the buffer."""
    from websockets import frames, streams

    frame_class = frames.Frame
    reader_class = streams.StreamReader
    _parse_buffered = _buffered_parser()

    def parse(
        cls: type,
        read_exact: Callable[[int], Generator[None, None, bytearray]],
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Sequence[Any] | None = None,
    ) -> Generator[None, None, Any]:
        reader: Any = getattr(read_exact, "__self__", None)
        if cls is frame_class and type(reader) is reader_class:
            # Wait, as read_exact would, until the whole frame is buffered
            # (a large frame spans several reads), then take it in one step:
            # no per-field read_exact and no copy of the payload before
            # unmasking. The buffer is left alone until then.
            while True:
                frame = _parse_buffered(reader.buffer, mask, max_size)
                if frame is not _WAIT:
                    break
                if reader.eof:
                    frame = None  # websockets' generator raises its EOFError
                    break
                yield
            if frame is not None:
                for extension in reversed(extensions or ()):
                    frame = extension.decode(frame, max_size=max_size)
                frame.check()
                return frame
        # Errors (and a custom reader or Frame subclass): websockets' own
        # generator reads the same bytes and raises exactly what it raises.
        return (
            yield from original(
                cls, read_exact, mask=mask, max_size=max_size, extensions=extensions
            )
        )

    return classmethod(parse)


def _fast_legacy_read(original: Callable[..., Any]) -> Any:
    """A ``websockets.legacy.framing.Frame.read`` classmethod: one coroutine
    that waits on the ``asyncio.StreamReader`` as ``readexactly`` does and
    takes each frame straight from its buffer."""
    import asyncio

    from websockets import frames
    from websockets.legacy import framing

    frame_class = framing.Frame
    new_frame_class = frames.Frame
    # Typed Any: the stream's private attributes are read as readexactly
    # reads them, which the type checker would refuse on a StreamReader.
    stream_class: Any = asyncio.StreamReader
    readexactly = stream_class.readexactly
    incomplete_read = asyncio.IncompleteReadError
    opcodes = _opcodes()
    tuple_new = tuple.__new__

    def resumed(stream: Any) -> Callable[[int], Any]:
        """``stream.readexactly`` whose first call finds its bytes buffered:
        the original continues where a ``readexactly(2)`` that has just
        waited would (no second look at the stream's exception)."""
        first = True

        async def reader(n: int) -> bytes:
            nonlocal first
            if first:
                first = False
                buffer = stream._buffer
                data = bytes(buffer[:n])
                del buffer[:n]
                stream._maybe_resume_transport()
                return data
            data = await stream.readexactly(n)
            return data  # type: ignore[no-any-return]

        return reader

    async def read(
        cls: type,
        reader: Callable[[int], Any],
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Sequence[Any] | None = None,
    ) -> Any:
        # The steps and the buffer are readexactly's (asyncio's private
        # _buffer, _eof, _exception, _wait_for_data, _maybe_resume_transport),
        # so flow control and errors are the original's; what is skipped is
        # one await, one copy and one parse per header field.
        stream: Any = getattr(reader, "__self__", None)
        if (cls is not frame_class or type(stream) is not stream_class
                or getattr(reader, "__func__", None) is not readexactly
                or stream._exception is not None):
            return await original(cls, reader, mask=mask, max_size=max_size,
                                  extensions=extensions)
        buffer: bytearray = stream._buffer
        waited = False
        while len(buffer) < 2:  # readexactly(2)
            if stream._eof:
                incomplete = bytes(buffer)
                buffer.clear()
                raise incomplete_read(incomplete, 2)
            await stream._wait_for_data("readexactly")
            waited = True
        limit = (max_size if type(max_size) is int and 0 <= max_size < NO_LIMIT
                 else _header_limit(max_size))  # the common case first
        if limit is None or (waited and stream._exception is not None):
            # (An exception set while waiting: the original raises it from
            # its next readexactly.)
            status = 0
        else:
            status, first, length, _ = parse_header(buffer, mask, limit)
        if status <= 0:
            # A header not complete yet or refused by wsfast's parser (the
            # original raises, or accepts what websockets accepts, such as
            # a length not in its shortest form), a frame above max_size
            # (refused before its payload is waited for): the original
            # reads it from here, nothing consumed yet.
            return await original(cls, resumed(stream), mask=mask, max_size=max_size,
                                  extensions=extensions)
        end = status + length
        if len(buffer) < end:
            # The payload spans several reads: the header is consumed now, as
            # the original's readexactly calls would, then readexactly(length).
            key = bytes(buffer[status - 4 : status]) if mask else None
            del buffer[:status]
            stream._maybe_resume_transport()
            while len(buffer) < length:
                if stream._eof:
                    incomplete = bytes(buffer)
                    buffer.clear()
                    raise incomplete_read(incomplete, length)
                await stream._wait_for_data("readexactly")
            with memoryview(buffer) as view:
                data = _mask(view[:length], key) if key is not None else bytes(view[:length])
            del buffer[:length]
        else:
            with memoryview(buffer) as view:
                data = (_mask(view[status:end], view[status - 4 : status]) if mask
                        else bytes(view[status:end]))
            del buffer[:end]
        stream._maybe_resume_transport()
        fin = first & 0x80 != 0
        if extensions or first & 0x70:
            frame = new_frame_class(opcodes[first & 0x0F], data, fin, first & 0x40 != 0,
                                    first & 0x20 != 0, first & 0x10 != 0)
            for extension in reversed(extensions or ()):
                frame = extension.decode(frame, max_size=max_size)
            frame.check()
            return tuple_new(cls, (frame.fin, frame.opcode, frame.data, frame.rsv1,
                                   frame.rsv2, frame.rsv3))
        # No RSV bit and no extension: Frame.check() has nothing left to
        # refuse (the parser refused oversized or fragmented control frames).
        # tuple.__new__ is what the NamedTuple's __new__ calls.
        return tuple_new(cls, (fin, opcodes[first & 0x0F], data, False, False, False))

    return classmethod(read)


def _fast_serialize(original: Callable[..., bytes]) -> Callable[..., bytes]:
    """A ``Frame.serialize`` that builds the frame in one buffer."""
    build = impl._frame_build

    def serialize(self: Any, *, mask: bool, extensions: Sequence[Any] | None = None) -> bytes:
        if type(self.data) not in (bytes, bytearray):
            return original(self, mask=mask, extensions=extensions)
        self.check()
        for extension in extensions or ():
            self = extension.encode(self)
        first = (
            (0x80 if self.fin else 0)
            | (0x40 if self.rsv1 else 0)
            | (0x20 if self.rsv2 else 0)
            | (0x10 if self.rsv3 else 0)
            | self.opcode
        )
        frame: bytes = build(first, self.data, secrets.token_bytes(4) if mask else None)
        return frame

    return serialize


def _fast_write_frame_sync(original: Callable[..., None]) -> Callable[..., None]:
    """A ``websockets.legacy.protocol.WebSocketCommonProtocol.write_frame_sync``
    that builds a data frame in one step."""
    from websockets.frames import Opcode

    build = impl._frame_build
    data_firsts = {Opcode.CONT: 0x00, Opcode.TEXT: 0x01, Opcode.BINARY: 0x02}

    def write_frame_sync(self: Any, fin: bool, opcode: int, data: Any) -> None:
        # A data frame, no debug logging, no extension: the bytes that
        # Frame.write would write (Frame.check() has nothing to refuse), built
        # in one step. Anything else is the original's.
        first = data_firsts.get(opcode) if type(opcode) is Opcode else None
        if (first is None or self.debug or self.extensions
                or (type(data) is not bytes and type(data) is not bytearray)):
            return original(self, fin, opcode, data)
        write = self.transport.write
        write(build(first | 0x80 if fin else first, data,
                    secrets.token_bytes(4) if self.is_client else None))
        return None

    return write_frame_sync


def patches() -> Iterator[Patch]:
    """What ``install("websockets")`` replaces."""
    from websockets import frames, utils

    yield (frames, "apply_mask", apply_mask)
    yield (utils, "apply_mask", apply_mask)
    try:
        from websockets import speedups
    except ImportError:
        pass
    else:
        yield (speedups, "apply_mask", apply_mask)
    legacy = sys.modules.get("websockets.legacy.framing")
    if legacy is not None:
        yield (legacy, "apply_mask", apply_mask)
        read = vars(legacy.Frame)["read"].__func__
        yield (legacy.Frame, "read", _fast_legacy_read(read))
    protocol = sys.modules.get("websockets.legacy.protocol")
    if protocol is not None:
        common = protocol.WebSocketCommonProtocol
        write_frame_sync = vars(common)["write_frame_sync"]
        yield (common, "write_frame_sync", _fast_write_frame_sync(write_frame_sync))
    for name in _MESSAGE_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # websockets.trio needs trio
            continue
        yield (module, "UTF8Decoder", Utf8IncrementalDecoder)
    yield (frames.Frame, "parse", _fast_parse(vars(frames.Frame)["parse"].__func__))
    yield (frames.Frame, "serialize", _fast_serialize(vars(frames.Frame)["serialize"]))


def after_uninstall() -> None:
    """Restore ``apply_mask`` in a legacy framing module imported while installed."""
    legacy = sys.modules.get("websockets.legacy.framing")
    if legacy is not None and legacy.apply_mask is apply_mask:
        from websockets import frames

        legacy.apply_mask = frames.apply_mask  # type: ignore[attr-defined]
