"""Payload copies at every source offset in a page: wsfast against memcpy.

An unmasked frame's payload is copied out of the receive buffer
(``_frame_unmask`` with key 0) or into a new frame (``_frame_build``). CPython's
``bytes`` slice is the same copy done by glibc's memcpy, whose ``rep movsb``
path is 25-30x slower on AMD Zen 3/4 when (dst - src) mod 4096 is 1..31
(glibc bug 30994); see ``wsfast_copy`` in csrc/wsfast.h. Each call is timed
at each of 4096 source offsets (best of 5), in one run::

    python bench/copy_alignment.py [SIZE ...]
"""

from __future__ import annotations

import statistics
import sys
import time

from wsfast import _c


def sweep(copy, n: int) -> tuple[float, float, float, int]:
    """Median, mean and worst time per call (µs), and how many offsets take over 3x the median."""
    clock = time.perf_counter_ns
    times = []
    for pos in range(4096):
        best = 1 << 62
        for _ in range(5):
            start = clock()
            copy(pos, n)
            best = min(best, clock() - start)
        times.append(best / 1000)
    median = statistics.median(times)
    return median, statistics.mean(times), max(times), sum(t > 3 * median for t in times)


def main(sizes: list[int]) -> None:
    print(f"kernel {_c._current_kernel()}; best of 5 calls at each of 4096 source offsets")
    print("| copy | size | median µs | mean µs | worst µs | offsets > 3x median |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        data = bytes(range(256)) * ((n + 8192) // 256)
        view = memoryview(data)
        contenders = {
            "wsfast _frame_unmask (key 0)": lambda pos, n: _c._frame_unmask(data, pos, n, 0),
            "wsfast _frame_build (unmasked)": lambda pos, n: _c._frame_build(0x82, view[pos:pos + n], None),
            "bytes slice (memcpy)": lambda pos, n: data[pos:pos + n],
        }
        for name, copy in contenders.items():
            median, mean, worst, slow = sweep(copy, n)
            print(f"| {name} | {n} | {median:.2f} | {mean:.2f} | {worst:.2f} | {slow} |")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [4096, 65536, 262144])
