"""Opening-handshake helper (RFC 6455 §4.2.2)."""

from __future__ import annotations

import base64
import binascii
import hashlib

from .constants import WEBSOCKET_GUID

__all__ = ["accept_key"]

# RFC 6455 §4.1: the key is the base64 of a 16-byte nonce, so 24 characters
# ending in "==".
_KEY_LENGTH = 24
_NONCE_LENGTH = 16


def accept_key(sec_websocket_key: str) -> str:
    """Compute the ``Sec-WebSocket-Accept`` value for a client's key.

    The value is base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2, step 5.4).

    Args:
        sec_websocket_key: the ``Sec-WebSocket-Key`` header value, already
            stripped of surrounding whitespace by the HTTP parser.

    Returns:
        The ``Sec-WebSocket-Accept`` header value (28 ASCII characters).

    Raises:
        TypeError: the key is not a ``str``.
        ValueError: the key is not the canonical base64 encoding of 16 bytes
            (RFC 6455 §4.1 requires a server to reject such a handshake).
    """
    if not isinstance(sec_websocket_key, str):
        raise TypeError(f"sec_websocket_key must be str, not {type(sec_websocket_key).__name__}")
    if len(sec_websocket_key) != _KEY_LENGTH or not sec_websocket_key.isascii():
        raise ValueError("Sec-WebSocket-Key must be the base64 encoding of 16 bytes")
    try:
        nonce = base64.b64decode(sec_websocket_key, validate=True)
    except binascii.Error:
        raise ValueError("Sec-WebSocket-Key must be the base64 encoding of 16 bytes") from None
    # Re-encoding rejects non-zero padding bits ("...AB==" decodes like "...AA=="),
    # so exactly one spelling of each nonce is accepted.
    if len(nonce) != _NONCE_LENGTH or base64.b64encode(nonce).decode() != sec_websocket_key:
        raise ValueError("Sec-WebSocket-Key must be the base64 encoding of 16 bytes")
    # SHA-1 here is a fixed protocol transform, not a security primitive, so
    # it must keep working on FIPS-restricted builds.
    data = (sec_websocket_key + WEBSOCKET_GUID).encode("ascii")
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")
