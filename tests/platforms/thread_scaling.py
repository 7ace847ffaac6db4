"""Thread scaling of the compiled backend: N threads masking, validating and
decoding independent 64 KiB streams, throughput against one thread.

    python thread_scaling.py [--threads 2] [--seconds 2] [--min-ratio 1.7]

Each thread owns its data, Masker, Utf8Validator and Decoder (nothing shared
but the module), works for the same wall time, and counts the bytes it
processed. Prints one line per workload; with --min-ratio, exits 1 when
mask or UTF-8 scales worse than that (decode is reported only: on a build
with the GIL its Python-level loop serialises).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable

import wsfast
from wsfast import _c
from wsfast._codec_c import FrameDecoder, encode_frame

SIZE = 64 * 1024


def mask_work() -> Callable[[], int]:
    data = os.urandom(SIZE)
    masker = _c.Masker(os.urandom(4))

    def step() -> int:
        masker.process(data)
        return SIZE

    return step


def utf8_work() -> Callable[[], int]:
    data = ("wsfast é 𝄞 " * (SIZE // 16)).encode()[:SIZE]
    while True:  # cut at a code point boundary
        try:
            data.decode()
            break
        except UnicodeDecodeError:
            data = data[:-1]
    validator = _c.Utf8Validator()

    def step() -> int:
        validator.reset()
        if not validator.feed(data):
            raise AssertionError("valid UTF-8 rejected")
        return len(data)

    return step


def decode_work() -> Callable[[], int]:
    # Masked binary frames of 64 KiB, as a server receives them.
    frame = encode_frame(2, os.urandom(SIZE), mask=True)
    decoder = FrameDecoder(role="server")

    def step() -> int:
        if len(decoder.feed(frame)) != 1:
            raise AssertionError("one frame in, one frame out")
        return SIZE

    return step


def throughput(make: Callable[[], Callable[[], int]], threads: int, seconds: float) -> float:
    """Bytes per second over all threads, each with its own stream."""
    steps = [make() for _ in range(threads)]
    for step in steps:
        step()  # warm up, and check the workload once
    start = threading.Barrier(threads + 1)
    totals = [0] * threads

    def run(i: int) -> None:
        step = steps[i]
        start.wait()
        done = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            done += step()
        totals[i] = done

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    t0 = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    return sum(totals) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--min-ratio", type=float, default=None)
    args = parser.parse_args()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"wsfast {wsfast.__version__}, kernel {_c._current_kernel()}, Python "
          f"{sys.version.split()[0]}, GIL {'on' if gil else 'off'}, {args.threads} threads, "
          f"{SIZE // 1024} KiB per call")
    failed = False
    for name, make in (("mask", mask_work), ("utf8", utf8_work), ("decode", decode_work)):
        one = throughput(make, 1, args.seconds)
        many = throughput(make, args.threads, args.seconds)
        ratio = many / one
        checked = args.min_ratio is not None and name != "decode"
        low = checked and ratio < args.min_ratio
        failed |= low
        print(f"{name:7s} 1 thread {one / 1e9:6.2f} GB/s  {args.threads} threads "
              f"{many / 1e9:6.2f} GB/s  ratio {ratio:4.2f}"
              + (f"  BELOW {args.min_ratio}" if low else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
