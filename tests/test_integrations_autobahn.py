"""wsfast.integrations.autobahn: autobahn's frame loop and send path.

Differential, as in test_integrations.py: an autobahn protocol is driven with
the same bytes and the same calls as shipped and with wsfast installed, and
everything it does must be the same: the callbacks and their arguments in
order, every write to the transport, every close or abort, every exception,
and its state (frame and message fields, close codes, traffic counters)
after each chunk of input.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from test_integrations import assert_baseline, chunked, differential, frame, outcome, text

from wsfast import integrations
from wsfast.integrations import autobahn as autobahn_integration

SEED = 20261204
KEY = b"\x37\xfa\x21\x3d"

# The protocol's fields that its frame loop reads or leaves for the next call.
STATE = (
    "state", "data", "inside_message", "message_is_binary", "message_data",
    "message_data_total_length", "frame_length", "frame_data", "control_frame_data",
    "utf8validateIncomingCurrentMessage", "utf8validateLast", "_isMessageCompressed",
    "closedByMe", "failedByMe", "droppedByMe", "wasClean", "wasNotCleanReason",
    "localCloseCode", "localCloseReason", "remoteCloseCode", "remoteCloseReason",
    "wasMaxFramePayloadSizeExceeded", "wasMaxMessagePayloadSizeExceeded", "send_state",
    "autoPingPending", "closeHandshakeTimeoutCall",
)


pytestmark = pytest.mark.usefixtures("no_integrations_installed")


@pytest.fixture
def primitives(backend: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The integration's frame primitives taken from the backend under test."""
    for name, attribute in (("_frame_parse", "_frame_parse"), ("_frame_unmask", "_frame_unmask"),
                            ("_frame_build", "_frame_build"), ("_validate_utf8", "validate_utf8")):
        monkeypatch.setattr(autobahn_integration, name, getattr(backend, attribute))
    return backend


class Transport:
    """What autobahn's asyncio adapter asks of a transport, recorded."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events

    def write(self, data: Any) -> None:
        self.events.append(("write", type(data).__name__, bytes(data)))

    def close(self) -> None:
        self.events.append(("transport close",))

    def abort(self) -> None:
        self.events.append(("transport abort",))


class Call:
    """A timer handle (the auto-ping timeout), recording its cancel()."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events

    def cancel(self) -> None:
        self.events.append(("timer cancelled",))


class Log:
    """A logger recording the lines autobahn logs; debug on, or txaio's no-op."""

    def __init__(self, events: list[Any], debug: bool) -> None:
        self.events = events
        if not debug:
            from txaio.aio import _no_op

            self.debug = _no_op

    def _line(self, level: str) -> Callable[..., None]:
        def log(format: str = "", **kwargs: Any) -> None:
            # Without object addresses (the configuration dump has some).
            line = re.sub(" at 0x[0-9a-f]+", "", format.format(**kwargs))
            self.events.append(("log", level, line))
        return log

    def __getattr__(self, level: str) -> Callable[..., None]:
        return self._line(level)


def snapshot(proto: Any) -> Any:
    header = proto.current_frame
    fields = [getattr(proto, name, "<unset>") for name in STATE]
    fields = ["<timer>" if isinstance(value, Call) else value for value in fields]
    return (
        None if header is None else (header.opcode, header.fin, header.rsv, header.length,
                                     header.mask),
        fields,
        proto.trafficStats.__json__(),
        len(proto.send_queue),
    )


def protocol_class(server: bool, adapter: bool, events: list[Any], echo: int,
                   override: str | None) -> type:
    """A recording protocol on autobahn's asyncio adapter, or on the bare
    protocol with pass-through ``_on*`` hooks of its own (as autobahn's tests do)."""
    if adapter:
        from autobahn.asyncio.websocket import WebSocketClientProtocol, WebSocketServerProtocol
    else:
        from autobahn.websocket.protocol import WebSocketClientProtocol, WebSocketServerProtocol
    base: Any = WebSocketServerProtocol if server else WebSocketClientProtocol

    class Recorder(base):  # type: ignore[misc, valid-type]
        def onMessage(self, payload: Any, isBinary: bool) -> None:  # noqa: N802, N803
            events.append(("message", type(payload).__name__, payload, isBinary))
            if echo == 3 and len(payload) % 3 == 1:
                raise RuntimeError("the application failed")
            if echo and self.state == self.STATE_OPEN:
                # 2: with a fragment size (autobahn's own send loop); 3: some raise.
                self.sendMessage(payload, isBinary, fragmentSize=700 if echo == 2 else None)

        def onPing(self, payload: bytes) -> None:  # noqa: N802
            events.append(("ping", payload))
            super().onPing(payload)

        def onPong(self, payload: bytes) -> None:  # noqa: N802
            events.append(("pong", payload))

        def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802, N803
            events.append(("close", wasClean, code, reason))

        def _closeConnection(self, abort: bool = False) -> None:
            events.append(("close connection", abort))

        def startHandshake(self) -> None:  # noqa: N802 (a client's: the test opens it)
            events.append(("handshake",))

    if not adapter:
        def passthrough(name: str) -> Callable[..., Any]:
            target = name[1:]
            return lambda self, *args: getattr(self, target)(*args)

        for name in ("_onMessageBegin", "_onMessageFrameBegin", "_onMessageFrameData",
                     "_onMessageFrameEnd", "_onMessageFrame", "_onMessageEnd", "_onMessage",
                     "_onPing", "_onPong", "_onClose"):
            setattr(Recorder, name, passthrough(name))
    if override is not None:
        # A frame hook of the user's own: it must run, so autobahn's loop does.
        original = getattr(Recorder, override)

        def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
            events.append((override, *args, kwargs))
            return original(self, *args, **kwargs)

        setattr(Recorder, override, hook)
    return Recorder


def run_protocol(chunks: list[bytes], *, server: bool = True, options: dict[str, Any] | None = None,
                 echo: int = 1, adapter: bool = True, override: str | None = None,
                 instance_override: str | None = None, listener: bool = False,
                 debug_log: bool = False, auto_ping: bool = False, deflate: bool = False,
                 attributes: dict[str, Any] | None = None, timings: bool = False,
                 calls: Callable[[Any], None] | None = None) -> list[Any]:
    """Feed ``chunks`` to an open autobahn protocol; everything it did, in order."""
    events: list[Any] = []

    async def main() -> list[Any]:
        from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketServerFactory

        factory: Any = WebSocketServerFactory() if server else WebSocketClientFactory()
        factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0,
                                   **(options or {}))
        random.seed(SEED)  # autobahn's masking keys (the factory has just reseeded it)
        proto = protocol_class(server, adapter, events, echo, override)()
        proto.factory = factory
        proto.transport = Transport(events)
        proto.log = Log(events, debug_log)
        proto._connectionMade()
        for name, value in (attributes or {}).items():
            setattr(proto, name, value)
        proto.setTrackTimings(timings)
        # What the opening handshake leaves (succeedHandshake).
        proto.state = proto.STATE_OPEN
        proto.websocket_version = 13
        proto.inside_message = False
        proto.current_frame = None
        if instance_override is not None:
            method = getattr(proto, instance_override)

            def hook(*args: Any, **kwargs: Any) -> Any:
                events.append((instance_override, *args, kwargs))
                return method(*args, **kwargs)

            setattr(proto, instance_override, hook)
        if deflate:  # as a negotiated permessage-deflate leaves it
            from autobahn.websocket.compress_deflate import PerMessageDeflate

            proto._perMessageCompress = PerMessageDeflate(server, False, False, 15, 15, 8)
        if listener:
            proto.on("message", lambda payload, is_binary: events.append(
                ("listener", payload, is_binary)))
        if auto_ping:
            proto.autoPingTimeoutCall = Call(events)
            proto.autoPingRestartOnAnyTraffic = True
        if calls is not None:
            try:
                calls(proto)
            except Exception as exc:
                events.append(("raised", type(exc).__name__, str(exc)))
        for chunk in chunks:
            try:
                proto._dataReceived(chunk)
            except Exception as exc:
                # The adapters drop the connection then; the test reads on.
                events.append(("raised", type(exc).__name__, str(exc)))
            events.append(snapshot(proto))
        # Not what the loop's shutdown runs (timers of chopped writes, by timing).
        return list(events)

    return asyncio.run(main())


def same_events(expected: Any, actual: Any) -> None:
    """Equal; otherwise name the first event that differs."""
    if actual == expected:
        return
    assert actual[0] == expected[0] == "ok", (expected[:1], actual[:1])
    for index, (want, got) in enumerate(zip(expected[1], actual[1])):
        assert got == want, f"event {index} differs"
    assert len(actual[1]) == len(expected[1]), (expected[1][len(actual[1]):],
                                                actual[1][len(expected[1]):])


def compare(run: Callable[[], Any]) -> Any:
    """Shipped vs installed (test_integrations.differential), event by event."""
    return differential("autobahn", run, check=same_events)


# ---- streams ------------------------------------------------------------------------

SIZES = [0, 1, 5, 125, 126, 127, 300, 1024, 65535, 65536, 70000]


def close_payload(rng: random.Random) -> bytes:
    return rng.choice([
        b"", (1000).to_bytes(2, "big"), (1001).to_bytes(2, "big") + "gön".encode(),
        (1000).to_bytes(2, "big") + b"\xed\xa0\x80",  # invalid UTF-8 reason
        (999).to_bytes(2, "big"), b"\x03",  # a reserved code, a 1-byte payload
    ])


def stream(rng: random.Random, *, masked: bool) -> bytes:
    """Messages (most of them the simple case), fragments, control frames and errors."""
    def key() -> bytes | None:
        return rng.randbytes(4) if masked else None

    parts = []
    for _ in range(rng.randrange(1, 7)):
        kind = rng.randrange(16)
        size = rng.choice(SIZES)
        if kind < 5:
            parts.append(frame(2, rng.randbytes(size), key=key()))
        elif kind < 9:
            parts.append(frame(1, text(rng, size // 3), key=key()))
        elif kind == 9:  # fragmented, a control frame in between
            data = text(rng, 60) if rng.random() < 0.5 else rng.randbytes(300)
            opcode = 1 if rng.random() < 0.5 else 2
            parts.append(frame(opcode, data[:7], fin=False, key=key()))
            parts.append(frame(rng.choice([9, 10]), rng.randbytes(rng.randrange(20)), key=key()))
            parts.append(frame(0, data[7:20], fin=False, key=key()))
            parts.append(frame(0, data[20:], key=key()))
        elif kind == 10:
            parts.append(frame(rng.choice([9, 10]), rng.randbytes(rng.randrange(126)), key=key()))
        elif kind == 11:  # invalid UTF-8: at once, or a code point cut at the end
            bad = rng.choice([b"\xed\xa0\x80", b"\xff", b"\xc0\xaf", b"ok\xe2\x82"])
            parts.append(frame(1, text(rng, rng.randrange(50)) + bad, key=key()))
        elif kind == 12:  # reserved opcode, RSV bit, continuation outside a message
            parts.append(rng.choice([
                frame(rng.choice([3, 7, 11, 15]), b"x", key=key()),
                frame(rng.choice([1, 2]), b"abc", rsv=rng.choice([1, 2, 4]), key=key()),
                frame(0, b"abc", key=key()),
            ]))
        elif kind == 13:  # headers autobahn refuses
            parts.append(rng.choice([
                frame(2, rng.randbytes(rng.choice([3, 300])), length_bytes=8, key=key()),
                frame(2, rng.randbytes(3), length_bytes=2, key=key()),
                frame(9, b"ping", fin=False, key=key()),
                frame(10, rng.randbytes(126), key=key()),
                bytes((0x82, 0xFF if masked else 0x7F)) + b"\xff" * 8 + (key() or b""),  # > 2**63
            ]))
        elif kind == 14:  # the wrong masking for the role
            parts.append(frame(2, rng.randbytes(rng.choice([0, 10])),
                               key=None if masked else b"\x01\x02\x03\x04"))
        else:
            parts.append(frame(8, close_payload(rng), key=key()))
    if rng.random() < 0.3:
        parts.append(frame(8, close_payload(rng), key=rng.randbytes(4) if masked else None))
        parts.append(frame(2, b"after close", key=rng.randbytes(4) if masked else None))
    return b"".join(parts)


def options(rng: random.Random, server: bool) -> dict[str, Any]:
    chosen: dict[str, Any] = {
        "maxFramePayloadSize": rng.choice([0, 0, 100, 1024, 65536]),
        "maxMessagePayloadSize": rng.choice([0, 0, 200, 1024, 70000]),
        "utf8validateIncoming": rng.random() < 0.8,
        "failByDrop": rng.random() < 0.5,
        "applyMask": rng.random() < 0.9,
        "autoFragmentSize": rng.choice([0, 0, 0, 500]),
        "echoCloseCodeReason": rng.random() < 0.5,
    }
    if server:
        chosen["requireMaskedClientFrames"] = rng.random() < 0.8
        chosen["maskServerFrames"] = rng.random() < 0.2
    else:
        chosen["acceptMaskedServerFrames"] = rng.random() < 0.2
        chosen["maskClientFrames"] = rng.random() < 0.8
    return chosen


def split(rng: random.Random, data: bytes) -> list[bytes]:
    """Random cuts (mid-header, mid-key, mid-payload), or all of it at once."""
    return chunked(rng, data) if len(data) > 1 and rng.random() < 0.6 else [data]


# ---- receive: autobahn's frame loop -------------------------------------------------


def loop_differential(run: Callable[[], Any]) -> Any:
    """``run()`` on autobahn's frame loop with only wsfast's maskers and UTF-8
    validator in it, then fully installed: the results must be equal.

    For streams where autobahn keeps reading a text message after its UTF-8
    failed (``failByDrop=False``): autobahn's NVX validator is not sticky,
    wsfast's is (a documented difference, tested in test_integrations.py), so
    as shipped the two runs would differ there for that reason alone.
    """
    from autobahn.websocket import protocol

    primitives = [(owner, attribute, replacement)
                  for owner, attribute, replacement in autobahn_integration.patches()
                  if owner is protocol]
    originals = [(owner, attribute, getattr(owner, attribute))
                 for owner, attribute, _ in primitives]
    integrations.uninstall("autobahn")
    for owner, attribute, replacement in primitives:
        setattr(owner, attribute, replacement)
    try:
        expected = outcome(run)
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)
    assert_baseline(expected)
    integrations.install("autobahn")
    try:
        actual = outcome(run)
    finally:
        integrations.uninstall("autobahn")
    same_events(expected, actual)
    return expected



@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
def test_receive_differential(server: bool, primitives: Any) -> None:
    rng = random.Random(SEED + server)
    for _ in range(150):
        data = stream(rng, masked=server)
        chosen = options(rng, server)
        chunks = split(rng, data)
        echo = rng.choice([0, 1, 1, 2, 3])
        auto_ping = rng.random() < 0.2
        check = compare if chosen["failByDrop"] else loop_differential
        check(lambda: run_protocol(
            chunks, server=server, options=chosen, echo=echo, auto_ping=auto_ping))


def test_receive_fast_path_taken(primitives: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simple case is wsfast's (one unmask per message), and equal to autobahn's."""
    taken: list[int] = []
    unmask = autobahn_integration._frame_unmask

    def counting(data: bytes, pos: int, n: int, key: int) -> bytes:
        taken.append(n)
        return unmask(data, pos, n, key)

    monkeypatch.setattr(autobahn_integration, "_frame_unmask", counting)
    rng = random.Random(SEED)
    payloads = [rng.randbytes(n) for n in SIZES] + [text(rng, n) for n in (0, 10, 400, 30000)]
    data = b"".join(frame(1 if i >= len(SIZES) else 2, p, key=rng.randbytes(4))
                    for i, p in enumerate(payloads))
    expected = compare(lambda: run_protocol([data]))
    assert [e[2] for e in expected[1] if e[0] == "message"] == payloads
    assert taken == [len(p) for p in payloads]


@pytest.mark.parametrize("case", [
    {"override": "onMessageBegin"}, {"override": "onFrameData"}, {"override": "onMessageFrame"},
    {"override": "_onMessageEnd"}, {"instance_override": "onMessageFrameData"},
    {"instance_override": "onFrameEnd"}, {"adapter": False}, {"listener": True},
    {"attributes": {"logFrames": True}}, {"timings": True},
    {"deflate": True},
], ids=lambda case: ",".join(f"{k}={v}" for k, v in case.items()))
def test_receive_hooks_of_the_users_own(case: dict[str, Any], primitives: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame hook of the user's own, logFrames, timings or a listener: autobahn's loop."""
    taken: list[int] = []
    monkeypatch.setattr(autobahn_integration, "_frame_unmask",
                        lambda *args: taken.append(1))  # must not be reached
    rng = random.Random(SEED)
    data = frame(2, rng.randbytes(300), key=KEY) + frame(1, "été".encode(), key=KEY)
    chunks = split(rng, data + frame(9, b"p", key=KEY) + data)
    expected = compare(lambda: run_protocol(chunks, **case))
    assert taken == []
    assert sum(e[0] == "message" for e in expected[1]) == 4


def test_receive_debug_log_unchanged(primitives: Any) -> None:
    """With debug logging on, the same lines are logged in the same order."""
    rng = random.Random(SEED)
    data = b"".join(frame(rng.choice([1, 2]), text(rng, n), key=rng.randbytes(4))
                    for n in (0, 10, 3000)) + frame(9, b"hi", key=KEY) + frame(8, b"", key=KEY)
    expected = compare(lambda: run_protocol(split(rng, data), debug_log=True))
    assert any(e[0] == "log" and "sent" in e[2] for e in expected[1])


# ---- send: sendMessage, sendFrame, sendData -------------------------------------------


def send_calls(rng: random.Random) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for _ in range(12):
        kind = rng.randrange(10)
        payload = rng.randbytes(rng.choice(SIZES))
        if kind < 4:
            calls.append(("sendMessage", (payload, rng.random() < 0.5), {}))
        elif kind == 4:
            calls.append(("sendMessage", (payload,), rng.choice([
                {"isBinary": 1}, {"fragmentSize": rng.choice([1, 100, 70000])},
                {"doNotCompress": True}, {"sync": False}, {"isBinary": True, "sync": True},
            ])))
        elif kind == 5:  # not bytes: autobahn's assert
            calls.append(("sendMessage", (bytearray(payload[:10]),), {}))
        elif kind == 6:
            calls.append(("sendFrame", (rng.choice([0, 1, 2, 9, 10, 3, 200]),), {
                "payload": payload[:200], "fin": rng.random() < 0.7,
                "rsv": rng.choice([0, 0, 4, 9]),
                **rng.choice([{}, {}, {"mask": KEY}, {"payload_len": 300}, {"chopsize": 50}]),
            }))
        elif kind == 7:
            calls.append((rng.choice(["sendPing", "sendPong"]), (payload[:100] or None,), {}))
        elif kind == 8:  # autobahn's streaming API (a frame header of its own)
            calls.append(("beginMessage", (), {"isBinary": rng.random() < 0.5}))
            calls.append(("sendMessageFrame", (payload[:500],), {}))
            calls.append(("endMessage", (), {}))
        else:
            calls.append(("sendClose", (), rng.choice([{}, {"code": 1000, "reason": "bye"}])))
    return calls


def do_calls(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> Callable[[Any], None]:
    def run(proto: Any) -> None:
        for name, args, kwargs in calls:
            try:
                getattr(proto, name)(*args, **kwargs)
            except Exception as exc:
                proto.transport.events.append(("raised", name, type(exc).__name__, str(exc)))
            proto.transport.events.append(snapshot(proto))
    return run


@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
def test_send_differential(server: bool, primitives: Any) -> None:
    rng = random.Random(SEED + 2 + server)
    for _ in range(120):
        calls = send_calls(rng)
        chosen = options(rng, server)
        debug_log = rng.random() < 0.2
        compare(lambda: run_protocol(
            [], server=server, options=chosen, calls=do_calls(calls), debug_log=debug_log))


def test_send_with_sendframe_of_the_users_own(primitives: Any) -> None:
    calls = [("sendMessage", (b"abc", True), {}), ("sendMessage", (b"x" * 300,), {})]
    for case in ({"override": "sendFrame"}, {"instance_override": "sendFrame"},
                 {"instance_override": "sendData"}):
        expected = compare(lambda: run_protocol(
            [], calls=do_calls(calls), **case))  # noqa: B023
        assert sum(e[0] == "sendFrame" for e in expected[1]) == (
            2 if case.get("override", case.get("instance_override")) == "sendFrame" else 0)


def test_send_frames_are_autobahns(primitives: Any) -> None:
    """Unmasked from a server, masked from a client with autobahn's key."""
    calls = [("sendMessage", (b"hello", False), {}), ("sendMessage", (b"\x00" * 70000, True), {})]
    for server in (True, False):
        expected = compare(lambda: run_protocol(
            [], server=server, calls=do_calls(calls)))  # noqa: B023
        writes = [e[2] for e in expected[1] if e[0] == "write"]
        if server:
            assert writes == [b"\x81\x05hello", b"\x82\x7f" + (70000).to_bytes(8, "big")
                              + b"\x00" * 70000]
        else:
            random.seed(SEED)
            key = random.getrandbits(32).to_bytes(4, "big")
            assert writes[0][:6] == b"\x81\x85" + key


# ---- install / uninstall --------------------------------------------------------------


def test_uninstall_restores_autobahn() -> None:
    from autobahn.websocket import protocol

    ws = protocol.WebSocketProtocol
    names = ("processData", "sendMessage", "sendFrame", "sendData")
    before = {name: vars(ws)[name] for name in names}
    bound = (protocol.create_xor_masker, protocol.XorMaskerNull, protocol.Utf8Validator)
    integrations.install("autobahn")
    assert all(vars(ws)[name] is not before[name] for name in names)
    assert vars(ws)["processData"].__qualname__ == "WebSocketProtocol.processData"
    integrations.uninstall("autobahn")
    assert {name: vars(ws)[name] for name in names} == before
    assert (protocol.create_xor_masker, protocol.XorMaskerNull, protocol.Utf8Validator) == bound
    assert autobahn_integration._classes == {}


@pytest.mark.parametrize("attributes", [{"maxMessagePayloadSize": None}, {"autoFragmentSize": None},
                                        {"applyMask": None}], ids=repr)
def test_misconfigured_protocol_fails_as_autobahn(attributes: dict[str, Any],
                                                  primitives: Any) -> None:
    """An option of the wrong type: autobahn's own code raises its own error."""
    data = frame(2, b"abc", key=KEY) + frame(1, b"def", key=KEY)
    expected = compare(lambda: run_protocol([data, data], attributes=attributes))
    assert any(e[0] == "raised" for e in expected[1]) or attributes == {"applyMask": None}


def test_errors_inside_autobahns_code_are_its_own(primitives: Any) -> None:
    """An error raised in autobahn's own path (here: no transport any more) is
    raised once, with autobahn's counters, not retried."""
    def calls(proto: Any) -> None:
        proto.transport = None
        proto.sendMessage(b"abc", True)

    data = frame(2, b"abcd", key=KEY)  # echo=3: onMessage raises
    for case in ({"calls": calls}, {"calls": calls, "attributes": {"logFrames": True}},
                 {"echo": 3, "attributes": {"logFrames": True}}, {"echo": 3}):
        expected = compare(lambda: run_protocol([data, data], **case))  # noqa: B023
        raised = [e for e in expected[1] if e[0] == "raised"]
        assert len(raised) == (3 if "calls" in case else 2), raised
