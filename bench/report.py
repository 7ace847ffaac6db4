"""Print the tables of a pytest-benchmark JSON file written by the bench/ suite.

    python -m pytest bench --benchmark-json=bench.json
    python bench/report.py bench.json [--plot bench.png] [--check]

The tables, --check and the chart are the same code as ``wsfast bench``
(wsfast/_bench/report.py); only the input differs. The project's development
targets (bench/targets.py) are listed after the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wsfast._bench import report

sys.path.insert(0, str(Path(__file__).resolve().parent))
from targets import format_targets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    parser.add_argument("--plot", metavar="PNG", help="also write the bar chart")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a peer beats wsfast in any row"
    )
    args = parser.parse_args(argv)
    try:
        with open(args.json, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read {args.json}: {exc}")
    rows, info = report.rows_from_pytest_benchmark(data)
    if not rows:
        parser.error(f"{args.json} holds no wsfast benchmark results")
    print(report.format_tables(rows, info), end="")
    lines = format_targets(rows)
    if lines:
        print("\nDevelopment targets (ratios from this run):\n", *lines, sep="\n")
    if args.plot:
        report.plot(rows, args.plot, info)
        print(f"Wrote {args.plot}")
    failures = report.check_failures(rows)
    if args.check and failures:
        print("\n--check failed:", *(f"  {line}" for line in failures), sep="\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
