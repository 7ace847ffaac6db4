"""Exceptions raised by wsfast."""

from __future__ import annotations

from typing import Any

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The peer broke RFC 6455 / RFC 7692; the connection must be closed.

    Attributes:
        code: the close code this endpoint should send (1002, 1007 or 1009).
        reason: a short reason that fits in a close frame (<= 123 UTF-8 bytes).
        events: what the failing ``feed()`` call completed before the error,
            in order (frames for ``FrameDecoder``, messages for ``Decoder``).
    """

    def __init__(self, code: int, reason: str, events: list[Any] | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.events: list[Any] = [] if events is None else events

    def __str__(self) -> str:
        return f"{self.reason} (close code {self.code})"

    def __repr__(self) -> str:
        return f"ProtocolError({self.code}, {self.reason!r})"
