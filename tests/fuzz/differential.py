"""The differential check behind the fuzzer and tests/test_fuzz_corpus.py (issue 8).

One fuzz input is one whole scenario. Its last bytes choose what to drive
(``Decoder``, ``FrameDecoder``, ``Utf8Validator`` and ``validate_utf8``, or
the masking functions), the settings (role, small or default limits,
permessage-deflate parameters, ``decode_text``, the kernel level), and how
the stream is cut into ``feed`` calls and wrapped (bytes, bytearray,
memoryview at an offset, array, non-contiguous view). Its first bytes are the
stream. The layout follows atheris' ``FuzzedDataProvider`` (integers from the
end, bytes from the front), and :class:`Provider` reproduces it in pure
Python, so the corpus replays in the ordinary test suite without atheris.

:func:`check` runs a scenario on the backend under test and on the pure-Python
reference, and requires, step by step, the same events and the same
exceptions (type, close code, reason, message). It also checks what the API
promises whatever the backend: ``feed`` ends in events or a clean
``ProtocolError`` (1002/1007/1009, a reason that fits a close frame), the
error is sticky, limits hold, the whole stream fed at once gives what the
chunks gave, decoded frames written back by ``encode_frame`` decode to
themselves (and the same bytes in both backends), valid UTF-8 is what
``bytes.decode`` accepts, masking twice is the identity and masking in chunks
equals masking at once.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsfast.constants import DEFAULT_MAX_MESSAGE_SIZE, GIL_RELEASE_THRESHOLD, MAX_CLOSE_REASON
from wsfast.deflate import PerMessageDeflate
from wsfast.exceptions import ProtocolError

# ---- Reading a scenario from bytes ----------------------------------------------


class Provider:
    """The part of ``atheris.FuzzedDataProvider`` the scenarios use, byte-exact.

    ``ConsumeIntInRange`` takes one byte from the end per 8 bits of the
    range's width (none for a range of one value) and reduces modulo the
    range; ``ConsumeBytes`` takes from the front. Running out yields 0 and
    empty bytes, as atheris does.
    """

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._front = 0
        self._back = len(self._data)

    def remaining_bytes(self) -> int:
        return self._back - self._front

    def ConsumeIntInRange(self, lo: int, hi: int) -> int:
        span = hi - lo
        width = span.bit_length()
        result = 0
        offset = 0
        while offset < width and span >> offset and self._back > self._front:
            self._back -= 1
            result = (result << 8) | self._data[self._back]
            offset += 8
        return lo + result % (span + 1)

    def ConsumeBytes(self, count: int) -> bytes:
        count = min(count, self.remaining_bytes())
        out = self._data[self._front : self._front + count]
        self._front += count
        return out


class Trailer:
    """The inverse of :class:`Provider` for integers: builds a scenario's end.

    Only ranges below 2**16 are used, so a value is one or two bytes.
    """

    def __init__(self) -> None:
        self._taken: list[int] = []  # in the order Provider takes them

    def ConsumeIntInRange(self, lo: int, hi: int, value: int) -> int:
        assert lo <= value <= hi and hi - lo < 2**16
        offset = value - lo
        if hi - lo > 255:
            self._taken += [offset >> 8, offset & 0xFF]
        elif hi > lo:
            self._taken.append(offset)
        return value

    def finish(self, stream: bytes) -> bytes:
        return stream + bytes(reversed(self._taken))


# Message and frame size limits: the edges of the 7/16/64-bit length forms
# and of a control payload, small ones that real messages cross, and the
# default. (No "no limit": a header may then declare a payload of any size,
# which both backends would allocate; the unit tests cover None.)
LIMITS = (
    0,
    1,
    2,
    3,
    10,
    124,
    125,
    126,
    127,
    128,
    200,
    1000,
    65535,
    65536,
    2**20,
    DEFAULT_MAX_MESSAGE_SIZE,
)
TARGETS = ("decoder", "decoder", "decoder", "decoder", "frames", "frames", "utf8", "mask")
# Arguments of mask_inplace(offset=...): ordinary phases, negatives, the
# edges of C long and of 64 bits, and two wrong types.
OFFSETS: tuple[Any, ...] = (
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    -1,
    -3,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64 + 3,
    True,
    1.5,
)
# How a chunk is passed: 0 bytes, 1 bytearray, 2 memoryview of a bytearray at
# offset 1, 3 array('B'), 4 read-only memoryview at offset 1, 5 non-contiguous
# memoryview (a bad buffer unless at most one byte long), 6-7 bytes.
BUFFER_KINDS = 8
BAD_BUFFER_KIND = 5
MAX_CHUNKS = 32


def wrap(chunk: bytes, kind: int) -> Any:
    """``chunk`` as buffer kind ``kind`` (a fresh, unshared object)."""
    if kind == 1:
        return bytearray(chunk)
    if kind == 2:
        return memoryview(bytearray(b"\xa5" + chunk))[1:]
    if kind == 3:
        return array.array("B", chunk)
    if kind == 4:
        return memoryview(b"\xa5" + chunk)[1:]
    if kind == BAD_BUFFER_KIND:
        spread = bytearray(2 * len(chunk))
        spread[::2] = chunk
        return memoryview(spread)[::2]
    return bytes(chunk)


@dataclass
class Scenario:
    target: str
    kernel: int = 0  # index into the compiled backend's kernel levels
    big: bool = False  # the stream repeated past GIL_RELEASE_THRESHOLD
    server: bool = True
    limit: int = DEFAULT_MAX_MESSAGE_SIZE
    decode_text: bool = True
    deflate: dict[str, Any] | None = None  # PerMessageDeflate arguments
    allow_rsv: int = 0
    key_kind: int = 0
    key: int = 0
    offset: Any = 0
    plan: list[tuple[int, int]] = field(default_factory=list)  # (size, kind)
    stream: bytes = b""  # as read; see data

    @property
    def role(self) -> str:
        return "server" if self.server else "client"

    @property
    def data(self) -> bytes:
        """The stream fed: repeated until the kernels release the GIL, when big."""
        if self.big and self.stream:
            return self.stream * (GIL_RELEASE_THRESHOLD // len(self.stream) + 1)
        return self.stream

    def chunks(self) -> list[tuple[bytes, int]]:
        """The stream cut by the plan; what the plan leaves is one last bytes chunk."""
        data = self.data
        out = []
        pos = 0
        for size, kind in self.plan:
            if pos >= len(data):
                break
            out.append((data[pos : pos + size], kind))
            pos += size
        if pos < len(data) or not out:
            out.append((data[pos:], 0))
        return out


def read_scenario(fdp: Any) -> Scenario:
    """Read a scenario from a FuzzedDataProvider or a :class:`Provider`.

    Every range is below 2**16 (one or two bytes), so :func:`write_scenario`
    can produce any scenario; keep the two in step.
    """
    take = fdp.ConsumeIntInRange
    sc = Scenario(TARGETS[take(0, len(TARGETS) - 1)])
    sc.kernel = take(0, 255)
    sc.big = take(0, 15) == 15
    if sc.target in ("decoder", "frames"):
        sc.server = bool(take(0, 1))
        sc.limit = LIMITS[take(0, len(LIMITS) - 1)]
        if sc.target == "decoder":
            sc.decode_text = bool(take(0, 1))
            if take(0, 1):
                sc.deflate = {
                    "server_no_context_takeover": bool(take(0, 1)),
                    "client_no_context_takeover": bool(take(0, 1)),
                    "server_max_window_bits": take(8, 15),
                    "client_max_window_bits": take(8, 15),
                }
        else:
            sc.allow_rsv = take(0, 7)
    elif sc.target == "mask":
        sc.key_kind = take(0, 7)
        sc.key = take(0, 0xFFFF) | take(0, 0xFFFF) << 16
        sc.offset = OFFSETS[take(0, len(OFFSETS) - 1)]
    for _ in range(take(0, MAX_CHUNKS)):
        value = take(0, 256 * BUFFER_KINDS - 1)
        sc.plan.append((value // BUFFER_KINDS, value % BUFFER_KINDS))
    sc.stream = fdp.ConsumeBytes(fdp.remaining_bytes())
    return sc


def write_scenario(sc: Scenario) -> bytes:
    """The fuzz input that :func:`read_scenario` reads back as ``sc``."""
    t = Trailer()
    t.ConsumeIntInRange(0, len(TARGETS) - 1, TARGETS.index(sc.target))
    t.ConsumeIntInRange(0, 255, sc.kernel)
    t.ConsumeIntInRange(0, 15, 15 if sc.big else 0)
    if sc.target in ("decoder", "frames"):
        t.ConsumeIntInRange(0, 1, int(sc.server))
        t.ConsumeIntInRange(0, len(LIMITS) - 1, LIMITS.index(sc.limit))
        if sc.target == "decoder":
            t.ConsumeIntInRange(0, 1, int(sc.decode_text))
            t.ConsumeIntInRange(0, 1, int(sc.deflate is not None))
            if sc.deflate is not None:
                t.ConsumeIntInRange(0, 1, int(sc.deflate["server_no_context_takeover"]))
                t.ConsumeIntInRange(0, 1, int(sc.deflate["client_no_context_takeover"]))
                t.ConsumeIntInRange(8, 15, sc.deflate["server_max_window_bits"])
                t.ConsumeIntInRange(8, 15, sc.deflate["client_max_window_bits"])
        else:
            t.ConsumeIntInRange(0, 7, sc.allow_rsv)
    elif sc.target == "mask":
        t.ConsumeIntInRange(0, 7, sc.key_kind)
        t.ConsumeIntInRange(0, 0xFFFF, sc.key & 0xFFFF)
        t.ConsumeIntInRange(0, 0xFFFF, sc.key >> 16)
        t.ConsumeIntInRange(0, len(OFFSETS) - 1, OFFSETS.index(sc.offset))
    t.ConsumeIntInRange(0, MAX_CHUNKS, len(sc.plan))
    for size, kind in sc.plan:
        t.ConsumeIntInRange(0, 256 * BUFFER_KINDS - 1, size * BUFFER_KINDS + kind)
    return t.finish(sc.stream)


# ---- Running a scenario on one backend ------------------------------------------


def event_tuple(event: Any) -> tuple[Any, ...]:
    """An event as plain values, types included (str vs bytes, Opcode vs int)."""
    name = type(event).__name__
    if name == "Frame":
        return (
            name,
            repr(event.opcode),
            int(event.opcode),
            event.fin,
            event.rsv1,
            event.rsv2,
            event.rsv3,
            event.payload,
        )
    if name == "Message":
        return (name, repr(event.opcode), type(event.data).__name__, event.data)
    if name == "Close":
        return (name, event.code, event.reason)
    return ("unexpected event", name, repr(event))


def described(events: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The reprs (the same in both backends too) and the tuples of ``events``."""
    return [repr(e) for e in events], [event_tuple(e) for e in events]


def exception_step(exc: BaseException) -> tuple[Any, ...]:
    return ("raised", type(exc).__name__, str(exc))


def run_reader(api: Any, sc: Scenario, chunks: list[tuple[bytes, int]]) -> list[tuple[Any, ...]]:
    """Feed a Decoder or FrameDecoder; one step per call, stopping at the first error."""
    if sc.target == "decoder":
        pmd = None if sc.deflate is None else PerMessageDeflate(**sc.deflate)
        reader = api.Decoder(
            role=sc.role, max_message_size=sc.limit, deflate=pmd, decode_text=sc.decode_text
        )
    else:
        reader = api.FrameDecoder(role=sc.role, max_frame_size=sc.limit, allow_rsv=sc.allow_rsv)
    steps: list[tuple[Any, ...]] = []
    for chunk, kind in chunks:
        try:
            events = reader.feed(wrap(chunk, kind))
        except ProtocolError as exc:
            steps.append(("error", exc.code, exc.reason, *described(exc.events)))
            try:
                reader.feed(b"\x81\x80")
            except ProtocolError as again:
                steps.append(("again", again.code, again.reason, len(again.events)))
            except Exception as other:  # noqa: BLE001 (recorded, then judged)
                steps.append(exception_step(other))
            else:
                steps.append(("not sticky",))
            return steps
        except Exception as exc:  # noqa: BLE001
            steps.append(exception_step(exc) + (kind,))
            continue
        steps.append(("events", *described(events)))
    return steps


# The masking key of re-encoded frames (fixed, so both backends write the same bytes).
REENCODE_KEY = bytes.fromhex("37fa213d")


def reencode(api: Any, sc: Scenario, steps: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The decoded frames written back by encode_frame, and that stream decoded again."""
    frames = [e for step in steps if step[0] in ("events", "error") for e in step[-1]]
    try:
        wire = b"".join(
            api.encode_frame(
                opcode,
                payload,
                fin=fin,
                rsv1=rsv1,
                rsv2=rsv2,
                rsv3=rsv3,
                mask=REENCODE_KEY if sc.server else None,
            )
            for _, _, opcode, fin, rsv1, rsv2, rsv3, payload in frames
        )
    except Exception as exc:  # noqa: BLE001
        return exception_step(exc)
    return ("reencoded", frames, wire, run_reader(api, sc, [(wire, 0)]))


def run_utf8(api: Any, sc: Scenario, chunks: list[tuple[bytes, int]]) -> list[tuple[Any, ...]]:
    steps: list[tuple[Any, ...]] = []
    validator = api.Utf8Validator()
    legacy = api.Utf8Validator()
    for chunk, kind in chunks:
        try:
            ok = validator.feed(wrap(chunk, kind))
            steps.append(("feed", ok, validator.valid, validator.error_offset, validator.consumed))
        except Exception as exc:  # noqa: BLE001
            steps.append(exception_step(exc) + (kind,))
        try:
            steps.append(("validate", legacy.validate(wrap(chunk, kind))))
        except Exception as exc:  # noqa: BLE001
            steps.append(exception_step(exc) + (kind,))
    steps.append(("finish", validator.finish(), legacy.finish()))
    # The whole stream as the first chunk's kind of buffer (a good one).
    kind = sc.plan[0][1] if sc.plan and sc.plan[0][1] != BAD_BUFFER_KIND else 0
    steps.append(("whole", api.validate_utf8(wrap(sc.data, kind))))
    validator.reset()
    steps.append(
        (
            "reset",
            validator.valid,
            validator.error_offset,
            validator.consumed,
            validator.feed(sc.data),
            validator.finish(),
            validator.error_offset,
        )
    )
    return steps


def make_key(sc: Scenario) -> Any:
    key = sc.key.to_bytes(4, "little")
    return (
        key,
        bytearray(key),
        memoryview(b"\x00" + key)[1:],
        array.array("B", key),
        key[:3],
        key + b"\x00",
        key.decode("latin-1"),
        sc.key,
    )[sc.key_kind]


def run_mask(api: Any, sc: Scenario, chunks: list[tuple[bytes, int]]) -> list[tuple[Any, ...]]:
    steps: list[tuple[Any, ...]] = []
    key = make_key(sc)
    try:
        steps.append(("mask", api.mask(sc.data, key)))
    except Exception as exc:  # noqa: BLE001
        steps.append(exception_step(exc))
    offset = sc.offset
    for chunk, kind in chunks:
        buffer = wrap(chunk, kind)
        try:
            offset = api.mask_inplace(buffer, key, offset)
            steps.append(("inplace", bytes(buffer), offset))
        except Exception as exc:  # noqa: BLE001
            steps.append(exception_step(exc) + (kind,))
    try:
        masker = api.Masker(key)
    except Exception as exc:  # noqa: BLE001
        steps.append(exception_step(exc))
        return steps
    for chunk, kind in chunks:
        try:
            steps.append(("process", masker.process(wrap(chunk, kind)), masker.offset))
        except Exception as exc:  # noqa: BLE001
            steps.append(exception_step(exc) + (kind,))
    masker.reset()
    steps.append(("reset", masker.offset))
    return steps


RUNNERS: dict[str, Callable[[Any, Scenario, list[tuple[bytes, int]]], list[tuple[Any, ...]]]] = {
    "decoder": run_reader,
    "frames": run_reader,
    "utf8": run_utf8,
    "mask": run_mask,
}


def run(api: Any, sc: Scenario) -> list[tuple[Any, ...]]:
    return RUNNERS[sc.target](api, sc, sc.chunks())


# ---- What holds whatever the backend ------------------------------------------------


class Mismatch(AssertionError):
    pass


def fail(what: str, sc: Scenario, **shown: Any) -> None:
    lines = [what, f"scenario: {short(sc)}"]
    lines += [f"{name}: {short(value)}" for name, value in shown.items()]
    raise Mismatch("\n".join(lines))


def short(value: Any, limit: int = 3000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"...<{len(text)} chars>"


def accepted(chunks: list[tuple[bytes, int]], steps: list[tuple[Any, ...]]) -> bytes:
    """The bytes the reader actually took: chunks that were not refused as buffers."""
    taken = []
    for (chunk, _kind), step in zip(chunks, steps):
        if step[0] in ("events", "error"):
            taken.append(chunk)
    return b"".join(taken)


def check_reader(api: Any, sc: Scenario, steps: list[tuple[Any, ...]]) -> None:
    chunks = sc.chunks()
    for (_chunk, kind), step in zip(chunks, steps):
        if step[0] == "raised" and not (
            kind == BAD_BUFFER_KIND and step[1] in ("TypeError", "ValueError")
        ):
            fail("feed raised something other than ProtocolError", sc, step=step)
    last = steps[-1] if steps else ("events",)
    if last[0] == "not sticky" or last[0] == "raised" and len(last) == 3:
        fail("after an error, feed did not raise it again", sc, steps=steps)
    if last[0] == "again":
        code, reason = steps[-2][1:3]
        if last[1:] != (code, reason, 0):
            fail("the repeated error differs", sc, first=steps[-2], again=last)
        if code not in (1002, 1007, 1009) or len(reason.encode("utf-8")) > MAX_CLOSE_REASON:
            fail("bad close code or reason", sc, error=steps[-2])
    events = [e for step in steps if step[0] in ("events", "error") for e in step[-1]]
    for event in events:
        if event[0] == "Frame" and len(event[-1]) > sc.limit:
            fail("a frame over max_frame_size", sc, event=event)
        if event[0] == "Message":
            data = event[-1]
            size = len(data.encode("utf-8") if isinstance(data, str) else data)
            if size > max(sc.limit, 125):
                fail("a message over max_message_size", sc, event=event)
            if "TEXT" in event[1] and event[2] != ("str" if sc.decode_text else "bytes"):
                fail("text delivered as the wrong type", sc, event=event)
        if event[0] == "unexpected event":
            fail("an event of an unexpected type", sc, event=event)
    # The same bytes fed at once: the same events, then the same error.
    whole = run_reader(api, sc, [(accepted(chunks, steps), 0)])
    flat = [e for step in whole if step[0] in ("events", "error") for e in step[-1]]
    error = [step[:3] for step in steps if step[0] == "error"]
    whole_error = [step[:3] for step in whole if step[0] == "error"]
    if flat != events or whole_error != error:
        fail("feeding in chunks and at once disagree", sc, chunked=steps, at_once=whole)


def check_utf8(sc: Scenario, steps: list[tuple[Any, ...]]) -> None:
    try:
        sc.data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    whole = next(step for step in steps if step[0] == "whole")
    reset = next(step for step in steps if step[0] == "reset")
    if whole[1] != valid or reset[5] != valid:
        fail("validate_utf8 disagrees with bytes.decode", sc, whole=whole, reset=reset)


def check_mask(sc: Scenario, api: Any, steps: list[tuple[Any, ...]]) -> None:
    if steps[0][0] != "mask":
        return
    key = make_key(sc)
    if api.mask(steps[0][1], key) != sc.data:
        fail("masking twice is not the identity", sc, masked=steps[0][1])
    inplace = [step for step in steps if step[0] == "inplace"]
    whole = steps[0][1]
    chunked = sc.offset == 0 and len(inplace) == len(sc.chunks())
    if chunked and b"".join(step[1] for step in inplace) != whole:
        fail("masking in chunks differs from masking at once", sc, steps=steps)
    processed = [step for step in steps if step[0] == "process"]
    chunked = len(processed) == len(sc.chunks())
    if chunked and b"".join(step[1] for step in processed) != whole:
        fail("Masker.process in chunks differs from mask", sc, steps=steps)


def check(
    data: bytes,
    api: Any,
    reference: Any,
    *,
    provider: Any = Provider,
    set_kernel: Callable[[int], None] | None = None,
) -> Scenario:
    """Run the scenario ``data`` encodes on ``api`` and ``reference``; raise Mismatch
    when they differ or when ``api`` breaks a promise of the API.

    Args:
        provider: the FuzzedDataProvider class (atheris' or :class:`Provider`).
        set_kernel: called with the scenario's kernel index before running
            (the fuzzer's way to cover every kernel; the tests pin one instead).
    """
    sc = read_scenario(provider(data))
    if set_kernel is not None:
        set_kernel(sc.kernel)
    got = run(api, sc)
    want = run(reference, sc) if reference is not api else got
    if got != want:
        fail("the backends disagree", sc, got=got, want=want)
    if sc.target == "frames":
        # encode_frame (csrc/frame_header.c's builder) on what was decoded.
        mine = reencode(api, sc, got)
        theirs = reencode(reference, sc, want) if reference is not api else mine
        if mine != theirs:
            fail("the backends re-encode differently", sc, got=mine, want=theirs)
        if mine[0] != "reencoded":
            fail("encode_frame refused a decoded frame", sc, reencoded=mine)
        redecoded = mine[-1]
        again = [e for step in redecoded if step[0] == "events" for e in step[-1]]
        if again != mine[1] or any(step[0] != "events" for step in redecoded):
            fail("re-encoded frames do not decode to themselves", sc, reencoded=mine)
    if sc.target in ("decoder", "frames"):
        check_reader(api, sc, got)
    elif sc.target == "utf8":
        check_utf8(sc, got)
    else:
        check_mask(sc, api, got)
    return sc
