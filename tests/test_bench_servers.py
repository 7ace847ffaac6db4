"""bench/bench_servers.py's arithmetic: rows, the user/sys split and its ceiling.

No server is started: the rows are computed from contrived measurements, and
the /proc reader is checked on this process.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def bench() -> Any:
    path = Path(__file__).parent.parent / "bench" / "bench_servers.py"
    spec = importlib.util.spec_from_file_location("bench_servers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_servers"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["bench_servers"]
    return module


def measurement(bench: Any, count: int, cpu_us: float, user_ms: int, sys_ms: int) -> Any:
    return bench.Measurement(count, 1.0, int(cpu_us * 1000 * count), [1000] * count,
                             user_ms * 1000, sys_ms * 1000)


def test_row_splits_cpu_by_the_ticks_of_all_rounds(bench: Any) -> None:
    case = bench.Case("hypercorn", 65536, "binary")
    # Shipped: 200 µs per round trip; over both rounds 60 ms sampled in user
    # space and 20 in the kernel, so a quarter of it in the kernel.
    case.runs[False] = [measurement(bench, 1000, 200, 30, 10),
                        measurement(bench, 1000, 200, 30, 10)]
    # Installed: 100 µs, half of it in the kernel.
    case.runs[True] = [measurement(bench, 2000, 100, 10, 10),
                       measurement(bench, 2000, 100, 10, 10)]
    case.instructions = {False: 2_000_000.4, True: 400_000.0}
    row = case.row()
    assert row["cpu_ratio"] == 2.0
    assert (row["shipped_user_us"], row["shipped_sys_us"]) == (150.0, 50.0)
    assert (row["installed_user_us"], row["installed_sys_us"]) == (50.0, 50.0)
    assert row["user_cpu_ratio"] == 3.0
    assert row["ceiling"] == 4.0  # 200 µs of CPU, 50 of them in the kernel
    assert row["split_ms"] == 40
    assert (row["shipped_ir"], row["installed_ir"]) == (2_000_000, 400_000)
    for key in ("host", "size", "kind", "shipped_per_s", "installed_per_s", "ratio", "cpu_ratio"):
        assert key in row


def test_row_without_ticks_or_callgrind(bench: Any) -> None:
    case = bench.Case("websockets", 16, "text")
    case.runs[False] = [measurement(bench, 100, 50, 0, 0)]
    case.runs[True] = [measurement(bench, 100, 40, 0, 0)]
    row = case.row()
    # No tick sampled: everything counts as user time, and no ceiling is claimed.
    assert (row["shipped_user_us"], row["shipped_sys_us"]) == (50.0, 0.0)
    assert row["ceiling"] is None
    assert "shipped_ir" not in row


def test_split_table_prints_each_case(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    case = bench.Case("uvicorn-wsproto", 1024, "text")
    case.runs[False] = [measurement(bench, 100, 100, 3, 1)]
    case.runs[True] = [measurement(bench, 100, 80, 2, 2)]
    try:
        bench.print_cpu_split([case])  # names the clock's source: opens it
    finally:
        bench.user_sys_clock().close()
    lines = capsys.readouterr().out.splitlines()
    assert "ceiling" in lines[0] and "user us" in lines[0]
    assert lines[1].split()[:4] == ["uvicorn-wsproto", "1", "KiB", "text"]
    assert "100.0/80.0" in lines[1] and "4.00x" in lines[1]


@pytest.mark.parametrize("fallback", [False, True], ids=["taskstats", "proc"])
def test_user_and_sys_time_of_a_process(bench: Any, fallback: bool) -> None:
    clock = bench.UserSysClock()
    if fallback:
        clock.close()
    try:
        user, system = clock.read(os.getpid())
        deadline = time.process_time() + 0.1
        while time.process_time() < deadline:
            pass
        later_user, later_system = clock.read(os.getpid())
    finally:
        clock.close()
    assert later_user >= user and later_system >= system
    # 100 ms of CPU, sampled at the timer tick (a few ms; /proc rounds to 10 ms).
    assert 50_000 <= (later_user + later_system) - (user + system) <= 400_000
