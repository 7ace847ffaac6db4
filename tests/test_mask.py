"""XOR masking (RFC 6455 §5.3) on every backend and kernel."""

from __future__ import annotations

import array
import random
import threading

import pytest

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])
# Around every vector step of every kernel (8, 16, 32, 64, 128 bytes) and
# the GIL-release threshold.
EDGE_LENGTHS = sorted(
    {n + d for n in (8, 16, 32, 64, 128, 256, 512, 1024, 65536) for d in (-1, 0, 1)}
    | {65536 * 3 + 5, 131072 + 16384 + 130}
)


def reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """The definition in RFC 6455 §5.3, byte by byte."""
    return bytes(b ^ key[(offset + i) % 4] for i, b in enumerate(data))


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def test_rfc_6455_example(backend) -> None:
    # RFC 6455 §5.7: "Hello" masked with key 37 fa 21 3d.
    assert backend.mask(b"Hello", KEY) == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("length", range(301))
def test_every_short_length(backend, length: int) -> None:
    data = random_bytes(length, length)
    expected = reference_mask(data, KEY)
    assert backend.mask(data, KEY) == expected
    buf = bytearray(data)
    assert backend.mask_inplace(buf, KEY) == length % 4
    assert buf == expected


@pytest.mark.parametrize("length", EDGE_LENGTHS)
@pytest.mark.parametrize("offset", range(4))
def test_vector_edges_and_offsets(backend, length: int, offset: int) -> None:
    data = random_bytes(length, length + offset)
    expected = reference_mask(data, KEY, offset)
    buf = bytearray(data)
    assert backend.mask_inplace(buf, KEY, offset) == (offset + length) % 4
    assert buf == expected
    assert backend.mask(bytes(buf), KEY[offset:] + KEY[:offset]) == data


@pytest.mark.parametrize("offset", range(4))
def test_offset_semantics(backend, offset: int) -> None:
    data = random_bytes(77, offset)
    buf = bytearray(data)
    backend.mask_inplace(buf, KEY, offset)
    assert buf == reference_mask(data, KEY, offset)


@pytest.mark.parametrize("offset", [-1, -6, 4, 5, 2**70 + 1, True])
def test_offset_is_taken_modulo_4(backend, offset: int) -> None:
    data = random_bytes(33, 1)
    buf = bytearray(data)
    assert backend.mask_inplace(buf, KEY, offset) == (offset + 33) % 4
    assert buf == reference_mask(data, KEY, offset % 4)


def fast_reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """The same as reference_mask, by big-integer XOR: quick for long inputs."""
    n = len(data)
    repeated = ((key[offset:] + key[:offset]) * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


@pytest.mark.parametrize("length", [255, 256, 257, 300, 1000, 4099])
def test_every_alignment_and_offset(backend, length: int) -> None:
    # The SIMD kernels peel a head to align their stores from 256 bytes on:
    # every head size (0..63 covers 16- and 32-byte alignment) with every
    # key phase, touching nothing outside the view.
    backing = bytearray(random_bytes(length + 64 + 8, length))
    original = bytes(backing)
    for start in range(64):
        piece = original[start : start + length]
        assert backend.mask(memoryview(backing)[start : start + length], KEY) == fast_reference_mask(
            piece, KEY
        )
        for offset in range(4):
            view = memoryview(backing)[start : start + length]
            assert backend.mask_inplace(view, KEY, offset) == (offset + length) % 4
            assert bytes(view) == fast_reference_mask(piece, KEY, offset)
            assert backing[:start] == original[:start]
            assert backing[start + length :] == original[start + length :]
            view[:] = piece


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, lambda b: memoryview(b"x" + b)[1:], lambda b: array.array("B", b)],
    ids=["bytes", "bytearray", "memoryview-odd", "array"],
)
def test_long_payloads_of_every_buffer_type(backend, make) -> None:
    # Long enough for the pure-Python backend's chunked path, with a tail.
    data = random_bytes(2 * 131072 + 130, 5)
    expected = fast_reference_mask(data, KEY)
    assert backend.mask(make(data), KEY) == expected
    assert backend.Masker(KEY).process(make(data)) == expected
    assert backend.Masker(KEY[1:] + KEY[:1]).process(make(data)) == fast_reference_mask(data, KEY, 1)


def test_masking_twice_gives_the_original(backend) -> None:
    data = random_bytes(1000, 7)
    masked = backend.mask(data, KEY)
    assert masked == reference_mask(data, KEY)  # round trip alone passes any key phase
    assert backend.mask(masked, KEY) == data


@pytest.mark.parametrize("start", range(1, 8))
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 33, 100, 257])
def test_memoryview_slices_at_odd_addresses(backend, start: int, length: int) -> None:
    backing = bytearray(random_bytes(start + length + 8, start * 1000 + length))
    original = bytes(backing)
    view = memoryview(backing)[start : start + length]
    expected = reference_mask(bytes(view), KEY)
    assert backend.mask(view, KEY) == expected
    assert backend.mask_inplace(view, KEY) == length % 4
    # Only [start, start + length) changed: kernels touch nothing outside.
    assert backing[:start] == original[:start]
    assert backing[start : start + length] == expected
    assert backing[start + length :] == original[start + length :]


@pytest.mark.parametrize("chunks", [[1, 2, 3, 4], [5, 5, 5], [64, 1, 63, 200], [0, 7, 0, 300]])
def test_chunked_unmasking_equals_whole(backend, chunks: list[int]) -> None:
    data = random_bytes(sum(chunks), len(chunks))
    expected = reference_mask(data, KEY)

    # mask_inplace threading the returned offset through.
    buf = bytearray(data)
    offset, position = 0, 0
    for size in chunks:
        offset = backend.mask_inplace(memoryview(buf)[position : position + size], KEY, offset)
        position += size
    assert buf == expected

    # Masker continuing across process() calls.
    masker = backend.Masker(KEY)
    pieces, position = [], 0
    for size in chunks:
        pieces.append(masker.process(data[position : position + size]))
        position += size
        assert masker.offset == position % 4
    assert b"".join(pieces) == expected


def test_masker_reset(backend) -> None:
    masker = backend.Masker(KEY)
    masker.process(b"abc")
    assert masker.offset == 3
    masker.reset()
    assert masker.offset == 0
    assert masker.process(b"Hello") == bytes.fromhex("7f9f4d5158")


def test_masker_offset_is_read_only(backend) -> None:
    masker = backend.Masker(KEY)
    with pytest.raises(AttributeError):
        masker.offset = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "make",
    [
        bytes,
        bytearray,
        memoryview,
        lambda b: array.array("B", b),
        lambda b: memoryview(bytearray(b)),
    ],
    ids=["bytes", "bytearray", "memoryview", "array", "memoryview-rw"],
)
def test_all_buffer_types(backend, make) -> None:
    data = random_bytes(70, 3)
    expected = reference_mask(data, KEY)
    assert backend.mask(make(data), KEY) == expected
    assert backend.mask(data, make(KEY)) == expected
    assert backend.Masker(make(KEY)).process(make(data)) == expected


@pytest.mark.parametrize(
    "make",
    [bytearray, lambda b: array.array("B", b), lambda b: memoryview(bytearray(b))],
    ids=["bytearray", "array", "memoryview"],
)
def test_inplace_on_writable_buffer_types(backend, make) -> None:
    data = random_bytes(70, 4)
    buf = make(data)
    backend.mask_inplace(buf, KEY, 1)
    assert bytes(buf) == reference_mask(data, KEY, 1)


def test_multibyte_items_are_masked_as_raw_bytes(backend) -> None:
    items = array.array("I", range(10))
    raw = items.tobytes()
    assert backend.mask(items, KEY) == reference_mask(raw, KEY)


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytearray(8)])
def test_wrong_key_length(backend, key) -> None:
    with pytest.raises(ValueError, match="key must be 4 bytes long"):
        backend.mask(b"data", key)
    with pytest.raises(ValueError, match="key must be 4 bytes long"):
        backend.mask_inplace(bytearray(b"data"), key)
    with pytest.raises(ValueError, match="key must be 4 bytes long"):
        backend.Masker(key)


@pytest.mark.parametrize("bad", [None, 1234, "abcd", [1, 2, 3, 4], object()])
def test_non_buffer_arguments(backend, bad) -> None:
    with pytest.raises(TypeError, match="must be a bytes-like object"):
        backend.mask(bad, KEY)
    with pytest.raises(TypeError, match="must be a bytes-like object"):
        backend.mask(b"data", bad)
    with pytest.raises(TypeError, match="must be a bytes-like object"):
        backend.mask_inplace(bad, KEY)
    with pytest.raises(TypeError, match="must be a bytes-like object"):
        backend.Masker(bad)
    with pytest.raises(TypeError, match="must be a bytes-like object"):
        backend.Masker(KEY).process(bad)


@pytest.mark.parametrize("readonly", [b"data", memoryview(b"data"), memoryview(bytearray(4)).toreadonly()])
def test_inplace_rejects_read_only(backend, readonly) -> None:
    with pytest.raises(TypeError, match="writable"):
        backend.mask_inplace(readonly, KEY)


def test_non_contiguous_view(backend) -> None:
    strided = memoryview(bytearray(range(20)))[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.mask(strided, KEY)
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.mask_inplace(strided, KEY)
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.Masker(KEY).process(strided)


@pytest.mark.parametrize("offset", [1.0, "1", None])
def test_offset_must_be_an_integer(backend, offset) -> None:
    with pytest.raises(TypeError):
        backend.mask_inplace(bytearray(4), KEY, offset)


def test_bad_input_leaves_buffer_untouched(backend) -> None:
    buf = bytearray(b"payload")
    with pytest.raises(ValueError):
        backend.mask_inplace(buf, b"abc")
    with pytest.raises(TypeError):
        backend.mask_inplace(buf, KEY, "x")
    assert buf == b"payload"


def test_agrees_with_python_backend_on_random_input(backend, py_backend) -> None:
    rng = random.Random(1234)
    for _ in range(300):
        length = rng.choice([rng.randrange(0, 140), rng.randrange(0, 5000)])
        data, key, offset = rng.randbytes(length), rng.randbytes(4), rng.randrange(4)
        assert backend.mask(data, key) == py_backend.mask(data, key)
        a, b = bytearray(data), bytearray(data)
        assert backend.mask_inplace(a, key, offset) == py_backend.mask_inplace(b, key, offset)
        assert a == b


def test_large_buffers_from_many_threads(backend) -> None:
    # Large buffers run without the GIL: results must still be exact.
    size = 3 * 65536 + 11
    inputs = [random_bytes(size, seed) for seed in range(8)]
    keys = [random_bytes(4, 100 + seed) for seed in range(8)]
    results: list[bytes | None] = [None] * 8

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = backend.mask(inputs[i], keys[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(8):
        assert results[i] == fast_reference_mask(inputs[i], keys[i])


# ---- _mask_inplace_keyfirst: aiohttp's websocket_mask(mask, data) order ------------


@pytest.mark.parametrize("length", [0, 1, 5, 125, 1024, 65536 + 3])
def test_keyfirst_masks_in_place(backend, length: int) -> None:
    data = random_bytes(length, length)
    buf = bytearray(data)
    assert backend._mask_inplace_keyfirst(KEY, buf) is None
    assert buf == fast_reference_mask(data, KEY)
    view = memoryview(bytearray(data))
    backend._mask_inplace_keyfirst(bytearray(KEY), view)
    assert bytes(view) == fast_reference_mask(data, KEY)


@pytest.mark.parametrize(
    "key, buffer, error, match",
    [
        (b"abc", bytearray(8), ValueError, "key must be 4 bytes long"),
        (None, bytearray(8), TypeError, "must be a bytes-like object"),
        (KEY, None, TypeError, "must be a bytes-like object"),
        (KEY, "abcd", TypeError, "must be a bytes-like object"),
        (KEY, b"data", TypeError, "writable"),
        (KEY, memoryview(bytearray(20))[::2], ValueError, "C-contiguous"),
        # The key is checked first, as by mask_inplace.
        (b"abcde", b"data", ValueError, "key must be 4 bytes long"),
    ],
)
def test_keyfirst_errors_match_mask_inplace(backend, key, buffer, error, match) -> None:
    with pytest.raises(error, match=match) as keyfirst:
        backend._mask_inplace_keyfirst(key, buffer)
    with pytest.raises(error) as inplace:
        backend.mask_inplace(buffer, key)
    assert str(keyfirst.value) == str(inplace.value)
