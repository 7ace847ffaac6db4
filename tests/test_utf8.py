"""UTF-8 validation (RFC 3629; RFC 6455 §5.6, §8.1): validate_utf8 and Utf8Validator.

Every test runs against the Python backend and each compiled kernel (the
``backend`` fixture). Expected results come from the independent fail-fast
reference in codec_util (``utf8_error_index``), from CPython's decoder, or
from hand-written tables; never from wsfast itself.
"""

from __future__ import annotations

import array
import functools
import itertools
import random
import threading
from typing import Any

import pytest
from codec_util import utf8_error_index
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsfast.constants import GIL_RELEASE_THRESHOLD

SEED = 0x5EED_0008


def expected(data: bytes) -> tuple[bool, int | None, bool]:
    """(valid so far, error_offset, finish()) after feeding all of ``data``."""
    index = utf8_error_index(data)
    if index is None:
        return (True, None, True)
    if index == len(data):  # a sequence left open: not an error until finish()
        return (True, None, False)
    return (False, index, False)


def fed(backend: Any, data: Any, cuts: tuple[int, ...] = ()) -> tuple[bool, int | None, bool]:
    """Feed ``data`` split at ``cuts``; the validator's verdict."""
    validator = backend.Utf8Validator()
    bounds = [0, *cuts, len(data)]
    results = [validator.feed(data[a:b]) for a, b in itertools.pairwise(bounds)]
    # feed() answers what `valid` says, and stays False once False.
    assert results[-1] == validator.valid
    assert results == sorted(results, reverse=True)
    assert validator.consumed == len(data)
    return (validator.valid, validator.error_offset, validator.finish())


def check(backend: Any, data: bytes) -> None:
    """One feed, validate_utf8 and the reference agree on ``data``."""
    want = expected(data)
    assert fed(backend, data) == want, data
    assert backend.validate_utf8(data) is want[2], data


def encode_all_code_points() -> bytes:
    return "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF).encode()


ALL_CODE_POINTS = functools.cache(encode_all_code_points)


# ---- Fail-fast offsets of every prefix class (RFC 3629 §4, Table 3-7 of Unicode) -------

PREFIX_CLASSES = [
    # (name, bytes, error offset; None: valid; "open": valid but unfinished)
    ("ascii", b"a", None),
    ("2-byte", b"\xc2\x80", None),
    ("2-byte last", b"\xdf\xbf", None),
    ("3-byte first", b"\xe0\xa0\x80", None),
    ("3-byte last before surrogates", b"\xed\x9f\xbf", None),
    ("3-byte first after surrogates", b"\xee\x80\x80", None),
    ("4-byte first", b"\xf0\x90\x80\x80", None),
    ("4-byte last", b"\xf4\x8f\xbf\xbf", None),
    ("overlong 2: C0", b"\xc0\x80", 0),
    ("overlong 2: C1", b"\xc1\xbf", 0),
    ("overlong 3", b"\xe0\x80\x80", 1),
    ("overlong 3 max", b"\xe0\x9f\xbf", 1),
    ("overlong 4", b"\xf0\x80\x80\x80", 1),
    ("overlong 4 max", b"\xf0\x8f\xbf\xbf", 1),
    ("surrogate first", b"\xed\xa0\x80", 1),
    ("surrogate last", b"\xed\xbf\xbf", 1),
    ("above U+10FFFF: F4 90", b"\xf4\x90\x80\x80", 1),
    ("above U+10FFFF: F4 BF", b"\xf4\xbf\xbf\xbf", 1),
    ("above U+10FFFF: F5", b"\xf5\x80\x80\x80", 0),
    ("above U+10FFFF: F7", b"\xf7\xbf\xbf\xbf", 0),
    ("5-byte form", b"\xf8\x88\x80\x80\x80", 0),
    ("6-byte form", b"\xfc\x84\x80\x80\x80\x80", 0),
    ("FE", b"\xfe", 0),
    ("FF", b"\xff", 0),
    ("stray continuation", b"\x80", 0),
    ("stray continuation BF", b"\xbf", 0),
    ("stray after ASCII", b"a\x80", 1),
    ("stray after 2-byte", b"\xc2\x80\x80", 2),
    ("stray after 3-byte", b"\xe2\x82\xac\xbf", 3),
    ("stray after 4-byte", b"\xf0\x9f\x98\x80\x80", 4),
    ("2-byte cut by ASCII", b"\xc2a", 1),
    ("3-byte cut by ASCII", b"\xe2\x82a", 2),
    ("4-byte cut by ASCII", b"\xf0\x9f\x98a", 3),
    ("3-byte cut by a lead", b"\xe2\xc2\x80", 1),
    ("4-byte cut by a lead", b"\xf0\x9f\xf0\x9f\x98\x80", 2),
    ("truncated 2", b"\xc2", "open"),
    ("truncated 3 after 1", b"\xe2", "open"),
    ("truncated 3 after 2", b"\xe2\x82", "open"),
    ("truncated E0", b"\xe0\xa0", "open"),
    ("truncated ED", b"\xed\x9f", "open"),
    ("truncated 4 after 1", b"\xf0", "open"),
    ("truncated 4 after 3", b"\xf0\x9f\x98", "open"),
    ("truncated F4", b"\xf4\x8f\xbf", "open"),
]


@pytest.mark.parametrize(
    ("name", "data", "offset"), PREFIX_CLASSES, ids=[c[0] for c in PREFIX_CLASSES]
)
def test_prefix_class_offsets(
    backend: Any, name: str, data: bytes, offset: int | str | None
) -> None:
    # The table is checked against the reference too, so neither can drift.
    want = expected(data)
    if offset is None:
        assert want == (True, None, True)
    elif offset == "open":
        assert want == (True, None, False)
    else:
        assert want == (False, offset, False)
    # Alone, after ASCII and after 3-byte text of every length up to past the
    # widest SIMD block, and followed by ASCII, so that each kernel sees the
    # class at every position of its blocks and across block edges.
    prefixes = [b"x" * n for n in range(140)] + [("\u4e2d" * n).encode() for n in range(1, 47)]
    for prefix in prefixes:
        for suffix in (b"", b"y" * 70):
            data2 = prefix + data + suffix
            got = fed(backend, data2)
            if offset is None:
                assert got == (True, None, True)
            elif offset == "open":
                # Open at the end: not an error yet; followed by ASCII: fails there.
                end = len(prefix) + len(data)
                assert got == ((False, end, False) if suffix else (True, None, False))
            else:
                assert got == (False, len(prefix) + offset, False)  # type: ignore[operator]
            assert backend.validate_utf8(data2) is got[2]


def test_every_two_byte_prefix(backend: Any) -> None:
    """Every lead byte with every second byte, at the start and mid-block."""
    for pad in (b"", b"p" * 45):
        for lead in range(0x80, 0x100):
            for second in range(0x100):
                data = pad + bytes((lead, second))
                assert fed(backend, data) == expected(data), data


def test_every_three_and_four_byte_prefix_of_the_special_leads(backend: Any) -> None:
    """E0, ED, F0, F4 (the leads with a narrowed second byte) and a plain lead of
    each length, with every second byte and the extreme third and fourth bytes."""
    edge = (0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF)
    for lead in (0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5):
        for second in range(0x100):
            for third in edge:
                for rest in (b"", b"\x80", b"A"):
                    data = b"q" * 20 + bytes((lead, second, third)) + rest
                    assert fed(backend, data) == expected(data), data


# ---- Markus Kuhn's UTF-8 decoder capability and stress test -------------------------
# The cases of https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt, by its
# section numbers, written as data from the file's structure. The expected value is
# the fail-fast offset of the first invalid byte, None when valid, "open" when the
# bytes are a valid but unfinished prefix.


def _kuhn_cases() -> list[tuple[str, bytes, int | str | None]]:
    h = bytes.fromhex
    cases: list[tuple[str, bytes, int | str | None]] = [
        ("1 kosme", "κόσμε".encode(), None),
        # 2.1 first possible sequence of a certain length
        ("2.1.1", b"\x00", None),
        ("2.1.2", h("c280"), None),
        ("2.1.3", h("e0a080"), None),
        ("2.1.4", h("f0908080"), None),
        ("2.1.5", h("f888808080"), 0),
        ("2.1.6", h("fc8480808080"), 0),
        # 2.2 last possible sequence of a certain length
        ("2.2.1", b"\x7f", None),
        ("2.2.2", h("dfbf"), None),
        ("2.2.3", h("efbfbf"), None),
        ("2.2.4", h("f7bfbfbf"), 0),
        ("2.2.5", h("fbbfbfbfbf"), 0),
        ("2.2.6", h("fdbfbfbfbfbf"), 0),
        # 2.3 other boundary conditions
        ("2.3.1 U+D7FF", h("ed9fbf"), None),
        ("2.3.2 U+E000", h("ee8080"), None),
        ("2.3.3 U+FFFD", h("efbfbd"), None),
        ("2.3.4 U+10FFFF", h("f48fbfbf"), None),
        ("2.3.5 U+110000", h("f4908080"), 1),
        # 3.1 unexpected continuation bytes
        ("3.1.1", b"\x80", 0),
        ("3.1.2", b"\xbf", 0),
    ]
    for n in range(2, 8):
        cases.append((f"3.1.{n + 1}", (b"\x80\xbf" * 4)[:n], 0))
    cases.append(("3.1.9 all 64", bytes(range(0x80, 0xC0)), 0))
    # 3.2 lonely start characters, each followed by a space
    for section, leads in (("3.2.1", range(0xC0, 0xE0)), ("3.2.2", range(0xE0, 0xF0)),
                           ("3.2.3", range(0xF0, 0xF8)), ("3.2.4", range(0xF8, 0xFC)),
                           ("3.2.5", range(0xFC, 0xFE))):
        all_of_them = b"".join(bytes((lead, 0x20)) for lead in leads)
        cases.append((section, all_of_them, 0 if leads[0] in (0xC0, 0xF8, 0xFC) else 1))
        for lead in leads:
            starts = 0xC2 <= lead <= 0xF4
            cases.append((f"{section} {lead:02X}", bytes((lead, 0x20)), 1 if starts else 0))
    # 3.3 sequences with the last continuation byte missing
    missing = [
        ("3.3.1", h("c0"), 0), ("3.3.2", h("e080"), 1), ("3.3.3", h("f08080"), 1),
        ("3.3.4", h("f8808080"), 0), ("3.3.5", h("fc80808080"), 0), ("3.3.6", h("df"), "open"),
        ("3.3.7", h("efbf"), "open"), ("3.3.8", h("f7bfbf"), 0), ("3.3.9", h("fbbfbfbf"), 0),
        ("3.3.10", h("fdbfbfbfbf"), 0),
    ]
    cases += missing
    # In the file each is followed by a quote: an open sequence then fails there.
    cases += [(f"{name} quoted", data + b'"', len(data) if want == "open" else want)
              for name, data, want in missing]
    # 3.4 all of 3.3 concatenated; 3.5 impossible bytes
    cases.append(("3.4", b"".join(data for _, data, _ in missing), 0))
    cases += [("3.5.1", b"\xfe", 0), ("3.5.2", b"\xff", 0), ("3.5.3", h("fefeffff"), 0)]
    # 4.1 overlong "/" (U+002F), 4.2 maximum overlongs, 4.3 overlong NUL
    cases += [
        ("4.1.1", h("c0af"), 0), ("4.1.2", h("e080af"), 1), ("4.1.3", h("f08080af"), 1),
        ("4.1.4", h("f8808080af"), 0), ("4.1.5", h("fc80808080af"), 0),
        ("4.2.1", h("c1bf"), 0), ("4.2.2", h("e09fbf"), 1), ("4.2.3", h("f08fbfbf"), 1),
        ("4.2.4", h("f887bfbfbf"), 0), ("4.2.5", h("fc83bfbfbfbf"), 0),
        ("4.3.1", h("c080"), 0), ("4.3.2", h("e08080"), 1), ("4.3.3", h("f0808080"), 1),
        ("4.3.4", h("f880808080"), 0), ("4.3.5", h("fc8080808080"), 0),
    ]
    # 5.1 single UTF-16 surrogates, 5.2 paired ones: rejected at the second byte
    singles = ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"]
    cases += [(f"5.1.{i}", h(s), 1) for i, s in enumerate(singles, 1)]
    high, low = ["eda080", "edadbf", "edae80", "edafbf"], ["edb080", "edbfbf"]
    cases += [(f"5.2.{i}", h(a + b), 1) for i, (a, b) in enumerate(itertools.product(high, low), 1)]
    # 5.3 noncharacters are valid UTF-8
    plane_ends = "".join(chr(n << 16 | end) for n in range(1, 17) for end in (0xFFFE, 0xFFFF))
    cases += [("5.3.1 U+FFFE", h("efbfbe"), None), ("5.3.2 U+FFFF", h("efbfbf"), None),
              ("5.3.3 U+FDD0..U+FDEF", "".join(map(chr, range(0xFDD0, 0xFDF0))).encode(), None),
              ("5.3.4 U+nFFFE U+nFFFF", plane_ends.encode(), None)]
    return cases


KUHN = _kuhn_cases()


@pytest.mark.parametrize(("name", "data", "want"), KUHN, ids=[c[0] for c in KUHN])
def test_kuhn_stress_case(backend: Any, name: str, data: bytes, want: int | str | None) -> None:
    reference = expected(data)
    if want is None:
        assert reference == (True, None, True)
    elif want == "open":
        assert reference == (True, None, False)
    else:
        assert reference == (False, want, False)
    # As in the file (after a "N.N.N  description: " label) and alone.
    label = f"{name}  some description: ".encode()
    for prefix in (b"", label, label * 3):
        data2 = prefix + data
        got = fed(backend, data2)
        assert got == expected(data2)
        if isinstance(want, int):
            assert got[1] == len(prefix) + want
        assert backend.validate_utf8(data2) is got[2]


def test_kuhn_every_split(backend: Any) -> None:
    """Every case, cut in two at every boundary, as well as one byte at a time."""
    for _, data, _ in KUHN:
        data = b"label: " + data + b" |"
        want = fed(backend, data)
        for cut in range(len(data) + 1):
            assert fed(backend, data, (cut,)) == want, (data, cut)
        assert fed(backend, data, tuple(range(1, len(data)))) == want


# ---- Every code point, at every alignment ------------------------------------------


def test_all_code_points_every_alignment(backend: Any) -> None:
    text = ALL_CODE_POINTS()
    for shift in range(64):
        # Shifted in the stream: each encoding meets every position of a block.
        assert backend.validate_utf8(b"a" * shift + text)
        # Shifted in memory, after bytes that are invalid if a kernel reads them.
        assert backend.validate_utf8(memoryview(b"\xff" * shift + text)[shift:])
    assert fed(backend, text) == (True, None, True)


def test_each_code_point_in_a_block(backend: Any) -> None:
    """Each encoding length's edges, alone at every offset of a 128-byte block."""
    edges = [0x00, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF,
             0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF]
    for cp in edges:
        encoded = chr(cp).encode()
        for offset in range(128 - len(encoded)):
            data = b"z" * offset + encoded
            assert backend.validate_utf8(data + b"z" * (128 - len(data)))
            assert backend.validate_utf8(data)
            if len(encoded) > 1:  # cut short: valid so far, but not complete
                assert not backend.validate_utf8(data[:-1])
                assert fed(backend, data[:-1]) == (True, None, False)


def test_all_code_points_streamed(backend: Any) -> None:
    text = ALL_CODE_POINTS()
    for size in (1000, 4093, 65536, 100_003):
        validator = backend.Utf8Validator()
        for pos in range(0, len(text), size):
            assert validator.feed(text[pos : pos + size])
        assert validator.finish()
        assert validator.consumed == len(text)


# ---- Splits: streaming gives exactly the one-feed verdict --------------------------


def split_inputs() -> list[bytes]:
    """Valid text and each prefix class, around SIMD block edges."""
    base = "ab\u00e9\u4e2d\U0001f600".encode()
    inputs = [base * 12, b"x" * 61 + base, b""]
    for _, data, _ in PREFIX_CLASSES:
        inputs += [data, b"w" * 30 + data + b"z" * 40, base * 5 + data + base * 2]
    return inputs


def test_every_split_point(backend: Any) -> None:
    for data in split_inputs():
        want = expected(data)
        assert fed(backend, data) == want
        for cut in range(len(data) + 1):
            assert fed(backend, data, (cut,)) == want, (data, cut)


def test_every_chunk_size(backend: Any) -> None:
    for data in split_inputs():
        want = expected(data)
        for size in range(1, len(data) + 1):
            assert fed(backend, data, tuple(range(size, len(data), size))) == want, (data, size)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_random_bytes_random_splits(backend: Any, data: bytes, cuts: list[int]) -> None:
    cuts = sorted(c for c in set(cuts) if c <= len(data))
    assert fed(backend, data, tuple(cuts)) == expected(data)
    assert backend.validate_utf8(data) is expected(data)[2]


# ---- Seeded corruption loop: each kernel vs the scalar kernel, the reference and CPython


def random_text(rng: random.Random, size: int) -> bytes:
    pools = [(0x20, 0x7F), (0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000)]
    weights = rng.choice([(8, 1, 1, 1, 1), (1, 1, 1, 1, 1), (0, 1, 4, 1, 0), (1, 0, 0, 0, 4)])
    out = []
    length = 0
    while length < size:
        low, high = rng.choices(pools, weights)[0]
        char = chr(rng.randrange(low, high))
        out.append(char)
        length += len(char.encode())
    return "".join(out).encode()


def corrupted_inputs(count: int) -> list[bytes]:
    rng = random.Random(SEED)
    specials = [0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0x41, 0xA0, 0x90]
    inputs = []
    for i in range(count):
        size = rng.randrange(0, 40) if i % 3 else rng.randrange(0, 300)
        data = bytearray(random_text(rng, size))
        if data:
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256) if i % 2 else rng.choice(specials)
        inputs.append(bytes(data))
    return inputs


def test_corruption_loop(backend: Any) -> None:
    inputs = corrupted_inputs(4000)
    results = [(backend.validate_utf8(data), fed(backend, data)) for data in inputs]
    for data, (whole, streamed) in zip(inputs, results):
        try:
            data.decode("utf-8")
            cpython = True
        except UnicodeDecodeError:
            cpython = False
        assert whole is cpython, data
        assert streamed == expected(data), data
    if backend.name == "c":
        # Byte-exact agreement with the C reference, the scalar kernel.
        kernel = backend._current_kernel()
        backend._set_kernel("scalar")
        try:
            scalar = [(backend.validate_utf8(data), fed(backend, data)) for data in inputs]
        finally:
            backend._set_kernel(kernel)
        assert results == scalar


# ---- Validator state: stickiness, finish, reset, the wsaccel quad ----------------------


def test_validator_lifecycle(backend: Any) -> None:
    validator = backend.Utf8Validator()
    assert (validator.valid, validator.error_offset, validator.consumed) == (True, None, 0)
    assert validator.finish()
    assert validator.feed(b"caf\xc3")
    assert not validator.finish()  # an open sequence is not valid yet...
    assert validator.valid  # ...nor an error, and finish() changed nothing
    assert validator.feed(b"\xa9 \xed\x9f")
    assert not validator.feed(b"\xbf\xed\xa0\x80 more")  # ED A0 fails at A0
    assert (validator.valid, validator.error_offset, validator.consumed) == (False, 10, 17)
    assert not validator.feed(b"plain ascii")  # sticky
    assert not validator.feed(b"")
    assert (validator.error_offset, validator.consumed) == (10, 28)
    assert not validator.finish()
    validator.reset()
    assert (validator.valid, validator.error_offset, validator.consumed) == (True, None, 0)
    assert validator.feed(b"\xf0\x9f") and validator.feed(b"\x98\x80") and validator.finish()
    validator.reset()
    assert validator.feed(b"\xf0\x9f")
    validator.reset()  # reset also forgets an open sequence
    assert not validator.feed(b"\x98")
    assert validator.error_offset == 0


def test_validate_quad_matches_wsaccel_semantics(backend: Any) -> None:
    validator = backend.Utf8Validator()
    assert validator.validate(b"ab\xe2\x82") == (True, False, 4, 4)
    assert validator.validate(b"\xac") == (True, True, 1, 5)
    assert validator.validate(b"") == (True, True, 0, 5)
    assert validator.validate(b" x\xed\xa0\x80zz") == (False, False, 3, 8)
    # After a failure, as wsaccel (and autobahn's pure-Python validator) answer:
    assert validator.validate(b"a") == (False, False, 0, 8)
    assert validator.validate(b"") == (True, False, 0, 8)
    validator.reset()
    assert validator.validate(b"ok") == (True, True, 2, 2)
    assert validator.validate(b"\xf4\x90") == (False, False, 1, 3)


def test_validate_and_feed_share_state(backend: Any) -> None:
    validator = backend.Utf8Validator()
    assert validator.feed(b"\xe4\xb8")
    assert validator.validate(b"\xad!") == (True, True, 2, 4)
    assert validator.validate(b"\xe4") == (True, False, 1, 5)
    assert not validator.feed(b"\xb8\xe4")
    assert validator.error_offset == 6


# ---- Buffers, large inputs, bad arguments -------------------------------------------


def test_buffer_types(backend: Any) -> None:
    good = "zażółć gęślą jaźń \U0001f600".encode()
    bad = good[:5] + b"\xc0" + good[6:]
    for data, valid in ((good, True), (bad, False)):
        views = [bytearray(data), memoryview(data), array.array("B", data),
                 memoryview(b"\xff" * 3 + data + b"\xff")[3:-1]]
        # At every address offset, after bytes a kernel must not read.
        views += [memoryview(b"\xff" * k + data)[k:] for k in range(1, 8)]
        for view in views:
            assert backend.validate_utf8(view) is valid
            validator = backend.Utf8Validator()
            assert validator.feed(view) is valid
            assert validator.error_offset == (None if valid else 5)
            assert backend.Utf8Validator().validate(view)[0] is valid
    # Items wider than a byte count as their bytes.
    for items in ([0xA9C3, 0x4141], [0xA9C3, 0x41C3], [0xFFFF, 0x4141]):
        wide = array.array("H", items)
        raw = wide.tobytes()
        assert backend.validate_utf8(wide) is (utf8_error_index(raw) is None), raw


@pytest.mark.parametrize("bad", ["text", 42, None, [0x41], object()], ids=["str", "int", "None", "list", "object"])
def test_not_a_buffer(backend: Any, bad: Any) -> None:
    with pytest.raises(TypeError):
        backend.validate_utf8(bad)
    validator = backend.Utf8Validator()
    with pytest.raises(TypeError):
        validator.feed(bad)
    with pytest.raises(TypeError):
        validator.validate(bad)
    assert (validator.valid, validator.consumed) == (True, 0)  # a rejected call changes nothing
    assert not validator.feed(b"\xff")
    with pytest.raises(TypeError):  # still checked after an error
        validator.feed(bad)


def test_not_contiguous(backend: Any) -> None:
    strided = memoryview(b"a\xffb\xffc\xff")[::2]
    with pytest.raises((ValueError, TypeError)):
        backend.validate_utf8(strided)
    with pytest.raises((ValueError, TypeError)):
        backend.Utf8Validator().feed(strided)


def test_same_exceptions_as_python(backend: Any, py_backend: Any) -> None:
    for bad in ("text", 42, memoryview(b"abcd")[::2]):
        with pytest.raises(Exception) as ours:
            backend.validate_utf8(bad)
        with pytest.raises(Exception) as theirs:
            py_backend.validate_utf8(bad)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_large_buffers_release_the_gil(backend: Any) -> None:
    """Inputs at and above GIL_RELEASE_THRESHOLD, from several threads at once."""
    text = ("ascii and \u00e9t\u00e9 and \u4e2d\u6587 and \U0001f600 " * 20000).encode()
    sizes = [GIL_RELEASE_THRESHOLD - 1, GIL_RELEASE_THRESHOLD, len(text)]
    cases = []
    for size in sizes:
        chunk = text[:size]
        cases.append((chunk, expected(chunk)))
        broken = chunk[:-7] + b"\xed\xa0\x80" + chunk[-4:]
        cases.append((broken, expected(broken)))
    failures: list[Any] = []

    def work() -> None:
        for data, want in cases:
            got = fed(backend, data)
            if got != want or backend.validate_utf8(data) is not want[2]:
                failures.append((len(data), got, want))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_kernel_name_reported(backend: Any) -> None:
    name = backend.KERNEL_NAMES["utf8"]
    if backend.name == "python":
        assert name == "python"
    else:
        # The best UTF-8 kernel not above the selected level (sse2 has none).
        best = {"scalar": "scalar", "sse2": "scalar", "ssse3": "ssse3", "avx2": "avx2",
                "neon": "neon"}
        assert name == best[backend.kernel]
