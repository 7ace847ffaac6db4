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
  before it imports the application): on the server side, a frame that is
  already complete in the ``asyncio.StreamReader`` buffer is parsed and
  unmasked in one step, as ``Frame.parse`` above, instead of four
  ``readexactly`` calls and a copy; otherwise, and on any error, the
  original runs.
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


# What _parse_buffered returns when the frame is not complete in the buffer yet.
_WAIT = object()


def _buffered_parser() -> Callable[[bytearray, bool, int | None], Any]:
    """``parse(buffer, masked, max_size)``: a whole frame from the start of
    ``buffer`` (consumed), ``_WAIT`` or ``None`` (see below)."""
    from websockets import frames

    frame_class = frames.Frame
    # Opcode members indexed by value (the parser refuses reserved opcodes).
    opcodes: tuple[Any, ...] = tuple(
        frames.Opcode._value2member_map_.get(value) for value in range(16)
    )

    def _parse_buffered(buffer: bytearray, masked: bool, max_size: int | None) -> Any:
        # RFC 6455 §5.2. A Frame when the complete, valid frame is buffered;
        # _WAIT when more bytes are needed; None when wsfast's parser refuses
        # the header (so the original reads it and raises, or accepts what
        # websockets accepts, such as a length not in its shortest form).
        # RSV bits are left to Frame.check(), after the extensions.
        if max_size is None or max_size > NO_LIMIT:
            max_size = NO_LIMIT
        elif max_size < 0:
            return None  # every frame is too big
        status, first, length, _ = parse_header(buffer, masked, max_size)
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


async def _raise(exc: Exception) -> Any:
    """An awaitable that raises ``exc`` when awaited (as a coroutine would)."""
    raise exc


def _fast_legacy_read(original: Callable[..., Any]) -> Any:
    """A ``websockets.legacy.framing.Frame.read`` classmethod that takes a frame
    already complete in the ``asyncio.StreamReader`` buffer in one step."""
    import asyncio

    from websockets.legacy import framing

    frame_class = framing.Frame
    readexactly = asyncio.StreamReader.readexactly
    parse_buffered = _buffered_parser()

    async def ready(frame: Any) -> Any:
        return frame

    def read(
        cls: type,
        reader: Callable[[int], Any],
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Sequence[Any] | None = None,
    ) -> Any:
        # Returns the awaitable that the caller awaits: a finished one for a
        # frame taken from the buffer, else the original coroutine itself
        # (no extra coroutine layer while it waits for data).
        stream: Any = getattr(reader, "__self__", None)
        # What readexactly would return at once, without waiting: take it
        # straight from the buffer (server side: the payload is unmasked in
        # the same pass). Anything else, and every error, is the original's.
        if (mask and cls is frame_class and getattr(reader, "__func__", None) is readexactly
                and type(stream) is asyncio.StreamReader):
            buffered: Any = stream  # asyncio's private buffer, as readexactly reads it
            frame = None if buffered._exception is not None else parse_buffered(
                buffered._buffer, True, max_size)
            if frame is not None and frame is not _WAIT:
                buffered._maybe_resume_transport()
                try:
                    for extension in reversed(extensions or ()):
                        frame = extension.decode(frame, max_size=max_size)
                    frame.check()
                except Exception as exc:
                    return _raise(exc)
                return ready(cls(frame.fin, frame.opcode, frame.data, frame.rsv1, frame.rsv2,
                                 frame.rsv3))
        return original(cls, reader, mask=mask, max_size=max_size, extensions=extensions)

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
