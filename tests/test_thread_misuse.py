"""One-thread-at-a-time objects shared by several threads anyway: results may
be wrong, but never memory-unsafe. Matters most on free-threaded CPython,
where nothing serialises the calls (run there with PYTHON_GIL=0 by
tests/platforms/freethreaded.sh)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from test_threads import run_threads as run_threads_together
from wsfast.constants import GIL_RELEASE_THRESHOLD

THREADS = 6
ROUNDS = 40
# Both sides of the size at which the compiled kernels run without the GIL.
SIZES = (1, 3, 61, GIL_RELEASE_THRESHOLD - 1, GIL_RELEASE_THRESHOLD + 5)


def run_threads(work: Callable[[int], None]) -> None:
    run_threads_together(work, THREADS)


def test_one_masker_shared_by_threads(backend: Any) -> None:
    # Each result is the input masked from one of the four key phases: the
    # phase may be another thread's, the bytes are never torn or out of range.
    key = bytes([0x11, 0x22, 0x44, 0x88])
    masker = backend.Masker(key)
    phases = [key[p:] + key[:p] for p in range(4)]

    def work(index: int) -> None:
        rng = random.Random(index)
        for _ in range(ROUNDS):
            data = rng.randbytes(rng.choice(SIZES))
            out = masker.process(data)
            assert len(out) == len(data)
            candidates = [
                bytes(b ^ k[i % 4] for i, b in enumerate(data[:64])) for k in phases
            ]
            assert out[:64] in candidates
            assert 0 <= masker.offset <= 3

    run_threads(work)


def test_one_validator_shared_by_threads(backend: Any) -> None:
    # Whole code points per chunk: whatever the interleaving, every chunk
    # starts and ends on a boundary, so the shared state stays valid.
    validator = backend.Utf8Validator()
    chunks = [("aé€𝄞" * (size // 10 + 1)).encode() for size in SIZES]
    total = 0
    lock = threading.Lock()

    def work(index: int) -> None:
        nonlocal total
        rng = random.Random(index)
        for _ in range(ROUNDS):
            chunk = rng.choice(chunks)
            assert validator.feed(chunk) is True
            with lock:
                total += len(chunk)

    run_threads(work)
    assert validator.valid and validator.error_offset is None
    assert validator.finish() is True
    # Counting is not atomic across threads without the GIL: never more.
    assert 0 < validator.consumed <= total


def test_one_validator_shared_after_an_error(backend: Any) -> None:
    # An invalid chunk from one thread: the validator stays failed, at an
    # offset inside what was fed (the count may lose updates without the GIL).
    validator = backend.Utf8Validator()

    def work(index: int) -> None:
        for round_ in range(ROUNDS):
            if index == 0 and round_ == ROUNDS // 2:
                validator.feed(b"ok\xc0\xafok")
            else:
                validator.feed(b"x" * SIZES[round_ % len(SIZES)])

    run_threads(work)
    assert validator.valid is False and validator.finish() is False
    fed = ROUNDS * THREADS * max(SIZES)
    assert 0 <= validator.error_offset < fed
