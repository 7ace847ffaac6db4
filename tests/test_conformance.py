"""Conformance cases derived from the Autobahn TestSuite, sections 1-7 and 9.

Each case lists the frames the Autobahn fuzzing client sends (by case number,
as in the suite's case definitions) and what a conforming endpoint must do:
the messages it would echo and the close it sees, or the protocol error
(close code) it must fail the connection with, after the events completed
before the offending byte. Every case runs

* in both directions: masked frames into a server-role Decoder, and the same
  frames unmasked into a client-role Decoder;
* fed whole, one byte at a time and in seeded random splits (and in the
  chop sizes a case names, as Autobahn's "chopsize");
* on every backend (``backend`` fixture);

and for UTF-8 errors the failing feed must be the one that delivers the first
byte that proves the text invalid (Autobahn 6.4.x "fail fast"). Cases without
an error are also echoed: the expected messages, encoded by ``Encoder`` and
decoded by the peer's ``Decoder``, come back unchanged.

Section 9 (limits/performance) runs at the suite's sizes fed whole and in
chops; one-byte feeding is limited to streams up to 70 KiB so the suite stays
fast (the bytewise path is size-independent and covered at 64 KiB).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from typing import Any

import pytest
from codec_util import (
    BINARY,
    CLOSE,
    CONTINUATION,
    DEFAULT_KEY,
    PING,
    PONG,
    TEXT,
    build,
    bytewise,
    random_splits,
    run,
    utf8_error_index,
)

from wsfast.constants import (
    ERR_CLOSE_CODE,
    ERR_CLOSE_ONE_BYTE,
    ERR_CLOSE_REASON,
    ERR_CONTINUATION,
    ERR_EXPECTED_CONTINUATION,
    ERR_TEXT,
    FRAME_E_CONTROL_FRAGMENTED,
    FRAME_E_CONTROL_TOO_LONG,
    FRAME_E_OPCODE,
    FRAME_E_RSV,
    FRAME_ERRORS,
)

UTF8 = json.loads((pathlib.Path(__file__).parent / "vectors" / "autobahn_utf8.json").read_text())
BYTEWISE_LIMIT = 70 * 1024


@dataclasses.dataclass
class F:
    """One frame as the Autobahn client sends it."""

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0


@dataclasses.dataclass
class Case:
    id: str
    frames: list[F]
    events: list[tuple[Any, ...]]
    error: tuple[int, str] | None = None
    chops: tuple[int, ...] = ()

    def wire(self, masked: bool) -> tuple[bytes, list[int]]:
        """The stream, and the stream offset of each payload byte of text messages."""
        out = bytearray()
        text_offsets: list[int] = []
        in_text = False
        for frame in self.frames:
            encoded = build(frame.opcode, frame.payload, fin=frame.fin, rsv=frame.rsv,
                            key=DEFAULT_KEY if masked else None)
            start = len(out) + len(encoded) - len(frame.payload)
            if frame.opcode == TEXT:
                in_text = True
                text_offsets = []
            if in_text and frame.opcode in (TEXT, CONTINUATION):
                text_offsets += range(start, start + len(frame.payload))
            out += encoded
        return bytes(out), text_offsets

    def text_bytes(self) -> bytes:
        data = b""
        for frame in self.frames:
            if frame.opcode == TEXT:
                data = frame.payload
            elif frame.opcode == CONTINUATION:
                data += frame.payload
        return data


def text(s: str | bytes) -> tuple[Any, ...]:
    return ("message", TEXT, s)


def binary(b: bytes) -> tuple[Any, ...]:
    return ("message", BINARY, b)


def ping(b: bytes) -> tuple[Any, ...]:
    return ("message", PING, b)


def pong(b: bytes) -> tuple[Any, ...]:
    return ("message", PONG, b)


def close(code: int | None = 1000, reason: str = "") -> F:
    payload = b"" if code is None else code.to_bytes(2, "big") + reason.encode()
    return F(CLOSE, payload)


def closed(code: int | None = 1000, reason: str = "") -> tuple[Any, ...]:
    return ("close", code, reason)


E_RSV = FRAME_ERRORS[-FRAME_E_RSV]
E_OPCODE = FRAME_ERRORS[-FRAME_E_OPCODE]
E_CONTROL_FRAGMENTED = FRAME_ERRORS[-FRAME_E_CONTROL_FRAGMENTED]
E_CONTROL_TOO_LONG = FRAME_ERRORS[-FRAME_E_CONTROL_TOO_LONG]

HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()
KOSME = "κόσμε".encode()
INVALID_TAIL = bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564")


def section1() -> list[Case]:
    cases = []
    for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536], 1):
        cases.append(Case(f"1.1.{i}", [F(TEXT, b"*" * n)], [text("*" * n)]))
        cases.append(Case(f"1.2.{i}", [F(BINARY, b"\xfe" * n)], [binary(b"\xfe" * n)]))
    cases.append(Case("1.1.8", [F(TEXT, b"*" * 65536)], [text("*" * 65536)], chops=(997,)))
    cases.append(Case("1.2.8", [F(BINARY, b"\xfe" * 65536)], [binary(b"\xfe" * 65536)], chops=(997,)))
    return cases


def section2() -> list[Case]:
    payloads = [f"payload-{i}".encode() for i in range(10)]
    return [
        Case("2.1", [F(PING)], [ping(b"")]),
        Case("2.2", [F(PING, b"Hello, world!")], [ping(b"Hello, world!")]),
        Case("2.3", [F(PING, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")], [ping(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")]),
        Case("2.4", [F(PING, b"\xfe" * 125)], [ping(b"\xfe" * 125)]),
        Case("2.5", [F(PING, b"\xfe" * 126)], [], E_CONTROL_TOO_LONG),
        Case("2.6", [F(PING, b"\xfe" * 125)], [ping(b"\xfe" * 125)], chops=(1,)),
        Case("2.7", [F(PONG)], [pong(b"")]),
        Case("2.8", [F(PONG, b"unsolicited pong payload")], [pong(b"unsolicited pong payload")]),
        Case("2.9", [F(PONG, b"unsolicited pong payload"), F(PING, b"ping payload")],
             [pong(b"unsolicited pong payload"), ping(b"ping payload")]),
        Case("2.10", [F(PING, p) for p in payloads], [ping(p) for p in payloads]),
        Case("2.11", [F(PING, p) for p in payloads], [ping(p) for p in payloads], chops=(1,)),
    ]


def section3() -> list[Case]:
    hello = b"Hello, world!"
    return [
        Case("3.1", [F(TEXT, hello, rsv=1)], [], E_RSV),
        Case("3.2", [F(TEXT, hello), F(TEXT, hello, rsv=2), F(PING)], [text("Hello, world!")], E_RSV),
        Case("3.3", [F(TEXT, hello), F(TEXT, hello, rsv=3), F(PING)], [text("Hello, world!")], E_RSV),
        Case("3.4", [F(TEXT, hello), F(TEXT, hello, rsv=4), F(PING)], [text("Hello, world!")], E_RSV),
        Case("3.5", [F(BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5)], [], E_RSV),
        Case("3.6", [F(PING, hello, rsv=6)], [], E_RSV),
        Case("3.7", [F(CLOSE, b"", rsv=7)], [], E_RSV),
    ]


def section4() -> list[Case]:
    hello = b"Hello, world!"
    cases = []
    for group, opcodes in (("4.1", [3, 4, 5, 6, 7]), ("4.2", [11, 12, 13, 14, 15])):
        cases.append(Case(f"{group}.1", [F(opcodes[0])], [], E_OPCODE))
        cases.append(Case(f"{group}.2", [F(opcodes[1], b"reserved opcode payload")], [], E_OPCODE))
        cases.append(Case(f"{group}.3", [F(TEXT, hello), F(opcodes[2]), F(PING)], [text("Hello, world!")], E_OPCODE))
        for i, op in ((4, opcodes[3]), (5, opcodes[4])):
            cases.append(Case(f"{group}.{i}", [F(TEXT, hello), F(op, b"reserved opcode payload"), F(PING)],
                              [text("Hello, world!")], E_OPCODE))
    return cases


def section5() -> list[Case]:
    f1, f2 = b"fragment1", b"fragment2"
    frag = [F(TEXT, f1, fin=False), F(CONTINUATION, f2)]
    cases = [
        Case("5.1", [F(PING, f1, fin=False), F(CONTINUATION, f2)], [], E_CONTROL_FRAGMENTED),
        Case("5.2", [F(PONG, f1, fin=False), F(CONTINUATION, f2)], [], E_CONTROL_FRAGMENTED),
        Case("5.3", frag, [text("fragment1fragment2")]),
        Case("5.4", frag, [text("fragment1fragment2")], chops=(1,)),
        Case("5.5", frag, [text("fragment1fragment2")], chops=(3,)),
        Case("5.6", [frag[0], F(PING, b"ping payload"), frag[1]], [ping(b"ping payload"), text("fragment1fragment2")]),
        Case("5.7", [frag[0], F(PING, b"ping payload"), frag[1]],
             [ping(b"ping payload"), text("fragment1fragment2")], chops=(1,)),
        Case("5.8", [frag[0], F(PING, b"ping payload"), frag[1]],
             [ping(b"ping payload"), text("fragment1fragment2")], chops=(5,)),
    ]
    for n, fin in (("5.9", True), ("5.12", False)):
        stream = [F(CONTINUATION, b"non-continuation payload", fin=fin), F(TEXT, b"Hello, world!")]
        major, minor = n.split(".")[0], int(n.split(".")[1])
        for j in range(3):
            cases.append(Case(f"{major}.{minor + j}", stream, [], ERR_CONTINUATION, chops=((), (1,), (4,))[j]))
    cases += [
        Case("5.15", [frag[0], frag[1], F(CONTINUATION, b"fragment3", fin=False), F(TEXT, b"fragment4")],
             [text("fragment1fragment2")], ERR_CONTINUATION),
        Case("5.16", [F(CONTINUATION, f1, fin=False), F(TEXT, f2, fin=False), F(CONTINUATION, b"fragment3")] * 2,
             [], ERR_CONTINUATION),
        Case("5.17", [F(CONTINUATION, f1), F(TEXT, f2, fin=False), F(CONTINUATION, b"fragment3")] * 2,
             [], ERR_CONTINUATION),
        Case("5.18", [F(TEXT, f1, fin=False), F(TEXT, f2)], [], ERR_EXPECTED_CONTINUATION),
    ]
    five = [F(TEXT, b"fragment1", fin=False), F(CONTINUATION, b"fragment2", fin=False), F(PING, b"pongme 1!"),
            F(CONTINUATION, b"fragment3", fin=False), F(PING, b"pongme 2!"),
            F(CONTINUATION, b"fragment4", fin=False), F(CONTINUATION, b"fragment5")]
    expected = [ping(b"pongme 1!"), ping(b"pongme 2!"), text("fragment1fragment2fragment3fragment4fragment5")]
    cases += [Case("5.19", five, expected), Case("5.20", five, expected, chops=(2,))]
    return cases


def utf8_case(case_id: str, data: bytes, frames: list[F] | None = None, chops=()) -> Case:
    frames = frames or [F(TEXT, data)]
    try:
        return Case(case_id, frames, [text(data.decode())], chops=chops)
    except UnicodeDecodeError:
        return Case(case_id, frames, [], ERR_TEXT, chops=chops)


def fragments(data: bytes, size: int) -> list[F]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [F(TEXT if i == 0 else CONTINUATION, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces)]


def section6() -> list[Case]:
    cases = [
        Case("6.1.1", [F(TEXT)], [text("")]),
        Case("6.1.2", [F(TEXT, fin=False), F(CONTINUATION, fin=False), F(CONTINUATION)], [text("")]),
        Case("6.1.3", [F(TEXT, fin=False), F(CONTINUATION, b"middle frame payload", fin=False), F(CONTINUATION)],
             [text("middle frame payload")]),
        utf8_case("6.2.1", HELLO_UTF8),
        utf8_case("6.2.2", HELLO_UTF8, [F(TEXT, HELLO_UTF8[:7], fin=False), F(CONTINUATION, HELLO_UTF8[7:])]),
        utf8_case("6.2.3", HELLO_UTF8, fragments(HELLO_UTF8, 1)),
        utf8_case("6.2.4", KOSME * 3, fragments(KOSME * 3, 1)),
        utf8_case("6.3.1", INVALID_TAIL),
        utf8_case("6.3.2", INVALID_TAIL, fragments(INVALID_TAIL, 1)),
        # 6.4.x: fail fast. 6.4.1/6.4.2 in three frames; 6.4.3/6.4.4 one frame in chops.
        utf8_case("6.4.1", KOSME + b"\xf4\x90\x80\x80" + b"edited",
                  [F(TEXT, KOSME, fin=False), F(CONTINUATION, b"\xf4\x90\x80\x80", fin=False),
                   F(CONTINUATION, b"edited")]),
        utf8_case("6.4.2", KOSME + b"\xf4\x90\x80\x80" + b"edited",
                  [F(TEXT, KOSME + b"\xf4", fin=False), F(CONTINUATION, b"\x90", fin=False),
                   F(CONTINUATION, b"\x80\x80edited")]),
        utf8_case("6.4.3", KOSME + b"\xf4\x90\x80\x80" + b"edited", chops=(len(KOSME) + 6,)),
        utf8_case("6.4.4", KOSME + b"\xf4\x90\x80\x80" + b"edited", chops=(1,)),
    ]
    for sequence in UTF8["sequences"]:
        data = bytes.fromhex(sequence["hex"])
        case = utf8_case(sequence["case"], data)
        assert (case.error is None) == sequence["valid"], sequence
        cases.append(case)
        # 6.6.x sends kosme and its prefixes octet-wise in fragments.
    for i in range(1, len(KOSME) + 1):
        cases.append(utf8_case(f"6.6.{i}", KOSME[:i], fragments(KOSME[:i], 1)))
    return cases


def section7() -> list[Case]:
    reason = "*" * 123
    cases = [
        Case("7.1.1", [F(TEXT, b"Hello World!"), close()], [text("Hello World!"), closed()]),
        Case("7.1.2", [close(), close()], [closed()]),
        Case("7.1.3", [close(), F(PING, b"Hello World!")], [closed()]),
        Case("7.1.4", [close(), F(TEXT, b"Hello World!")], [closed()]),
        Case("7.1.5", [F(TEXT, b"fragment1", fin=False), close(), F(CONTINUATION, b"fragment2")], [closed()]),
        Case("7.1.6", [F(TEXT, b"BAsd7&jh23" * 26214), close(), F(PING)],
             [text("BAsd7&jh23" * 26214), closed()]),
        Case("7.3.1", [close(None)], [closed(None)]),
        Case("7.3.2", [F(CLOSE, b"\x03")], [], ERR_CLOSE_ONE_BYTE),
        Case("7.3.3", [close(1000)], [closed(1000)]),
        Case("7.3.4", [close(1000, "Hello World!")], [closed(1000, "Hello World!")]),
        Case("7.3.5", [close(1000, reason)], [closed(1000, reason)]),
        Case("7.3.6", [close(1000, reason + "*")], [], E_CONTROL_TOO_LONG),
        Case("7.5.1", [F(CLOSE, b"\x03\xe8" + INVALID_TAIL)], [], ERR_CLOSE_REASON),
    ]
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        cases.append(Case(f"7.7.{i}", [close(code)], [closed(code)]))
    # 1012-1014 were registered after the suite's 7.9.x list was written
    # (IANA); docs/api.md accepts them, so they are valid here.
    for i, code in enumerate([1012, 1013, 1014], len(valid) + 1):
        cases.append(Case(f"7.7.{i}", [close(code)], [closed(code)]))
    invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid, 1):
        cases.append(Case(f"7.9.{i}", [close(code)], [], ERR_CLOSE_CODE))
    cases += [
        Case("7.13.1", [close(5000)], [], ERR_CLOSE_CODE),
        Case("7.13.2", [close(65535)], [], ERR_CLOSE_CODE),
    ]
    return cases


def section9() -> list[Case]:
    cases = []
    sizes = [64 * 2**10, 256 * 2**10, 2**20, 4 * 2**20, 8 * 2**20, 16 * 2**20]
    for i, n in enumerate(sizes, 1):
        cases.append(Case(f"9.1.{i}", [F(TEXT, b"*" * n)], [text("*" * n)], chops=(65536,)))
        cases.append(Case(f"9.2.{i}", [F(BINARY, b"\xfe" * n)], [binary(b"\xfe" * n)], chops=(65536,)))
    n = 4 * 2**20
    for i, size in enumerate([64, 256, 2**10, 4 * 2**10, 16 * 2**10, 64 * 2**10, 256 * 2**10, 2**20, 4 * 2**20], 1):
        pieces = n // size
        cases.append(Case(f"9.3.{i}", [F(TEXT if j == 0 else CONTINUATION, b"*" * size, fin=j == pieces - 1)
                                       for j in range(pieces)], [text("*" * n)]))
        cases.append(Case(f"9.4.{i}", [F(BINARY if j == 0 else CONTINUATION, b"\xfe" * size, fin=j == pieces - 1)
                                       for j in range(pieces)], [binary(b"\xfe" * n)]))
    for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
        cases.append(Case(f"9.5.{i}", [F(TEXT, b"*" * 2**20)], [text("*" * 2**20)], chops=(chop,)))
        cases.append(Case(f"9.6.{i}", [F(BINARY, b"\xfe" * 2**20)], [binary(b"\xfe" * 2**20)], chops=(chop,)))
    for i, size in enumerate([0, 16, 64, 256, 1024, 4096], 1):
        cases.append(Case(f"9.7.{i}", [F(TEXT, b"*" * size)] * 1000, [text("*" * size)] * 1000))
        cases.append(Case(f"9.8.{i}", [F(BINARY, b"\xfe" * size)] * 1000, [binary(b"\xfe" * size)] * 1000))
    return cases


CASES = section1() + section2() + section3() + section4() + section5() + section6() + section7() + section9()
assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"


@functools.lru_cache(maxsize=8)
def wire_of(case_id: str, masked: bool) -> tuple[bytes, list[int]]:
    return BY_ID[case_id].wire(masked)


BY_ID = {c.id: c for c in CASES}


def feeds(case: Case, wire: bytes) -> dict[str, list[bytes]]:
    out = {"whole": [wire], "random": random_splits(wire, seed=len(wire), max_chunk=max(40, len(wire) // 500))}
    if len(wire) <= BYTEWISE_LIMIT:
        out["bytewise"] = bytewise(wire)
    for chop in case.chops:
        out[f"chop{chop}"] = [wire[i : i + chop] for i in range(0, len(wire), chop)]
    return out


@pytest.mark.parametrize("direction", ["client-to-server", "server-to-client"])
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_autobahn_case(backend, case_id, direction):
    case = BY_ID[case_id]
    masked = direction == "client-to-server"
    role = "server" if masked else "client"
    wire, text_offsets = wire_of(case_id, masked)
    for name, chunks in feeds(case, wire).items():
        outcome = run(backend.Decoder(role=role), chunks)
        assert outcome.events == case.events, (case_id, name)
        assert outcome.error == case.error, (case_id, name)
        assert outcome.sticky, (case_id, name)
        if name == "bytewise" and case.error == ERR_TEXT:
            # Fail fast: the feed delivering the first invalid byte raises
            # (or the last byte, when the text ends inside a code point).
            data = case.text_bytes()
            index = utf8_error_index(data)
            assert index is not None
            expected = text_offsets[min(index, len(data) - 1)]
            assert outcome.error_at == expected, (case_id, outcome.error_at, expected)
    if case.error is None:
        echo(backend, case, masked)


def echo(backend, case: Case, masked: bool) -> None:
    """The expected messages, encoded back and decoded by the peer, round-trip."""
    encoder = backend.Encoder(role="client" if masked else "server")
    wire = b""
    for event in case.events:
        if event[0] == "close":
            wire += encoder.close(event[1], event[2])
            continue
        _, opcode, data = event
        if opcode == TEXT:
            wire += encoder.text(data)
        elif opcode == BINARY:
            wire += encoder.binary(data)
        elif opcode == PING:
            wire += encoder.ping(data)
        else:
            wire += encoder.pong(data)
    outcome = run(backend.Decoder(role="server" if masked else "client"), [wire])
    assert outcome.error is None
    assert outcome.events == case.events
