"""Patches for aiohttp's WebSocket writer (and its pure-Python reader).

- ``websocket_mask(mask, data)`` masks a ``bytearray`` in place (returns
  None) in ``aiohttp._websocket.writer`` (every frame a client sends),
  ``aiohttp._websocket.helpers`` and ``aiohttp._websocket.reader_py`` (the
  reader used when aiohttp's extensions are not compiled, or with
  ``AIOHTTP_NO_EXTENSIONS``).
- ``set_zlib_backend``: when wsfast's deflate uses zlib-ng or ISA-L, aiohttp
  is switched to that module too; uninstall puts aiohttp's previous backend
  back.

Not patchable: the compiled reader (``aiohttp._websocket.reader_c``) binds
``_websocket_mask_cython`` at C level through ``cimport``, so receiving with
compiled aiohttp keeps aiohttp's own (already compiled) unmasking.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from .._backend import impl
from . import Patch

__all__ = ["patches", "websocket_mask"]

_mask_inplace = impl.mask_inplace

# wsfast.deflate.zlib_backend() -> the module aiohttp's set_zlib_backend() accepts.
_ZLIB_MODULES = {"zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib"}


def _websocket_mask(mask: Any, data: Any) -> None:
    """XOR the ``bytearray`` ``data`` in place with the 4-byte ``mask`` (aiohttp's order)."""
    _mask_inplace(data, mask)


def _keyfirst() -> Any:
    """The backend's key-first entry point, if it has one that returns None
    like aiohttp's: with aiohttp's argument order, aiohttp then calls the
    kernel with no Python frame in between (a wrapper costs more than the
    masking saves at 1 KiB)."""
    keyfirst = getattr(impl, "_mask_inplace_keyfirst", None)
    if keyfirst is None or keyfirst(b"\0\0\0\0", bytearray(1)) is not None:
        return _websocket_mask
    return keyfirst


websocket_mask: Any = _keyfirst()


def _faster_zlib() -> Any:
    """The zlib-compatible module wsfast's deflate runs on, if it is not plain zlib."""
    from ..deflate import zlib_backend

    name = _ZLIB_MODULES.get(zlib_backend())
    return None if name is None else importlib.import_module(name)


def patches() -> Iterator[Patch]:
    """What ``install("aiohttp")`` replaces."""
    from aiohttp import compression_utils
    from aiohttp._websocket import helpers, reader_py, writer

    yield (writer, "websocket_mask", websocket_mask)
    yield (helpers, "websocket_mask", websocket_mask)
    yield (reader_py, "websocket_mask", websocket_mask)
    zlib_module = _faster_zlib()
    if zlib_module is not None:
        # What set_zlib_backend() sets, recorded so uninstall restores it.
        yield (compression_utils.ZLibBackend, "_zlib_backend", zlib_module)
