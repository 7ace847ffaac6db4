"""``wsfast bench --compare``: this run against a saved one, row by row.

Rows are matched by ``case`` and ``contender`` and compared in the metric the
baseline holds: instructions per call (``--counts``) or seconds per call.
Only wsfast's own rows (``contender`` starting with "wsfast") can fail the
comparison; peers and baselines are shown for context, since their changes
are not ours. The file format is described in docs/benchmark-json.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .counts import FINGERPRINT
from .report import format_time

# Default --max-regression per metric. Counts repeat exactly on the same
# build, so 2 % is far above their noise (zero) and below most real
# regressions; wall time moves 10-50 % between runs on a shared machine, so
# its gate is coarse and meant for a dedicated, idle one.
DEFAULT_MAX_REGRESSION = {"instructions": 0.02, "seconds": 0.25}
METRICS = tuple(DEFAULT_MAX_REGRESSION)
SCHEMAS = (1, 2)  # 1: wall time only, rows without "case"


class BadResult(ValueError):
    """A file that is not a ``wsfast bench --json`` result this version reads."""


@dataclasses.dataclass
class Result:
    """A saved (or current) result: its metric, rows and machine description."""

    metric: str
    rows: list[dict[str, Any]]
    machine: dict[str, Any]


def load(data: Any) -> Result:
    """Validate a parsed ``--json`` file.

    Raises:
        BadResult: with the reason.
    """
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise BadResult("not a result written by `wsfast bench --json`")
    schema = data.get("schema")
    if schema not in SCHEMAS:
        raise BadResult(
            f"result schema {schema!r}, but this wsfast reads schemas "
            f"{', '.join(map(str, SCHEMAS))}: compare results of compatible versions"
        )
    metric = data.get("metric", "seconds")
    if metric not in METRICS:
        raise BadResult(f"unknown metric {metric!r} (expected one of {', '.join(METRICS)})")
    rows = []
    for row in data["rows"]:
        if not isinstance(row, dict) or not isinstance(row.get("contender"), str):
            raise BadResult("a row without a contender")
        case = row.get("case") or row.get("group")
        if not isinstance(case, str):
            raise BadResult(f"a row of {row['contender']} without a case")
        rows.append(dict(row, case=case))
    machine = data.get("machine")
    return Result(metric, rows, machine if isinstance(machine, dict) else {})


def is_wsfast(row: dict[str, Any]) -> bool:
    return bool(row["contender"].startswith("wsfast"))


def value(row: dict[str, Any], metric: str) -> float | None:
    """The row's measurement, or None when it was not measured."""
    number = row.get(metric)
    if row.get("status", "ok") != "ok" or isinstance(number, bool):
        return None
    return number if isinstance(number, (int, float)) and number > 0 else None


def machine_differences(baseline: Result, current: Result) -> tuple[list[str], list[str]]:
    """(blocking, notes): machine facts that make the two results incomparable, or worth a note.

    Instruction counts are comparable only when :data:`FINGERPRINT` matches
    (same interpreter build, wsfast backend and kernels); a different CPU
    model or valgrind is a note. Wall times from different machines are never
    blocked, only noted.
    """
    blocking: list[str] = []
    notes: list[str] = []
    b, c = baseline.machine, current.machine

    def differ(key: str) -> str | None:
        if b.get(key) == c.get(key):
            return None
        return f"{key}: baseline {_show(b.get(key))}, this run {_show(c.get(key))}"

    if current.metric == "instructions":
        blocking += filter(None, map(differ, [k for k in FINGERPRINT if k != "kernels"]))
        # The deflate implementation matters to deflate rows only.
        families = {r.get("family") for r in current.rows}
        families &= {r.get("family") for r in baseline.rows}
        ignore = () if "deflate" in families else ("zlib",)
        kernels = [{k: v for k, v in (m.get("kernels") or {}).items() if k not in ignore}
                   for m in (b, c)]  # fmt: skip
        if kernels[0] != kernels[1]:
            blocking.append(f"kernels: baseline {_show(kernels[0])}, this run {_show(kernels[1])}")
        notes += filter(None, map(differ, ("cpu", "valgrind")))
    else:
        notes += filter(None, map(differ, ("cpu", "python", "features")))
    return blocking, notes


def _show(fact: Any) -> str:
    if isinstance(fact, dict):
        return ", ".join(f"{k}={v}" for k, v in fact.items()) or "-"
    return "missing" if fact is None else str(fact).splitlines()[0]


@dataclasses.dataclass
class Comparison:
    metric: str
    max_regression: float
    lines: list[str]
    failures: list[str]
    compared: int  # wsfast rows measured in both


def compare(baseline: Result, current: Result, max_regression: float) -> Comparison:
    """Row-by-row changes of ``current`` against ``baseline``.

    A failure is a wsfast row whose value grew by more than ``max_regression``
    (0.02: 2 %), or one measured in the baseline that this run could not measure.
    Rows in only one of the two are listed, not failed (``--only`` may differ).
    """
    metric = current.metric
    saved = {(r["case"], r["contender"]): r for r in baseline.rows}
    lines = [
        "| case | contender | baseline | this run | change | |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    failures: list[str] = []
    compared = 0
    for row in current.rows:
        key = (row["case"], row["contender"])
        old_row = saved.pop(key, None)
        old = value(old_row, metric) if old_row else None
        new = value(row, metric)
        ours = is_wsfast(row)
        name = f"**{row['contender']}**" if ours else row["contender"]
        change, verdict = "", ""
        if old_row is None:
            verdict = "not in baseline"
        elif old is not None and new is not None:
            growth = new / old - 1.0
            change = f"{growth:+.1%}"
            if ours:
                compared += 1
                verdict = "ok"
                if growth > max_regression:
                    verdict = "**REGRESSED**"
                    failures.append(
                        f"{row['case']}: {row['contender']} {_format(old, metric)} -> "
                        f"{_format(new, metric)} ({growth:+.1%})"
                    )
        elif ours and old is not None:
            verdict = "**NOT MEASURED**"
            failures.append(
                f"{row['case']}: {row['contender']} was measured in the baseline, "
                f"not in this run ({row.get('status')}: {row.get('reason')})"
            )
        lines.append(
            f"| {row['case']} | {name} | {_format(old, metric)} | {_format(new, metric)} "
            f"| {change} | {verdict} |"
        )
    absent = [f"{case} {contender}" for case, contender in saved]
    if absent:
        lines += ["", f"In the baseline, not in this run: {len(absent)} rows ({absent[0]}, ...)"]
    return Comparison(metric, max_regression, lines, failures, compared)


def _format(number: float | None, metric: str) -> str:
    if number is None:
        return "-"
    return f"{number:,.0f}" if metric == "instructions" else format_time(number)


def describe(metric: str) -> str:
    return "instructions per call" if metric == "instructions" else "seconds per call"


def summary(comparison: Comparison, baseline_path: str) -> Sequence[str]:
    """The lines after the table: the verdict."""
    limit = f"+{comparison.max_regression:.1%}"
    if comparison.failures:
        return [
            f"--compare failed: {len(comparison.failures)} wsfast rows regressed beyond "
            f"{limit} against {baseline_path} ({describe(comparison.metric)}):",
            *(f"  {line}" for line in comparison.failures),
        ]
    return [
        f"--compare passed: {comparison.compared} wsfast rows within {limit} of "
        f"{baseline_path} ({describe(comparison.metric)})."
    ]
