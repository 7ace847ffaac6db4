"""What ``wsfast bench`` prints for users: headline, per-frame rows, skip list, picows.

Timings are never asserted: the report is tested on contrived rows, and the
picows contender on its output (checked against the reference before any
contender is timed, as ``wsfast bench`` does).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from wsfast._bench import frames, operations
from wsfast._bench.report import format_group, format_headline, format_skips, format_tables


def _row(operation: str, family: str, size: int, contender: str, kind: str, seconds: float | None,
         library: str | None = None, reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "operation": operation, "family": family, "size": size, "group": f"{operation} {size}",
        "contender": contender, "kind": kind, "primary": contender.startswith("wsfast Decoder (c)")
        or contender == "wsfast (c)", "library": library, "version": None,
        "status": "ok" if seconds else "skipped", "reason": reason, "seconds": seconds,
        "nbytes": size,
    }  # fmt: skip


def _decode_rows() -> list[dict[str, Any]]:
    return [
        _row("decode", "frames", 16, "wsfast Decoder (c)", "wsfast", 1e-3),
        _row("decode", "frames", 16, "aiohttp", "peer", 3e-3, "aiohttp"),
        _row("decode", "frames", 16, "picows", "peer", 2e-3, "picows"),
        _row("decode", "frames", 65536, "wsfast Decoder (c)", "wsfast", 1e-3),
        _row("decode", "frames", 65536, "aiohttp", "peer", 0.8e-3, "aiohttp"),
        _row("decode", "frames", 65536, "wsproto", "peer", None, "wsproto", "not installed"),
        _row("mask", "mask", 4096, "wsfast (c)", "wsfast", 1e-6),
    ]


def test_batch_rows_show_time_per_frame() -> None:
    rows = [r for r in _decode_rows() if r["operation"] == "decode" and r["size"] == 16]
    lines = format_group(rows)
    assert lines[0] == "### decode 16 B (one call: 10,000 frames)"
    assert "time per frame" in lines[2]
    # 1 ms per call of 10,000 frames is 100 ns per frame.
    assert any(line.startswith("| **wsfast Decoder (c)** |  | 100 ns |") for line in lines)


def test_single_buffer_rows_show_time_per_call() -> None:
    lines = format_group([_row("mask", "mask", 4096, "wsfast (c)", "wsfast", 1e-6)])
    assert lines[0] == "### mask 4 KiB" and "time per call" in lines[2]


def test_headline_is_a_range_per_family() -> None:
    lines = format_headline(_decode_rows())
    frames_line = next(line for line in lines if line.startswith("- frames:"))
    # Best peer: picows at 2.00x (16 B), aiohttp at 0.80x (64 KiB).
    assert "0.80x to 2.00x over 2 rows" in frames_line
    assert "a peer is faster in 1 of 2 rows, by up to 25 %" in frames_line
    assert "aiohttp, picows" in frames_line
    assert any(line.startswith("- mask: no peer timed") for line in lines)


def test_headline_comes_first_and_skips_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    from wsfast._bench import report

    assert format_tables(_decode_rows()).startswith("## Headline")
    monkeypatch.setattr(report, "KNOWN_PEERS", (*report.KNOWN_PEERS, "no-such-peer"))
    skips = format_skips(_decode_rows())
    assert skips[0] == "## Peers not timed"
    # A row that was not timed, with its reason and contender.
    assert "- wsproto: not timed: not installed (wsproto)" in skips
    # A peer with no contender in a family that ran is named as not applicable.
    assert "- tornado: not in the frames benchmarks (not applicable)" in skips
    # A known peer that is not installed at all.
    assert "- no-such-peer: not installed" in skips
    # Peers timed everywhere they are registered are not listed.
    assert not any(line.startswith("- aiohttp") for line in skips)


@pytest.mark.parametrize("size", frames.SIZES)
def test_picows_decode_is_checked_correct(size: int) -> None:
    (decode,) = [op for op in operations(["frames"]) if op.name == "decode"]
    (picows,) = [c for c in decode.contenders if c.name == "picows"]
    assert picows.skip_reason is None  # picows is in the test extra
    case, _ = decode.case(size)
    assert decode.check(picows, case) is None
    # Twice on the same connection: each call reads one more batch.
    call = picows.setup(case)
    assert call.run() == call.run() == frames.reference(case)


def test_picows_decode_text_rows_are_decoded() -> None:
    (decode,) = [op for op in operations(["frames"]) if op.name == "decode"]
    (picows,) = [c for c in decode.contenders if c.name == "picows"]
    case, _ = decode.case(frames.TEXT_SIZES[0])
    returned = picows.setup(case).func(case.wire)
    assert returned and all(isinstance(item, str) for item in returned)


def test_development_targets_stay_out_of_the_package_and_name_real_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bench/targets.py (repository tooling) names registered operations and contenders."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "targets.py"
    spec = importlib.util.spec_from_file_location("bench_targets", path)
    assert spec is not None and spec.loader is not None
    targets = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, targets)  # dataclasses look their module up
    spec.loader.exec_module(targets)
    registered = {op.name: {c.name for c in op.contenders} for op in operations()}
    assert targets.TARGETS
    for target in targets.TARGETS:
        assert {target.ours, target.other} <= registered[target.operation], target
    import wsfast._bench as package

    assert not hasattr(package, "Target")
    assert not any(hasattr(op, "targets") for op in operations())
