"""Thread scaling of the compiled backend on free-threaded CPython: N threads
masking, validating UTF-8 and decoding frames, each on its own 64 KiB stream,
throughput against one thread.

Run (any Python with wsfast installed; the scaling means something only on a
free-threaded one, 3.14t, with PYTHON_GIL=0):

    PYTHON_GIL=0 python3.14t bench/bench_scaling.py [--threads 2] [--seconds 2]
        [--rounds 3] [--min-ratio 1.7]

or, building 3.14t in the platform chroot first (root, see README):

    WSFAST_PLATFORM_BENCH=only tests/platforms/freethreaded.sh --threads 2 --min-ratio 1.7

Each thread owns its data, Masker, Utf8Validator and FrameDecoder (nothing is
shared but the module) and works for the same wall time. Per workload and
round it runs 1 thread, then N, and prints:

- throughput with 1 and with N threads, and their ratio (the best round of
  each, from the same run);
- each thread's CPU time, and their sum over the wall time: about N when the
  threads really ran at once, about 1 when they took turns (a GIL, or a
  machine whose other load leaves one core);
- bytes per CPU second, N threads against 1: about 1 when running together
  did not make each byte cost more (no lock spinning, no shared cache lines).

When even one thread gets a CPU/wall well below 1, other work held the CPUs
and the ratio says little about wsfast: re-run on an idle machine.

With --min-ratio, exits 1 when mask or UTF-8 scales worse than that (decode
runs a Python-level loop per frame; it is reported, not gated).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

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
    text = "wsfast é 𝄞 中文 "
    data = (text * (SIZE // len(text.encode()) + 1)).encode()[:SIZE]
    data = data.decode(errors="ignore").encode()  # cut at a code point boundary
    validator = _c.Utf8Validator()

    def step() -> int:
        validator.reset()
        if not validator.feed(data):
            raise AssertionError("valid UTF-8 rejected")
        return len(data)

    return step


def decode_work() -> Callable[[], int]:
    # Masked binary frames of 64 KiB, as a server receives them.
    payload = os.urandom(SIZE)
    frame = encode_frame(2, payload, mask=True)
    decoder = FrameDecoder(role="server")

    def step() -> int:
        frames = decoder.feed(frame)
        if len(frames) != 1 or len(frames[0].payload) != SIZE:
            raise AssertionError("one 64 KiB frame in, one out")
        return SIZE

    return step


WORKLOADS: dict[str, Callable[[], Callable[[], int]]] = {
    "mask": mask_work,
    "utf8": utf8_work,
    "decode": decode_work,
}
GATED = ("mask", "utf8")


@dataclass
class Run:
    threads: int
    wall: float  # seconds, from the common start to the last thread's end
    nbytes: int
    cpu: list[float]  # each thread's CPU seconds

    @property
    def rate(self) -> float:
        return self.nbytes / self.wall

    @property
    def parallelism(self) -> float:
        return sum(self.cpu) / self.wall

    @property
    def per_cpu(self) -> float:
        """Bytes per CPU second: what the threads cost, however busy the machine."""
        return self.nbytes / sum(self.cpu)


def run(make: Callable[[], Callable[[], int]], threads: int, seconds: float) -> Run:
    steps = [make() for _ in range(threads)]
    for step in steps:
        step()  # warm up, and check the workload once
    start = threading.Barrier(threads + 1)
    done = [0] * threads
    cpu = [0.0] * threads

    def work(i: int) -> None:
        step = steps[i]
        start.wait()
        c0 = time.thread_time()
        n = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += step()
        cpu[i] = time.thread_time() - c0
        done[i] = n

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    return Run(threads, time.perf_counter() - t0, sum(done), cpu)


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def describe(r: Run) -> str:
    cpu = " ".join(f"{c:.2f}" for c in r.cpu)
    return (f"{r.rate / 1e9:6.2f} GB/s, wall {r.wall:.2f} s, CPU per thread {cpu} s,"
            f" CPU/wall {r.parallelism:.2f}, {r.per_cpu / 1e9:.2f} GB per CPU second")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0, help="per run (default 2)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="1 then N threads, this many times (default 3)")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append",
                        help="a workload (repeatable)")
    parser.add_argument("--min-ratio", type=float, default=None,
                        help="exit 1 if mask or utf8 scales worse than this")
    args = parser.parse_args(argv)
    if wsfast.BACKEND != "c":
        parser.error("the compiled backend is not installed")
    n = args.threads
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"wsfast {wsfast.__version__}, kernel {_c._current_kernel()},"
          f" Python {sys.version.split()[0]} (GIL {'on' if gil else 'off'}),"
          f" {os.cpu_count()} CPUs, load {load()}; {SIZE // 1024} KiB per call,"
          f" {args.seconds:g} s per run, {args.rounds} rounds")
    failed = False
    for name in args.only or list(WORKLOADS):
        ones: list[Run] = []
        manys: list[Run] = []
        for i in range(args.rounds):
            ones.append(run(WORKLOADS[name], 1, args.seconds))
            manys.append(run(WORKLOADS[name], n, args.seconds))
            print(f"  {name} round {i + 1}: 1 thread {describe(ones[-1])}")
            print(f"  {name} round {i + 1}: {n} threads {describe(manys[-1])}")
        one = max(ones, key=lambda r: r.rate)
        many = max(manys, key=lambda r: r.rate)
        ratio = many.rate / one.rate
        low = args.min_ratio is not None and name in GATED and ratio < args.min_ratio
        failed |= low
        cost = max(r.per_cpu for r in manys) / max(r.per_cpu for r in ones)
        print(f"{name:6s} best of {args.rounds}: 1 thread {one.rate / 1e9:.2f} GB/s,"
              f" {n} threads {many.rate / 1e9:.2f} GB/s, ratio {ratio:.2f},"
              f" CPU/wall {many.parallelism:.2f}, per CPU second {n} threads / 1 {cost:.2f}"
              + (f"  BELOW {args.min_ratio:g}" if low else ""))
    print(f"load at the end {load()}. CPU/wall near {n}: the {n} threads ran at once;"
          " below 1 with one thread: other work held the CPUs, the ratio says little.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
