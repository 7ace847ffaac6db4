"""The project's development targets: ratio goals read from one benchmark run.

They are repository tooling, not part of the package: ``wsfast bench`` never
prints them. ``python bench/report.py bench.json`` lists each one with the
ratio measured in that run; nothing asserts them (performance is measured,
never a pass/fail test).

A target says ``ours`` should take at most 1/``min_ratio`` of ``other``'s
time: the ratio is other_time / ours_time (2.0: ours takes half the time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from wsfast._bench import format_size


@dataclasses.dataclass(frozen=True)
class Target:
    operation: str
    ours: str
    other: str
    min_ratio: float
    sizes: tuple[int, ...] | None = None  # None: every measured size
    note: str = ""


def _targets() -> list[Target]:
    big = (64 * 2**10, 2**20)
    small = (16, 125)
    found = [
        Target("mask_inplace", "wsfast (c)", "aiohttp", 1.3, big, "masking"),
        Target("mask_inplace", "wsfast (c)", "copy (into buffer)", 0.9, big, "masking"),
        Target("mask", "wsfast (c)", "websockets", 1.3, (2**20,), "masking"),
        Target("mask_inplace", "wsfast (c)", "aiohttp", 1.0, (125,), "masking: call cost"),
        Target("mask", "wsfast (py)", "wsproto", 1.0, None, "pure-Python fallback"),
    ]
    for corpus in ("ascii", "european", "cjk", "emoji"):
        op = f"validate_utf8 {corpus}"
        if corpus == "ascii":
            found.append(Target(op, "wsfast (c)", "bytes.decode", 1.5, (2**20,), "UTF-8"))
        else:
            found.append(Target(op, "wsfast (c)", "bytes.decode", 20.0, (2**20,), "UTF-8"))
            found.append(Target(op, "wsfast (c)", "wsaccel", 25.0, (2**20,), "UTF-8"))
        # "Within 1.2x of bytes.decode's time": decode_time / ours >= 1 / 1.2.
        found.append(Target(op, "wsfast (c)", "bytes.decode", 1 / 1.2, (125,), "UTF-8: call cost"))
        for ours in ("wsfast (py)", "wsfast (py) Utf8Validator"):
            found.append(Target(op, ours, "codecs incremental", 1.0, None, "pure-Python fallback"))
    for ours in ("wsfast Decoder (c)", "wsfast FrameDecoder (c)"):
        found += [
            Target("decode", ours, "aiohttp", 2.0, small, "frames/s"),
            Target("decode", ours, "aiohttp", 2.0, big, "bytes/s"),
            Target("decode", ours, "wsproto", 20.0, small, "frames"),
            Target("decode", ours, "wsproto FrameProtocol", 20.0, small, "wsproto's faster API"),
        ]
    for ours in ("wsfast Decoder (py)", "wsfast FrameDecoder (py)"):
        found += [
            Target("decode", ours, "wsproto", 1.0, None, "pure-Python fallback"),
            Target("decode", ours, "wsproto FrameProtocol", 1.0, None, "pure-Python fallback"),
        ]
    found.append(
        Target("encode", "wsfast Encoder (py)", "wsproto", 1.0, None, "pure-Python fallback")
    )
    return found


TARGETS = _targets()


def _find(rows: Sequence[dict[str, Any]], operation: str, size: int, contender: str) -> Any:
    for row in rows:
        if row["operation"] == operation and row["size"] == size and row["contender"] == contender:
            return row
    return None


def evaluate(
    rows: Sequence[dict[str, Any]], targets: Iterable[Target] = TARGETS
) -> list[dict[str, Any]]:
    """Each target at each measured size: the ratio, and whether it is met (None: not measured)."""
    results = []
    for target in targets:
        sizes = sorted({r["size"] for r in rows if r["operation"] == target.operation})
        for size in sizes if target.sizes is None else target.sizes:
            ours = _find(rows, target.operation, size, target.ours)
            other = _find(rows, target.operation, size, target.other)
            if ours is None and other is None:
                continue
            value = None
            if ours and other and ours["status"] == other["status"] == "ok":
                value = float(other["seconds"]) / float(ours["seconds"])
            results.append({
                "operation": target.operation, "size": size, "ours": target.ours,
                "other": target.other, "min_ratio": target.min_ratio, "ratio": value,
                "met": None if value is None else value >= target.min_ratio, "note": target.note,
            })  # fmt: skip
    return results


def format_targets(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for t in evaluate(rows):
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "below")
        got = "n/a" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        lines.append(
            f"- {t['operation']} {format_size(t['size'])}: {t['ours']} vs {t['other']} "
            f"{got} (target >= {t['min_ratio']:.2f}x) {verdict}"
            + (f" [{t['note']}]" if t["note"] else "")
        )
    return lines
