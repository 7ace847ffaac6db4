"""permessage-deflate (RFC 7692): negotiation, and the codec's per-message streams.

Written once in Python for both backends. :class:`PerMessageDeflate` makes
and checks offers and responses; the codec then calls its ``_inflater`` and
``_deflater`` once per ``Decoder``/``Encoder``, which return the bounded
streams of ``_deflate_stream``. The zlib implementation each stream uses
(zlib-ng, ISA-L or zlib) is chosen in ``_zlib_backends``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ._checks import check_flag, check_int
from ._deflate_stream import _Deflater, _Inflater
from ._zlib_backends import AUTO, _get_zlib, _Zlib, zlib_backend, zlib_backends
from .handshake import _parse_extensions, _Params

__all__ = ["EXTENSION_NAME", "PerMessageDeflate", "zlib_backend", "zlib_backends"]

EXTENSION_NAME = "permessage-deflate"

_MIN_WINDOW_BITS = 8
_MAX_WINDOW_BITS = 15

_SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
_CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
_SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
_CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"
_PARAMETERS = frozenset(
    {
        _SERVER_NO_CONTEXT_TAKEOVER,
        _CLIENT_NO_CONTEXT_TAKEOVER,
        _SERVER_MAX_WINDOW_BITS,
        _CLIENT_MAX_WINDOW_BITS,
    }
)


def _window_bits_value(name: str, value: str | None) -> int:
    """RFC 7692 §7.1.2: a decimal integer 8..15 without leading zeros."""
    if value is None:
        raise ValueError(f"{name} needs a value")
    if not value.isdigit() or not value.isascii() or value[0] == "0":
        raise ValueError(f"{name}={value!r} is not a decimal integer without leading zeros")
    bits = int(value)
    if not _MIN_WINDOW_BITS <= bits <= _MAX_WINDOW_BITS:
        raise ValueError(f"{name}={bits} is outside {_MIN_WINDOW_BITS}..{_MAX_WINDOW_BITS}")
    return bits


def _read_params(params: _Params, *, offer: bool) -> dict[str, Any]:
    """Check one element's parameters (RFC 7692 §7.1) and return them by name.

    A no-context-takeover flag maps to True; a window size maps to its int,
    except ``client_max_window_bits`` without a value in an offer, which maps
    to True ("I support it, set any value", §7.1.2.2).

    Raises:
        ValueError: an unknown or repeated parameter, or an invalid value.
    """
    seen: dict[str, Any] = {}
    for name, value in params:
        if name not in _PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}")
        if name in seen:
            raise ValueError(f"duplicate parameter {name!r}")
        if name in (_SERVER_NO_CONTEXT_TAKEOVER, _CLIENT_NO_CONTEXT_TAKEOVER):
            if value is not None:
                raise ValueError(f"{name} takes no value")
            seen[name] = True
        elif name == _CLIENT_MAX_WINDOW_BITS and value is None and offer:
            seen[name] = True
        else:
            seen[name] = _window_bits_value(name, value)
    return seen


@dataclass(frozen=True, slots=True, kw_only=True)
class PerMessageDeflate:
    """The permessage-deflate extension (RFC 7692) of one connection.

    An instance is a configuration: a client builds one to make its
    :meth:`offer`; :meth:`accept` (server) and :meth:`from_response` (client)
    return the one both sides agreed on, which configures that connection's
    ``Decoder`` and ``Encoder`` (each uses the direction of its role: the
    server deflates with the ``server_*`` parameters and inflates with the
    ``client_*`` ones, the client the other way round).

    Args:
        server_no_context_takeover: the server starts each message with an
            empty sliding window (RFC 7692 §7.1.1.1).
        client_no_context_takeover: the same for the client (§7.1.1.2).
        server_max_window_bits: the base-2 logarithm (8..15) of the server's
            LZ77 window (§7.1.2.1).
        client_max_window_bits: the same for the client (§7.1.2.2).
        level: this endpoint's compression level, 0-9 or -1 for the default
            (zlib's levels; ISA-L maps them onto its 0-3).
        min_size: messages shorter than this are sent uncompressed (a small
            message gains nothing and costs a deflate call).
        zlib: the deflate implementation: "isal", "zlib-ng" or "zlib" (see
            :func:`zlib_backends`), or None for the fastest one installed
            for each operation. It only changes speed and the compressed
            bytes, never what the peer can read.

    Raises:
        TypeError: a parameter of the wrong type.
        ValueError: a parameter out of range, or ``zlib`` names an
            implementation that is unknown or not installed.

    A frozen dataclass: the arguments are its read-only fields, instances
    compare and hash by every field but ``zlib`` (which changes speed, not
    the agreement), and ``dataclasses.replace`` checks the copy again.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = _MAX_WINDOW_BITS
    client_max_window_bits: int = _MAX_WINDOW_BITS
    level: int = 6
    min_size: int = 0
    # The implementation's name as given; not part of the agreement, so not
    # compared (and left out of the repr, which shows the agreement).
    zlib: str | None = field(default=None, compare=False, repr=False)
    _impl: _Zlib = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_flag("server_no_context_takeover", self.server_no_context_takeover)
        check_flag("client_no_context_takeover", self.client_no_context_takeover)
        check_int("level", self.level, -1, 9)
        check_int("min_size", self.min_size, 0)
        for name in ("server_max_window_bits", "client_max_window_bits"):
            check_int(name, getattr(self, name), _MIN_WINDOW_BITS, _MAX_WINDOW_BITS)
        zlib = self.zlib
        if zlib is not None and not isinstance(zlib, str):
            raise TypeError(f"zlib must be a str or None, not {type(zlib).__name__}")
        impl = _get_zlib(zlib)
        # frozen: object.__setattr__ is how a dataclass sets its own fields
        object.__setattr__(self, "zlib", None if impl.name == AUTO else impl.name)
        object.__setattr__(self, "_impl", impl)

    # -- negotiation ---------------------------------------------------------

    def offer(self) -> str:
        """The client's ``Sec-WebSocket-Extensions`` value for this configuration.

        ``client_max_window_bits`` is always offered, without a value when it
        is 15, to tell the server it may limit our window (RFC 7692 §7.1.2.2).
        """
        parts = [EXTENSION_NAME]
        if self.server_no_context_takeover:
            parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
        if self.client_no_context_takeover:
            parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
        if self.server_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_SERVER_MAX_WINDOW_BITS}={self.server_max_window_bits}")
        if self.client_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={self.client_max_window_bits}")
        else:
            parts.append(_CLIENT_MAX_WINDOW_BITS)
        return "; ".join(parts)

    def _response(self, *, server_window_asked: bool) -> str:
        """The server's ``Sec-WebSocket-Extensions`` value for this agreement.

        An offered server_max_window_bits is always answered, even with 15
        (RFC 7692 §7.1.2.1); otherwise 15 goes without saying.
        """
        parts = [EXTENSION_NAME]
        if self.server_no_context_takeover:
            parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
        if self.client_no_context_takeover:
            parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
        if server_window_asked or self.server_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_SERVER_MAX_WINDOW_BITS}={self.server_max_window_bits}")
        if self.client_max_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={self.client_max_window_bits}")
        return "; ".join(parts)

    @classmethod
    def accept(cls, offer_header: str, **preferences: Any) -> tuple[str, PerMessageDeflate] | None:
        """Server side: choose the first acceptable offer (RFC 7692 §5, §7.1).

        Offers are the ``permessage-deflate`` elements of the header, in the
        client's order of preference; other extensions are ignored, and an
        offer with an unknown, repeated or invalid parameter is declined
        (§7.1). The server's ``preferences`` (the constructor's arguments)
        combine with each offer:

        * ``server_no_context_takeover``: agreed when offered or preferred.
        * ``client_no_context_takeover``: agreed when offered (the client's
          hint) or preferred (the server requires it, §7.1.1.2).
        * ``server_max_window_bits``: the smaller of the offered and the
          preferred value; always answered when offered (§7.1.2.1).
        * ``client_max_window_bits``: answered only when offered, with or
          without a value (§7.1.2.2), as the smaller of that value and the
          preference; a client that did not offer it keeps a 15-bit window.

        Args:
            offer_header: the request's ``Sec-WebSocket-Extensions`` value
                (several header lines joined with ", ").
            **preferences: keyword arguments of :class:`PerMessageDeflate`.

        Returns:
            ``(response_header_value, agreed_instance)``, or None when no
            offer is acceptable (or the header cannot be parsed): the server
            then answers without the extension.

        Raises:
            TypeError, ValueError: invalid ``preferences``.
        """
        server = cls(**preferences)
        try:
            extensions = _parse_extensions(offer_header)
        except ValueError:
            return None
        for name, params in extensions:
            if name != EXTENSION_NAME:
                continue
            try:
                offered = _read_params(params, offer=True)
            except ValueError:
                continue  # §7.1: decline this offer, try the next one
            server_bits = min(
                offered.get(_SERVER_MAX_WINDOW_BITS, _MAX_WINDOW_BITS),
                server.server_max_window_bits,
            )
            client_bits = _MAX_WINDOW_BITS
            client_offer = offered.get(_CLIENT_MAX_WINDOW_BITS)
            if client_offer is not None:
                limit = _MAX_WINDOW_BITS if client_offer is True else client_offer
                client_bits = min(limit, server.client_max_window_bits)
            agreed = replace(
                server,
                server_no_context_takeover=server.server_no_context_takeover
                or _SERVER_NO_CONTEXT_TAKEOVER in offered,
                client_no_context_takeover=server.client_no_context_takeover
                or _CLIENT_NO_CONTEXT_TAKEOVER in offered,
                server_max_window_bits=server_bits,
                client_max_window_bits=client_bits,
            )
            return agreed._response(server_window_asked=_SERVER_MAX_WINDOW_BITS in offered), agreed
        return None

    @classmethod
    def from_response(cls, response_header: str, offered: PerMessageDeflate) -> PerMessageDeflate:
        """Client side: check the server's answer against our offer (RFC 7692 §7.1).

        Args:
            response_header: the response's ``Sec-WebSocket-Extensions``
                value. Elements of other extensions are left to the caller;
                exactly one ``permessage-deflate`` element must be there.
            offered: the instance whose :meth:`offer` was sent.

        Returns:
            The agreed configuration (``level`` and ``min_size`` from
            ``offered``).

        Raises:
            ValueError: the answer must fail the connection (§7.1): it has no
                or several ``permessage-deflate`` elements, an unknown,
                repeated or invalid parameter, omits
                ``server_no_context_takeover`` or ``server_max_window_bits``
                that we offered, or raises a window above what we offered.
        """
        if not isinstance(offered, PerMessageDeflate):
            raise TypeError(f"offered must be a PerMessageDeflate, not {type(offered).__name__}")
        answers = [
            params for name, params in _parse_extensions(response_header) if name == EXTENSION_NAME
        ]
        if len(answers) != 1:
            raise ValueError(f"expected one {EXTENSION_NAME} in the response, got {len(answers)}")
        answer = _read_params(answers[0], offer=False)

        # §7.1.1.1: a server accepting our server_no_context_takeover must say
        # so; it may also choose it unasked.
        if offered.server_no_context_takeover and _SERVER_NO_CONTEXT_TAKEOVER not in answer:
            raise ValueError(f"the response omits the offered {_SERVER_NO_CONTEXT_TAKEOVER}")

        # §7.1.2.1: an offered limit must be answered, with the same or a
        # smaller value; unasked, the server may still announce any value.
        server_bits = answer.get(_SERVER_MAX_WINDOW_BITS, _MAX_WINDOW_BITS)
        if offered.server_max_window_bits != _MAX_WINDOW_BITS:
            if _SERVER_MAX_WINDOW_BITS not in answer:
                raise ValueError(f"the response omits the offered {_SERVER_MAX_WINDOW_BITS}")
            if server_bits > offered.server_max_window_bits:
                raise ValueError(
                    f"{_SERVER_MAX_WINDOW_BITS}={server_bits} exceeds the offered "
                    f"{offered.server_max_window_bits}"
                )

        # §7.1.2.2: the server may only lower the window we offered (always
        # offered, without a value when 15).
        client_bits = answer.get(_CLIENT_MAX_WINDOW_BITS, offered.client_max_window_bits)
        if client_bits > offered.client_max_window_bits:
            raise ValueError(
                f"{_CLIENT_MAX_WINDOW_BITS}={client_bits} exceeds the offered "
                f"{offered.client_max_window_bits}"
            )

        return replace(
            offered,
            server_no_context_takeover=_SERVER_NO_CONTEXT_TAKEOVER in answer,
            # §7.1.1.2: the server may impose it; our own choice stands too.
            client_no_context_takeover=offered.client_no_context_takeover
            or _CLIENT_NO_CONTEXT_TAKEOVER in answer,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )

    # -- codec interface: each Decoder and Encoder calls one of these once ------

    def _directions(self, role: str) -> tuple[tuple[int, bool], tuple[int, bool]]:
        """((window, no_takeover) this role deflates with, (...) it inflates with)."""
        server = (self.server_max_window_bits, self.server_no_context_takeover)
        client = (self.client_max_window_bits, self.client_no_context_takeover)
        if role == "server":
            return server, client
        if role == "client":
            return client, server
        raise ValueError(f"role must be 'server' or 'client', not {role!r}")

    def _inflater(self, role: str) -> _Inflater:
        """The decompressor for a ``Decoder`` of ``role`` (it inflates the peer's messages)."""
        window_bits, no_context_takeover = self._directions(role)[1]
        return _Inflater(self._impl, window_bits, no_context_takeover)

    def _deflater(self, role: str) -> _Deflater:
        """The compressor for an ``Encoder`` of ``role``."""
        window_bits, no_context_takeover = self._directions(role)[0]
        return _Deflater(self._impl, self.level, window_bits, no_context_takeover, self.min_size)
