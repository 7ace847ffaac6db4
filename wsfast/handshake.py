"""Opening-handshake helpers: the accept key (RFC 6455 §4.2.2), the extension header (§9.1)."""

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


# Sec-WebSocket-Extensions (RFC 6455 §9.1): the generic syntax; each
# extension checks its own parameters.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"

_Params = list[tuple[str, "str | None"]]


def _parse_extensions(header: str) -> list[tuple[str, _Params]]:
    """Parse a ``Sec-WebSocket-Extensions`` value into (name, params) pairs.

    Grammar (RFC 6455 §9.1, with RFC 7230 #list rules): a comma-separated
    list, empty elements allowed, of ``token *( ";" token [ "=" value ] )``,
    where a value is a token or a quoted string that unescapes to a token.

    Raises:
        ValueError: the value does not follow this grammar.
    """
    if not isinstance(header, str):
        raise TypeError(f"header must be str, not {type(header).__name__}")
    end = len(header)
    position = 0

    def skip_ows() -> None:
        nonlocal position
        while position < end and header[position] in _OWS:
            position += 1

    def token() -> str:
        nonlocal position
        start = position
        while position < end and header[position] in _TCHAR:
            position += 1
        if position == start:
            raise ValueError(f"expected a token at offset {start} of {header!r}")
        return header[start:position]

    def quoted() -> str:
        nonlocal position
        position += 1  # the opening quote
        chars: list[str] = []
        while position < end:
            char = header[position]
            position += 1
            if char == '"':
                value = "".join(chars)
                # RFC 6455 §9.1: after unescaping, the value must be a token.
                if not value or not all(c in _TCHAR for c in value):
                    raise ValueError(f"quoted value {value!r} is not a token")
                return value
            if char == "\\":
                if position == end:
                    break
                char = header[position]
                position += 1
            chars.append(char)
        raise ValueError(f"unterminated quoted string in {header!r}")

    extensions: list[tuple[str, _Params]] = []
    while True:
        # Skip empty list elements (", ,").
        skip_ows()
        while position < end and header[position] == ",":
            position += 1
            skip_ows()
        if position == end:
            return extensions
        name = token()
        params: _Params = []
        skip_ows()
        while position < end and header[position] == ";":
            position += 1
            skip_ows()
            key = token()
            skip_ows()
            value: str | None = None
            if position < end and header[position] == "=":
                position += 1
                skip_ows()
                value = quoted() if position < end and header[position] == '"' else token()
                skip_ows()
            params.append((key, value))
        extensions.append((name, params))
        if position < end and header[position] != ",":
            raise ValueError(f"unexpected {header[position]!r} at offset {position} of {header!r}")
