"""Patches for tornado's WebSocket masking.

``tornado.websocket._websocket_mask(mask, data) -> bytes`` (and the name in
``tornado.util``, where it is defined, so code that imports it from there
later gets wsfast's too). The argument order is tornado's: mask first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._backend import impl
from . import Patch

__all__ = ["patches", "websocket_mask"]

_mask = impl.mask


def websocket_mask(mask: Any, data: Any) -> bytes:
    """Return ``data`` XORed with the 4-byte ``mask`` (tornado's argument order)."""
    return _mask(data, mask)


def patches() -> Iterator[Patch]:
    """What ``install("tornado")`` replaces."""
    from tornado import util, websocket

    yield (util, "_websocket_mask", websocket_mask)
    yield (websocket, "_websocket_mask", websocket_mask)
