"""accept_key (RFC 6455 §4.2.2) and the Sec-WebSocket-Extensions parser (§9.1)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from wsfast.constants import WEBSOCKET_GUID
from wsfast.handshake import _parse_extensions, accept_key


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


@pytest.mark.parametrize(
    "header, parsed",
    [
        ("", []),
        (" , ,", []),  # empty list elements (RFC 7230 #list)
        ("foo", [("foo", [])]),
        ('foo; a; b=1, bar ;c="x"', [("foo", [("a", None), ("b", "1")]), ("bar", [("c", "x")])]),
        ('foo; a="\\x"', [("foo", [("a", "x")])]),  # a quoted-pair unescapes
        ("foo ;\tb = 2 ", [("foo", [("b", "2")])]),
    ],
)
def test_parse_extensions(header: str, parsed: list[Any]) -> None:
    assert _parse_extensions(header) == parsed


@pytest.mark.parametrize(
    "header",
    [
        "foo;",
        "foo bar",
        "foo; =1",
        "=",
        "foo;a=1;",
        'foo; a="x',  # unterminated
        'foo; a="x\\',
        'foo; a=""',  # a quoted value must unescape to a token
        'foo; a="x y"',
        "f\u00e9e",
    ],
)
def test_parse_extensions_rejects(header: str) -> None:
    with pytest.raises(ValueError):
        _parse_extensions(header)


def test_parse_extensions_needs_a_string() -> None:
    with pytest.raises(TypeError):
        _parse_extensions(b"foo")  # type: ignore[arg-type]
