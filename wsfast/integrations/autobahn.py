"""Patches for autobahn's WebSocket protocol (``autobahn.websocket.protocol``).

- ``create_xor_masker`` and ``XorMaskerNull``: the maskers that unmask every
  received frame and mask every sent one (``process``, ``pointer``, ``reset``).
- ``Utf8Validator``: the incremental validator of text messages and close
  reasons; ``validate(chunk)`` keeps autobahn's quad result. A failure is
  sticky, as in autobahn's pure-Python validator.

Only the names bound in ``autobahn.websocket.protocol`` are replaced (that is
where the protocol looks them up); ``autobahn.websocket.xormasker`` and
``utf8validator`` keep autobahn's own classes for code that imports them
directly.
"""

from __future__ import annotations

from collections.abc import Iterator

from .._adapters import NullMasker, PointerUtf8Validator, create_xor_masker
from . import Patch

__all__ = ["patches"]


def patches() -> Iterator[Patch]:
    """What ``install("autobahn")`` replaces."""
    from autobahn.websocket import protocol

    yield (protocol, "create_xor_masker", create_xor_masker)
    yield (protocol, "XorMaskerNull", NullMasker)
    yield (protocol, "Utf8Validator", PointerUtf8Validator)
