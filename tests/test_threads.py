"""Threads: the kernels release the GIL for large buffers, so many threads
must be able to mask, validate and decode at once without mixing results.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsfast import _deflate_stream as deflate_module
from wsfast.constants import GIL_RELEASE_THRESHOLD

THREADS = 8
ROUNDS = 6
SIZE = 4 * GIL_RELEASE_THRESHOLD + 3  # large enough to run without the GIL; odd tail


@pytest.fixture(autouse=True)
def fast_switching() -> Iterator[None]:
    """Switch threads often, so the interleavings vary."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def run_threads(work: Callable[[int], None], count: int = THREADS) -> None:
    """Run work(0..count-1) in threads started together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def target(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    # One big-integer XOR: fast and independent of every backend.
    rotated = key[offset % 4 :] + key[: offset % 4]
    stream = (rotated * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def make_data(index: int) -> tuple[bytes, bytes]:
    rng = random.Random(index)
    return rng.randbytes(SIZE), rng.randbytes(4)


def test_mask_in_threads(backend: Any) -> None:
    cases = [make_data(i) for i in range(THREADS)]
    expected = [reference_mask(data, key) for data, key in cases]

    def work(index: int) -> None:
        data, key = cases[index]
        for round_ in range(ROUNDS):
            assert backend.mask(data, key) == expected[index]
            buffer = bytearray(data)
            offset = (index + round_) % 4
            assert backend.mask_inplace(buffer, key, offset) == (offset + SIZE) % 4
            assert buffer == reference_mask(data, key, offset)
            masker = backend.Masker(key)
            half = SIZE // 2 + round_
            assert masker.process(data[:half]) + masker.process(data[half:]) == expected[index]

    run_threads(work)


def make_text(index: int) -> bytes:
    rng = random.Random(index)
    alphabet = "aé€😀ü\u0800\uffff"
    return "".join(rng.choice(alphabet) for _ in range(SIZE // 3)).encode()


def test_validate_in_threads(backend: Any) -> None:
    texts = [make_text(i) for i in range(THREADS)]
    # Odd threads get a surrogate at a position of their own.
    bad_at = {i: len(texts[i]) // 2 + i * 7 for i in range(1, THREADS, 2)}
    for i, at in bad_at.items():
        at = len(texts[i].decode()[: at // 3].encode())  # on a code point boundary
        bad_at[i] = at + 1  # ED A0 80 is rejected at A0
        texts[i] = texts[i][:at] + b"\xed\xa0\x80" + texts[i][at:]

    def work(index: int) -> None:
        text = texts[index]
        valid = index not in bad_at
        for _ in range(ROUNDS):
            assert backend.validate_utf8(text) is valid
            validator = backend.Utf8Validator()
            validator.feed(text[: GIL_RELEASE_THRESHOLD + index])
            validator.feed(text[GIL_RELEASE_THRESHOLD + index :])
            assert validator.finish() is valid
            assert validator.error_offset == bad_at.get(index)
            assert validator.consumed == len(text)

    run_threads(work)


def make_messages(index: int) -> list[Any]:
    rng = random.Random(index)
    text = make_text(index).decode()[: SIZE // 4]
    return [rng.randbytes(SIZE), text, rng.randbytes(100), text[:1000]]


def test_decoders_in_threads(backend: Any) -> None:
    def work(index: int) -> None:
        messages = make_messages(index)
        client = backend.Encoder(role="client")  # masked: unmasking runs without the GIL
        decoder = backend.Decoder(role="server")
        for round_ in range(ROUNDS // 2):
            wire = b"".join(
                client.text(m) if isinstance(m, str) else client.binary(m, fragment_size=70000)
                for m in messages
            )
            events: list[Any] = []
            step = GIL_RELEASE_THRESHOLD + 1000 * index + round_
            for start in range(0, len(wire), step):
                events += decoder.feed(wire[start : start + step])
            assert [event.data for event in events] == messages

    run_threads(work)


# One decoder fed from two threads at once: the second, overlapping feed()
# raises RuntimeError and consumes nothing, so a caller that retries it
# later still gets a valid stream. Whole frames per feed() make every
# serialisation a valid stream, so nothing else may ever be raised.
@pytest.mark.parametrize("kind", ["Decoder", "FrameDecoder"])
def test_one_decoder_fed_from_two_threads(backend: Any, kind: str) -> None:
    """Concurrent feed() on one decoder raises RuntimeError or serialises; never corrupts.

    Every event must be whole and returned to the thread whose frame it was,
    in order, none lost; only RuntimeError (retried) may be raised.
    """
    client = backend.Encoder(role="client")
    # Large frames let the compiled codec drop the GIL mid-feed; small ones
    # make many feed() calls for the interleavings.
    sizes = (10, 200, GIL_RELEASE_THRESHOLD + 5)
    payloads = [[bytes([k + 1]) * sizes[i % 3] for i in range(150)] for k in (0, 1)]
    wires = [[client.binary(p) for p in payloads[k]] for k in (0, 1)]
    sys.setswitchinterval(1e-6)  # restored by fast_switching
    for _ in range(40):
        decoder = getattr(backend, kind)(role="server")
        received: list[list[Any]] = [[], []]

        def work(k: int, decoder: Any = decoder, received: Any = received) -> None:
            for wire in wires[k]:
                while True:
                    try:
                        received[k] += decoder.feed(wire)
                        break
                    except RuntimeError as exc:
                        assert "one thread at a time" in str(exc)
                        time.sleep(0)  # the other thread holds the decoder: let it run

        run_threads(work, 2)
        for k in (0, 1):
            attribute = "data" if kind == "Decoder" else "payload"
            data = [getattr(event, attribute) for event in received[k]]
            assert data == payloads[k], f"thread {k}: corrupted, foreign or lost events"


class BlockingInflater:
    """A stand-in permessage-deflate inflater that holds feed() open on demand."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def frame_limit(self, limit: int) -> int:
        return limit

    def inflate_into(self, data: bytes, fin: bool, limit: int | None, buffer: Any) -> bytes:
        self.inside.set()
        assert self.release.wait(30)
        return data  # the identity "compression" of these tests: a whole message


def test_overlapping_feed_raises_and_consumes_nothing(backend: Any) -> None:
    """Deterministic: a feed() that overlaps a running one raises RuntimeError.

    The running call is held inside its inflater, so the second call surely
    overlaps; it must consume nothing, and both messages arrive afterwards.
    """
    inflater = BlockingInflater()
    deflate = types.SimpleNamespace(_inflater=lambda role: inflater)
    decoder = backend.Decoder(role="server", deflate=deflate)
    key = b"\x01\x02\x03\x04"
    first = backend.encode_frame(2, b"first", rsv1=True, mask=key)
    second = backend.encode_frame(2, b"second", mask=key)
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(decoder.feed(first)))
    thread.start()
    try:
        assert inflater.inside.wait(30)
        with pytest.raises(RuntimeError, match="one thread at a time"):
            decoder.feed(second)
    finally:
        inflater.release.set()
        thread.join()
    assert [m.data for m in results[0]] == [b"first"]
    assert [m.data for m in decoder.feed(second)] == [b"second"]


class BlockingCompressor:
    """A stand-in compressor whose compress() blocks until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def compress(self, data: Any) -> bytes:
        self.inside.set()
        assert self.release.wait(30)
        return bytes(data)

    def flush(self, mode: int) -> bytes:
        return b"\x00\x00\xff\xff"


def test_encoder_with_deflate_refuses_overlapping_calls(backend: Any) -> None:
    """Two threads sharing an Encoder with deflate: the overlapping call raises.

    Otherwise each call's flush could carry part of the other's message.
    """
    compressor = BlockingCompressor()
    impl = types.SimpleNamespace(compressobj=lambda level, bits: compressor)
    deflater = deflate_module._Deflater(impl, 6, 15, False, 0)  # type: ignore[arg-type]
    encoder = backend.Encoder(
        role="server", deflate=types.SimpleNamespace(_deflater=lambda role: deflater)
    )
    results: list[bytes] = []
    thread = threading.Thread(target=lambda: results.append(encoder.binary(b"first")))
    thread.start()
    try:
        assert compressor.inside.wait(30)
        with pytest.raises(RuntimeError, match="serialise encoding and sending"):
            encoder.binary(b"second")
    finally:
        compressor.release.set()
        thread.join()
    assert results == [backend.encode_frame(2, b"first", rsv1=True)]
    assert encoder.binary(b"second") == backend.encode_frame(2, b"second", rsv1=True)
