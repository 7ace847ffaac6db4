"""A small in-process timer for ``wsfast bench`` (pytest-benchmark is not a runtime dependency).

It measures the registry's items the way pytest-benchmark does in
``bench/``: the output is checked first, gc is frozen and disabled while
timing, and the statistic is the fastest of several samples of this thread's
CPU time (time per call).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import Call, Item

# (seconds per sample, samples): a sample loops the call until it lasts this long.
# Short samples, many of them: on a loaded machine some still run undisturbed.
FULL = (0.005, 25)
QUICK = (0.002, 7)
# A contender whose single call is slower than this is timed a few times only.
SLOW_CALL = 0.25


@contextlib.contextmanager
def frozen_gc() -> Iterator[None]:
    """Collect, move every object to the permanent generation, and keep gc off.

    Timings then do not include a collection triggered by earlier allocations.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


# The CPU time of this thread, not the wall clock: on a shared machine the
# time other processes run while this one waits for a core is not the cost
# of the call (every contender runs in this one thread, and none waits for
# I/O). Cache and memory-bandwidth effects of other work still show.
# Windows counts thread time in scheduler ticks (about 15 ms): wall clock there.
_clock = time.perf_counter if sys.platform == "win32" else time.thread_time


def _loop(call: Call, number: int) -> float:
    func, args = call.func, call.args
    start = _clock()
    for _ in itertools.repeat(None, number):
        func(*args)
    return _clock() - start


def calibrate(call: Call, sample_time: float) -> tuple[int, float]:
    """Calls per sample so one sample lasts ``sample_time``, and the time per call.

    Grows the loop like ``timeit.autorange``. Looping in one timed sample keeps
    the clock's own cost (tens of ns) out of fast calls, and every contender
    of a group gets the same treatment.
    """
    number = 1
    while True:
        elapsed = _loop(call, number)
        if elapsed < 10 * sample_time:
            # One run cut by a context switch would stop the growth early (a
            # sample of one call is mostly cold caches and clock overhead):
            # the fastest of three decides.
            elapsed = min(elapsed, _loop(call, number), _loop(call, number))
        if elapsed >= sample_time:
            return number, elapsed / number
        number = number * 10 if elapsed < sample_time / 10 else number * 2


def prepare(item: Item) -> tuple[dict[str, Any], Call | None]:
    """The row of an item and, if it is to be timed, the call (after the check)."""
    operation, contender = item.operation, item.contender
    row = base_row(item)
    reason = operation.skip_reason or contender.skip_reason
    if reason is not None:
        return dict(row, status="skipped", reason=reason), None
    case, _ = operation.case(item.size)
    row["nbytes"] = case.nbytes
    problem = operation.check(contender, case)
    if problem is not None:
        return dict(row, status="incorrect", reason=problem), None
    return row, contender.setup(case)


def measure_group(calls: list[Call], *, sample_time: float, samples: int) -> list[float]:
    """Seconds per call of each call: the fastest of its samples, taken in turn.

    Taking the samples round-robin (a, b, c, a, b, c, ...) rather than one
    contender after the other means a burst of load on a shared machine slows
    every contender of the group alike, so the ratios stay fair. Other work
    only ever adds time, so the fastest sample is the one least disturbed
    (docs/api.md, "wsfast bench", has the runs that led to this).
    """
    numbers = []
    for call in calls:
        number, per_call = calibrate(call, sample_time)
        numbers.append(number)
        if per_call > SLOW_CALL:
            samples = min(samples, 3)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(samples):
        for call, number, bucket in zip(calls, numbers, times):
            bucket.append(_loop(call, number) / number)
    return [min(bucket) for bucket in times]


def run_group(items: list[Item], *, quick: bool = False) -> list[dict[str, Any]]:
    """Check then time the items of one group (same operation and size)."""
    prepared = [prepare(item) for item in items]
    timed = [(row, call) for row, call in prepared if call is not None]
    sample_time, samples = QUICK if quick else FULL
    with frozen_gc():
        fastest = measure_group(
            [call for _, call in timed], sample_time=sample_time, samples=samples
        )
    for (row, _), seconds in zip(timed, fastest):
        row["seconds"] = seconds
    return [row for row, _ in prepared]


def base_row(item: Item) -> dict[str, Any]:
    """The descriptive part of a row (status "ok" until checked)."""
    operation, contender = item.operation, item.contender
    primary = operation.primary
    return {
        "operation": operation.name,
        "family": operation.family,
        "size": item.size,
        "group": item.group,
        "contender": contender.name,
        "kind": contender.kind,
        "primary": primary is not None and primary.name == contender.name,
        "library": contender.dist,
        "version": contender.version,
        "status": "ok",
        "reason": None,
        "seconds": None,
        "nbytes": item.size,
    }


def run(
    items: Iterable[Item],
    *,
    quick: bool = False,
    progress: Callable[[int, int, Item], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every item, one group at a time; ``progress(done, total, item)`` before each group."""
    todo = list(items)
    rows: list[dict[str, Any]] = []
    for _, group in itertools.groupby(todo, key=lambda item: (item.operation, item.size)):
        members = list(group)
        if progress is not None:
            progress(len(rows), len(todo), members[0])
        rows.extend(run_group(members, quick=quick))
    if progress is not None and todo:
        progress(len(todo), len(todo), todo[-1])
    return rows
