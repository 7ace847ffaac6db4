"""UTF-8 validation (RFC 3629, RFC 6455 §8.1): wsfast against the peers and CPython.

One operation per corpus (ASCII, mostly-ASCII European text, CJK-heavy,
emoji-heavy), each at 125 B (a typical small message), 4 KiB and 1 MiB.
Contenders: wsfast's ``validate_utf8`` and ``Utf8Validator.feed`` (both
backends), wsaccel's and autobahn's validators, and CPython's ``bytes.decode``
and incremental decoder as baselines.
"""

from __future__ import annotations

import codecs
import functools
import random
from typing import Any

from . import Call, Case, Operation, Setup, load
from .mask import WSFAST_BACKENDS, _wsfast_backend

SIZES = (125, 4 * 2**10, 2**20)

# Words drawn at random (fixed seed) so the text does not repeat with a short
# period, which would flatter branch predictors in the byte-at-a-time peers.
CORPORA: dict[str, tuple[str, ...]] = {
    "ascii": (
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "message", "frame",
        "socket", "server", "client", "payload", "header", "length", "mask", "close", "ping",
        "pong", "text", "binary", "stream", "buffer", "0", "1", "2", "42", '{"id":', "7,",
        '"ok":', "true}", "hello", "world,", "data:", "value;", "end.",
    ),
    "european": (
        "Größe", "Übermäßig", "straße", "für", "café", "déjà", "vu", "naïve", "señor", "año",
        "niño", "zażółć", "gęślą", "jaźń", "Ærøskøbing", "smörgåsbord", "crème", "brûlée",
        "façade", "São", "Paulo", "Dvořák", "Łódź", "the", "and", "of", "to", "message", "text",
        "server", "Berlin", "Paris", "Kraków", "Ελλάδα", "Москва",
    ),
    "cjk": (
        "中文", "字符", "测试", "数据", "服务器", "客户端", "消息", "日本語", "テキスト", "ひらがな", "カタカナ", "漢字", "한국어",
        "텍스트", "입니다", "웹소켓", "연결", "，", "。", "、", "「", "」", "OK", "2024",
    ),
    "emoji": (
        "😀", "😃", "😄", "😁", "🚀", "🌍", "🎉", "👍", "🔥", "💯", "🙏", "🤖", "🧪", "🏳️\u200d🌈",
        "👨\u200d👩\u200d👧", "✨", "❤️", "🇵🇱", "ok", "lol",
    ),
}


def corpus(name: str, size: int) -> bytes:
    """About ``size`` bytes of ``name`` text, cut at a code point boundary."""
    rng = random.Random(f"{name}-{size}")
    words = CORPORA[name]
    parts: list[bytes] = []
    length = 0
    while length < size:
        word = (rng.choice(words) + " ").encode()
        parts.append(word)
        length += len(word)
    data = b"".join(parts)[:size]
    while data:
        try:
            data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return data


def _reference(case: Case) -> bool:
    # CPython's strict decoder: independent of the validators under test.
    try:
        case.data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Invalid at a byte (not only unfinished at the end, which a streaming
# validator's feed() still accepts): a stray byte, a surrogate, an overlong
# form, a code point above U+10FFFF; and a valid 4-byte sequence.
_SPLICES = (b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xf0\x9f\x98\x80")


def _variants(case: Case) -> list[Case]:
    """The corpus with each splice at its start, middle and end (for the check)."""
    data: bytes = case.data
    cuts = sorted({0, _boundary(data, len(data) // 2), len(data)})
    return [
        Case(case.size, data=data[:cut] + splice + data[cut:], label=f"{splice!r} at {cut}")
        for splice in _SPLICES
        for cut in cuts
    ]


def _boundary(data: bytes, index: int) -> int:
    while 0 < index < len(data) and data[index] & 0xC0 == 0x80:
        index -= 1
    return index


def _operation(name: str) -> Operation:
    def make_case(size: int) -> Case:
        data = corpus(name, size)
        return Case(size, nbytes=len(data), data=data)

    return Operation(
        f"validate_utf8 {name}",
        family="utf8",
        sizes=SIZES,
        make_case=make_case,
        reference=_reference,
        description=f"validate {name} text",
        variants=_variants,
    )


OPERATIONS = {name: _operation(name) for name in CORPORA}


def _validate_loader(backend: str) -> Setup:
    validate_utf8 = _wsfast_backend(backend).validate_utf8
    return lambda case: Call(validate_utf8, (case.data,))


def _feed_loader(backend: str) -> Setup:
    validator_class = _wsfast_backend(backend).Utf8Validator

    def setup(case: Case) -> Call:
        # One validator per message; fed whole, as a single-frame message is.
        return Call(validator_class().feed, (case.data,))

    return setup


def _decode_setup(case: Case) -> Call:
    # The honest baseline: CPython's own strict decoder (which also builds a str).
    return Call(bytes.decode, (case.data, "utf-8"), output=lambda _: True)


def _codecs_loader() -> Setup:
    decoder_class = codecs.getincrementaldecoder("utf-8")

    def setup(case: Case) -> Call:
        return Call(decoder_class().decode, (case.data, True), output=lambda _: True)

    return setup


def _validator_setup(validator_class: Any) -> Setup:
    def setup(case: Case) -> Call:
        # The object is built outside the timed call (the most generous way to
        # time a peer); validate() returns (valid, ends_on_code_point, ...).
        return Call(validator_class().validate, (case.data,), output=lambda r: bool(r[0] and r[1]))

    return setup


def _wsaccel_loader() -> Setup:
    return _validator_setup(load("wsaccel.utf8validator", "Utf8Validator"))


def _autobahn_loader() -> Setup:
    validator_class = load("autobahn.websocket.utf8validator", "Utf8Validator")
    if not load("autobahn.websocket", "USES_NVX"):
        raise ImportError("autobahn's NVX (compiled) validator is not available")
    return _validator_setup(validator_class)


for _op in OPERATIONS.values():
    for _backend, _label in WSFAST_BACKENDS:
        _op.contender(_label, kind="wsfast", dist="wsfast")(
            functools.partial(_validate_loader, _backend)
        )
        _op.contender(f"{_label} Utf8Validator", kind="wsfast", dist="wsfast")(
            functools.partial(_feed_loader, _backend)
        )
    _op.contender("wsaccel", dist="wsaccel")(_wsaccel_loader)
    _op.contender("autobahn", dist="autobahn")(_autobahn_loader)
    _op.contender("bytes.decode", kind="baseline")(lambda: _decode_setup)
    _op.contender("codecs incremental", kind="baseline")(_codecs_loader)
