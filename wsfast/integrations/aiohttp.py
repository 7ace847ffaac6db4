"""Patches for aiohttp's WebSocket reader and writer.

- ``websocket_mask(mask, data)`` masks a ``bytearray`` in place (returns
  None) in ``aiohttp._websocket.writer`` (every frame a client sends),
  ``aiohttp._websocket.helpers`` and ``aiohttp._websocket.reader_py`` (the
  reader used when aiohttp's extensions are not compiled, or with
  ``AIOHTTP_NO_EXTENSIONS``).
- ``WebSocketWriter._write_websocket_frame`` (every frame sent): an unmasked
  frame is built by wsfast in one call; a masking writer keeps aiohttp's.
- ``set_zlib_backend``: when zlib-ng is installed, aiohttp is switched to it;
  uninstall puts aiohttp's previous backend back.
- ``WebSocketReader`` as ``aiohttp.web_ws`` and ``aiohttp.client`` name it
  (the receive path of every server and client connection):
  :class:`WebSocketReader`, the same interface (compiled with the compiled
  backend: ``wsfast._aiohttp_c``, built from ``wsfast/_aiohttp_py.py`` as the
  codec is from its source), which takes complete,
  unfragmented text, binary, ping and pong frames itself, unmasking with
  wsfast's kernel in one pass (aiohttp's reader copies the payload into a
  ``bytearray``, unmasks it there and copies it again into ``bytes``). The
  first frame it does not take (a fragment, a close frame, RSV bits, an
  oversized or invalid frame, invalid UTF-8, a full queue, or a connection
  with permessage-deflate) hands that frame and the rest of the connection
  to aiohttp's own reader, so errors, limits and flow control are aiohttp's.
  ``aiohttp._websocket.reader.WebSocketReader`` itself is left alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .._backend import BACKEND, impl
from .._env import env_flag
from . import Patch

__all__ = ["WebSocketReader", "patches", "websocket_mask"]

# ``mask_inplace`` in aiohttp's argument order, returning None as aiohttp's
# does: aiohttp calls the kernel with no Python frame in between (a wrapper
# costs more than the masking saves at 1 KiB).
websocket_mask: Any = impl._mask_inplace_keyfirst


def _faster_zlib() -> Any:
    """zlib-ng's zlib-compatible module, when installed. Not ISA-L's, even where
    wsfast's deflate compresses with it: aiohttp compresses at
    ``Z_BEST_SPEED``, which ISA-L maps to its level 0, whose output for a
    4-byte message is over 100 bytes."""
    try:
        return importlib.import_module("zlib_ng.zlib_ng")
    except ImportError:
        return None


def _hot_path() -> ModuleType:
    """The reader and frame writer: wsfast._aiohttp_c (the same source
    compiled) with the compiled backend, else wsfast._aiohttp_py."""
    if BACKEND == "c":
        try:
            return importlib.import_module("wsfast._aiohttp_c")
        except ImportError:
            if env_flag("WSFAST_REQUIRE_EXTENSIONS"):
                raise
    return importlib.import_module("wsfast._aiohttp_py")


# What patches() installs (tests set it to either module).
hot_path: ModuleType = _hot_path()
WebSocketReader: Any = hot_path.WebSocketReader
# aiohttp's own WebSocketWriter._write_websocket_frame, once seen.
_aiohttp_write_frame: Any = None


def _bind(hot: ModuleType) -> None:
    global _aiohttp_write_frame
    from aiohttp._websocket import helpers, models, reader, writer
    from aiohttp.client_exceptions import ClientConnectionResetError

    original = writer.WebSocketWriter.__dict__["_write_websocket_frame"]
    if not getattr(original, "__module__", "").startswith("wsfast."):  # not while installed
        _aiohttp_write_frame = original
    hot.bind(reader.WebSocketReader, models, _aiohttp_write_frame, ClientConnectionResetError,
             helpers.MSG_SIZE)


def patches() -> Iterator[Patch]:
    """What ``install("aiohttp")`` replaces."""
    from aiohttp import client, compression_utils, web_ws
    from aiohttp._websocket import helpers, reader_py, writer

    hot = hot_path
    _bind(hot)
    yield (web_ws, "WebSocketReader", hot.WebSocketReader)
    yield (client, "WebSocketReader", hot.WebSocketReader)
    yield (writer.WebSocketWriter, "_write_websocket_frame", hot.write_websocket_frame)

    yield (writer, "websocket_mask", websocket_mask)
    yield (helpers, "websocket_mask", websocket_mask)
    yield (reader_py, "websocket_mask", websocket_mask)
    zlib_module = _faster_zlib()
    if zlib_module is not None:
        # What set_zlib_backend() sets, recorded so uninstall restores it.
        yield (compression_utils.ZLibBackend, "_zlib_backend", zlib_module)
