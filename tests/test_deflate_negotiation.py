"""permessage-deflate (RFC 7692 §5, §7.1): offers, responses and what both sides agree on."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsfast.deflate import PerMessageDeflate

# The zlib_name fixture.
pytest_plugins = ["deflate_fixtures"]


# ---------------------------------------------------------------------------
# Negotiation (RFC 7692 §5, §7.1)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, header",
    [
        ({}, "permessage-deflate; client_max_window_bits"),
        (
            {"server_no_context_takeover": True},
            "permessage-deflate; server_no_context_takeover; client_max_window_bits",
        ),
        (
            {"client_no_context_takeover": True},
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        ),
        (
            {"server_max_window_bits": 10},
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        ),
        ({"client_max_window_bits": 8}, "permessage-deflate; client_max_window_bits=8"),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 9,
                "client_max_window_bits": 12,
                "level": 1,
                "min_size": 100,
            },
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=9; client_max_window_bits=12",
        ),
    ],
)
def test_offer(kwargs: dict[str, Any], header: str) -> None:
    assert PerMessageDeflate(**kwargs).offer() == header


PMD = "permessage-deflate"

# (offer header, server preferences, expected response, expected agreement)
ACCEPTED = [
    # Firefox and Chrome's offers.
    (PMD, {}, PMD, {}),
    (f"{PMD}; client_max_window_bits", {}, PMD, {}),
    # client_max_window_bits without a value: the server may set any value.
    (
        f"{PMD}; client_max_window_bits",
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    # With a value: the answer repeats it, or lowers it.
    (
        f"{PMD}; client_max_window_bits=12",
        {},
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 12},
    ),
    (
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    (
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 12},
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 9},
    ),
    (
        f"{PMD}; client_max_window_bits=8",
        {},
        f"{PMD}; client_max_window_bits=8",
        {"client_max_window_bits": 8},
    ),
    # Not offered: it must not be answered (§7.1.2.2); the client keeps 15.
    (PMD, {"client_max_window_bits": 10}, PMD, {}),
    # server_max_window_bits offered: always answered, never raised (§7.1.2.1).
    (
        f"{PMD}; server_max_window_bits=10",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 12},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 9},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    (
        f"{PMD}; server_max_window_bits=15",
        {},
        f"{PMD}; server_max_window_bits=15",
        {},
    ),
    (
        f"{PMD}; server_max_window_bits=15; client_max_window_bits=10",
        {},
        f"{PMD}; server_max_window_bits=15; client_max_window_bits=10",
        {"client_max_window_bits": 10},
    ),
    (
        f"{PMD}; server_max_window_bits=8",
        {},
        f"{PMD}; server_max_window_bits=8",
        {"server_max_window_bits": 8},
    ),
    # ...and the server may announce a limit unasked.
    (
        PMD,
        {"server_max_window_bits": 11},
        f"{PMD}; server_max_window_bits=11",
        {"server_max_window_bits": 11},
    ),
    # Context takeover flags: offered, or the server's own choice.
    (
        f"{PMD}; server_no_context_takeover",
        {},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    (
        PMD,
        {"server_no_context_takeover": True},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    (
        f"{PMD}; client_no_context_takeover",
        {},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    (
        PMD,
        {"client_no_context_takeover": True},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    (
        f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11",
        {"level": 1, "min_size": 64},
        f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11",
        {
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 10,
            "client_max_window_bits": 11,
            "level": 1,
            "min_size": 64,
        },
    ),
    # Several offers: the first acceptable one wins.
    (
        f"{PMD}; server_max_window_bits=10, {PMD}",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (f"{PMD}; x_unknown, {PMD}; client_max_window_bits", {}, PMD, {}),
    (
        f"{PMD}; server_max_window_bits=7, {PMD}; server_max_window_bits=9",
        {},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    (
        f"{PMD}; server_no_context_takeover; server_no_context_takeover, "
        f"{PMD}; client_no_context_takeover",
        {},
        f"{PMD}; client_no_context_takeover",
        {"client_no_context_takeover": True},
    ),
    # Other extensions are not ours to judge.
    (f"x-webkit-deflate-frame, {PMD}; client_max_window_bits", {}, PMD, {}),
    (f'foo; bar="baz", {PMD}', {}, PMD, {}),
    # Header syntax: empty list elements, optional whitespace, quoted values.
    (f" , {PMD} ,, ", {}, PMD, {}),
    (
        f"{PMD} ;\tserver_max_window_bits = 10 ",
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f'{PMD}; server_max_window_bits="10"',
        {},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        f'{PMD}; client_max_window_bits="1\\2"',
        {},
        f"{PMD}; client_max_window_bits=12",
        {"client_max_window_bits": 12},
    ),
]


@pytest.mark.parametrize("offer, preferences, response, agreed", ACCEPTED)
def test_accept(
    offer: str, preferences: dict[str, Any], response: str, agreed: dict[str, Any]
) -> None:
    result = PerMessageDeflate.accept(offer, **preferences)
    assert result is not None
    assert result[0] == response
    assert result[1] == PerMessageDeflate(**agreed)


DECLINED = [
    "",
    " , ",
    "x-webkit-deflate-frame",
    "Permessage-Deflate",  # extension tokens match exactly
    f"{PMD}; unknown",
    f"{PMD}; server_no_context_takeover; server_no_context_takeover",
    f"{PMD}; client_max_window_bits; client_max_window_bits=10",
    f"{PMD}; server_no_context_takeover=1",
    f"{PMD}; client_no_context_takeover=true",
    f"{PMD}; server_max_window_bits",  # needs a value
    f"{PMD}; server_max_window_bits=7",
    f"{PMD}; server_max_window_bits=16",
    f"{PMD}; server_max_window_bits=08",  # no leading zeros
    f"{PMD}; server_max_window_bits=+9",
    f"{PMD}; client_max_window_bits=abc",
    f"{PMD}; client_max_window_bits=0x0f",
    f'{PMD}; client_max_window_bits=""',
    # Malformed headers: the extension is declined, not the handshake.
    f"{PMD};",
    f"{PMD}; ;",
    f"{PMD}; =10",
    f'{PMD}; server_max_window_bits="10',
    f'{PMD}; server_max_window_bits="1 0"',
    f"{PMD} server_max_window_bits",
    f"{PMD}; server_max_window_bits=10 11",
    '"permessage-deflate"',
]


@pytest.mark.parametrize("offer", DECLINED)
def test_accept_declines(offer: str) -> None:
    assert PerMessageDeflate.accept(offer) is None


def test_accept_checks_preferences() -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate.accept(PMD, server_max_window_bits=20)
    with pytest.raises(TypeError):
        PerMessageDeflate.accept(PMD, compression=True)


def test_accept_keeps_backend(zlib_name: str) -> None:
    result = PerMessageDeflate.accept(PMD, zlib=zlib_name)
    assert result is not None and result[1].zlib == zlib_name


# (offer preferences, response header, expected agreement)
RESPONSES_OK = [
    ({}, PMD, {}),
    ({}, f"{PMD}; server_no_context_takeover", {"server_no_context_takeover": True}),
    ({}, f"{PMD}; client_no_context_takeover", {"client_no_context_takeover": True}),
    ({}, f"{PMD}; server_max_window_bits=10", {"server_max_window_bits": 10}),
    ({}, f"{PMD}; client_max_window_bits=8", {"client_max_window_bits": 8}),
    ({}, f"{PMD}; client_max_window_bits=15", {}),
    (
        {"server_max_window_bits": 10},
        f"{PMD}; server_max_window_bits=10",
        {"server_max_window_bits": 10},
    ),
    (
        {"server_max_window_bits": 10},
        f"{PMD}; server_max_window_bits=9",
        {"server_max_window_bits": 9},
    ),
    ({"client_max_window_bits": 10}, PMD, {"client_max_window_bits": 10}),
    (
        {"client_max_window_bits": 10},
        f"{PMD}; client_max_window_bits=9",
        {"client_max_window_bits": 9},
    ),
    (
        {"server_no_context_takeover": True},
        f"{PMD}; server_no_context_takeover",
        {"server_no_context_takeover": True},
    ),
    # Our own client_no_context_takeover stands whatever the answer.
    ({"client_no_context_takeover": True}, PMD, {"client_no_context_takeover": True}),
    ({"level": 1, "min_size": 10}, PMD, {"level": 1, "min_size": 10}),
    ({}, f"foo, {PMD}, bar; baz", {}),
    ({}, f'{PMD}; server_max_window_bits="12"', {"server_max_window_bits": 12}),
]


@pytest.mark.parametrize("offered, response, agreed", RESPONSES_OK)
def test_from_response(offered: dict[str, Any], response: str, agreed: dict[str, Any]) -> None:
    result = PerMessageDeflate.from_response(response, PerMessageDeflate(**offered))
    assert result == PerMessageDeflate(**agreed)


RESPONSES_BAD = [
    ({}, ""),
    ({}, "foo"),
    ({}, f"{PMD}, {PMD}"),
    ({}, f"{PMD}; unknown"),
    ({}, f"{PMD}; unknown=1"),
    ({}, f"{PMD}; server_no_context_takeover; server_no_context_takeover"),
    ({}, f"{PMD}; server_max_window_bits=10; server_max_window_bits=10"),
    ({}, f"{PMD}; server_max_window_bits"),
    ({}, f"{PMD}; server_max_window_bits=7"),
    ({}, f"{PMD}; server_max_window_bits=16"),
    ({}, f"{PMD}; server_max_window_bits=010"),
    ({}, f"{PMD}; client_max_window_bits"),  # a response needs the value
    ({}, f"{PMD}; client_max_window_bits=7"),
    ({}, f"{PMD}; client_no_context_takeover=1"),
    ({}, f"{PMD};"),
    # Answers that break what we offered.
    ({"server_no_context_takeover": True}, PMD),
    ({"server_max_window_bits": 10}, PMD),
    ({"server_max_window_bits": 10}, f"{PMD}; server_max_window_bits=11"),
    ({"client_max_window_bits": 10}, f"{PMD}; client_max_window_bits=11"),
    ({"client_max_window_bits": 10}, f"{PMD}; client_max_window_bits=15"),
]


@pytest.mark.parametrize("offered, response", RESPONSES_BAD)
def test_from_response_rejects(offered: dict[str, Any], response: str) -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate.from_response(response, PerMessageDeflate(**offered))


def test_from_response_type_errors() -> None:
    with pytest.raises(TypeError):
        PerMessageDeflate.from_response(PMD, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PerMessageDeflate.from_response(b"permessage-deflate", PerMessageDeflate())  # type: ignore[arg-type]


negotiation_preferences = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.integers(8, 15),
        "client_max_window_bits": st.integers(8, 15),
    }
)


@settings(max_examples=300, deadline=None)
@given(client=negotiation_preferences, server=negotiation_preferences)
def test_both_sides_agree(client: dict[str, Any], server: dict[str, Any]) -> None:
    offered = PerMessageDeflate(**client)
    result = PerMessageDeflate.accept(offered.offer(), **server)
    assert result is not None
    response, server_side = result
    client_side = PerMessageDeflate.from_response(response, offered)
    assert client_side == server_side
    # Neither side's limits are exceeded.
    assert server_side.server_max_window_bits <= min(
        client["server_max_window_bits"], server["server_max_window_bits"]
    )
    assert server_side.client_max_window_bits <= min(
        client["client_max_window_bits"], server["client_max_window_bits"]
    )
    for name in ("server_no_context_takeover", "client_no_context_takeover"):
        assert getattr(server_side, name) == (client[name] or server[name])
