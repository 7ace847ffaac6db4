"""accept_key (RFC 6455 §4.2.2)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from wsfast.constants import WEBSOCKET_GUID
from wsfast.handshake import accept_key


def test_rfc6455_section_1_3_example() -> None:
    # RFC 6455 §1.3: the worked example of the opening handshake.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("nonce", [bytes(16), b"\xff" * 16, bytes(range(16))])
def test_matches_definition(nonce: bytes) -> None:
    key = base64.b64encode(nonce).decode()
    expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
    assert accept_key(key) == expected
    assert len(accept_key(key)) == 28


@pytest.mark.parametrize(
    "key",
    [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
        "dGhlIHNhbXBsZSBub25jZQ=",  # padding short
        "dGhlIHNhbXBsZSBub25jZQ===",  # too long
        " dGhlIHNhbXBsZSBub25jZQ==",  # whitespace is the HTTP parser's to strip
        "dGhlIHNhbXBsZSBub25jZQ== ",
        "dGhlIHNhbXBsZSBub25jZR==",  # non-zero padding bits: not canonical
        "dGhlIHNhbXBsZSBub25j!Q==",  # not in the alphabet
        "dGhlIHNhbXBsZSBub25jZ\u00e9==",  # not ASCII
        "dGhlIHNhbXBsZSBub25jZSBzYW1wbGU=",  # 23 bytes
        "AAAAAAAAAAAAAAAAAAAAAAAA",  # 18 bytes, 24 characters
        "dGhlIHNhbXBsZSBub25j\nQ==",
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(ValueError):
        accept_key(key)


@pytest.mark.parametrize("key", [b"dGhlIHNhbXBsZSBub25jZQ==", None, 16])
def test_not_a_string(key: object) -> None:
    with pytest.raises(TypeError):
        accept_key(key)  # type: ignore[arg-type]
