"""Threads: the kernels release the GIL for large buffers, so many threads
must be able to mask, validate and decode at once without mixing results.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsfast.constants import GIL_RELEASE_THRESHOLD
from wsfast.exceptions import ProtocolError

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


# Known bug (hardening report): _Reader.feed keeps the call's event list on
# the decoder (self._events), so a concurrent feed() can return the other
# thread's events or drop them, besides spurious ProtocolError(1002) from the
# shared message state. Not strict: the interleaving that shows it is timing.
@pytest.mark.xfail(
    reason="one Decoder fed from two threads can misdeliver/lose events", strict=False
)
def test_one_decoder_fed_from_two_threads(backend: Any) -> None:
    """Concurrent feed() on one Decoder: it may raise, or serialise; never corrupt.

    Each thread feeds whole frames, so any serialisation is a valid stream.
    Acceptable: every event intact and returned to the thread whose frame it
    was, or a ProtocolError/RuntimeError. Not acceptable: a payload mixed from
    two messages, an event returned to the other thread, a silently lost event.
    """
    client = backend.Encoder(role="client")
    # Large frames let the compiled codec drop the GIL mid-feed; small ones
    # make many feed() calls for the interleavings.
    sizes = (10, 200, GIL_RELEASE_THRESHOLD + 5)
    payloads = [[bytes([k + 1]) * sizes[i % 3] for i in range(150)] for k in (0, 1)]
    wires = [[client.binary(p) for p in payloads[k]] for k in (0, 1)]
    sys.setswitchinterval(1e-6)  # restored by fast_switching
    for _ in range(40):
        decoder = backend.Decoder(role="server")
        received: list[list[Any]] = [[], []]
        raised: list[BaseException | None] = [None, None]

        def work(
            k: int, decoder: Any = decoder, received: Any = received, raised: Any = raised
        ) -> None:
            try:
                for wire in wires[k]:
                    received[k] += decoder.feed(wire)
            except (ProtocolError, RuntimeError) as exc:
                raised[k] = exc

        run_threads(work, 2)
        for k in (0, 1):
            data = [event.data for event in received[k]]
            # In order and each one whole: a prefix of what this thread sent.
            assert data == payloads[k][: len(data)], f"thread {k}: corrupted or foreign events"
            if raised[k] is None:
                assert len(data) == len(payloads[k]), f"thread {k} lost events without an error"
