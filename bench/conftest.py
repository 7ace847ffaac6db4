"""pytest-benchmark glue over the shared registry in :mod:`wsfast._bench`.

A benchmark file is a few lines (see bench_mask.py)::

    FAMILY = "mask"                     # a family of wsfast._bench.FAMILIES

    def test_mask(run_bench, bench_item):
        run_bench(bench_item)

``bench_item`` is parametrized here with every (operation, size, contender) of
that family. ``run_bench`` skips a contender that is not installed, checks the
output against the reference before timing (any wrong contender fails, and is
listed in the JSON as incorrect; wsfast's are also checked on invalid inputs
and other key phases), then times the call with gc frozen. Untimed rows and the machine line go into the
``--benchmark-json`` file, so ``bench/report.py`` can show them.

Runs:
    python -m pytest bench --benchmark-json=bench.json && python bench/report.py bench.json
    python -m pytest bench --benchmark-disable        # correctness only (CI)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wsfast._bench import Item, items
from wsfast._bench.report import machine
from wsfast._bench.timer import SLOW_CALL, calibrate, frozen_gc, prepare

# Seconds per round: long enough that the clock's cost is noise.
ROUND_TIME = 0.001

UNTIMED = pytest.StashKey[list[dict[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick-sizes",
        action="store_true",
        help="run only each operation's quick sizes (those of `wsfast bench --quick`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("python_files", "bench_*.py")
    config.stash[UNTIMED] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_item" not in metafunc.fixturenames:
        return
    family = getattr(metafunc.module, "FAMILY", None)
    if family is None:
        raise pytest.UsageError(f"{metafunc.module.__name__} must set FAMILY")
    quick = metafunc.config.getoption("--quick-sizes")
    params = list(items([family], quick=quick))
    metafunc.parametrize("bench_item", params, ids=[str(p) for p in params])


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    output_json["wsfast_untimed"] = config.stash[UNTIMED]
    output_json["wsfast_machine"] = machine()


@pytest.fixture
def run_bench(benchmark: Any, request: pytest.FixtureRequest) -> Callable[[Item], None]:
    untimed = request.config.stash[UNTIMED]

    def run(item: Item) -> None:
        contender = item.contender
        row, call = prepare(item)
        if call is None:
            untimed.append(row)
            if row["status"] == "incorrect":
                # A wrong answer is never a benchmark result, ours or a peer's.
                pytest.fail(f"{contender.name} is incorrect for {item.group}: {row['reason']}")
            pytest.skip(row["reason"])
        benchmark.group = item.group
        benchmark.extra_info.update(row)
        rounds, iterations = 1, 1
        if not benchmark.disabled:
            # Our calibration, not pytest-benchmark's: it sometimes settles on one
            # call per round, which then times the clock rather than a 2-byte mask.
            with frozen_gc():
                iterations, per_call = calibrate(call, ROUND_TIME)
            max_time = float(request.config.getoption("benchmark_max_time", 1.0))
            min_rounds = int(request.config.getoption("benchmark_min_rounds", 5))
            rounds = max(min_rounds, int(max_time / (iterations * per_call)))
            if per_call > SLOW_CALL:
                rounds = 3
        with frozen_gc():
            benchmark.pedantic(
                call.func, call.args, rounds=rounds, iterations=iterations, warmup_rounds=1
            )

    return run
