"""``wsfast bench --counts`` and ``--compare``: the JSON schema and the comparison rules.

The comparison is tested on contrived saved results (``--load`` with
``--compare``), so these tests need no valgrind. The real callgrind runs (two
runs give identical counts; ``--compare`` against a committed baseline) are in
.ci/run, which installs valgrind: a test here would fail where it is missing.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import wsfast
from wsfast._bench import counts, items, report

ENV = dict(os.environ, PYTHONPATH=str(Path(wsfast.__file__).resolve().parent.parent))
NEUTRAL_DIR = Path(__file__).resolve().parent

MACHINE = {
    "cpu": "Example CPU",
    "arch": "x86_64",
    "python_version": "3.11.7 (main) [GCC 12.2.0]",
    "backend": "c",
    "kernels": {"mask": "avx2", "utf8": "avx2", "zlib": "zlib"},
    "valgrind": "valgrind-3.19.0",
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "wsfast", *args],
        capture_output=True,
        check=False,
        text=True,
        env=ENV if env is None else env,
        cwd=NEUTRAL_DIR,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _row(contender: str, size: int, instructions: int | None, **extra: Any) -> dict[str, Any]:
    kind = "wsfast" if contender.startswith("wsfast") else "peer"
    return {
        "operation": "mask", "family": "mask", "size": size, "group": f"mask {size} B",
        "contender": contender, "kind": kind, "primary": contender == "wsfast (c)",
        "library": None, "version": None, "status": "ok" if instructions else "skipped",
        "reason": None if instructions else "not installed", "seconds": None, "nbytes": size,
        "instructions": instructions, **extra,
    }  # fmt: skip


def counts_rows() -> list[dict[str, Any]]:
    return [
        _row("wsfast (c)", 2, 480),
        _row("wsfast (py)", 2, 6800),
        _row("peerlib", 2, 900),
        _row("absent", 2, None),
        _row("wsfast (c)", 125, 530),
        _row("peerlib", 125, 1000),
    ]


def counts_result(rows: list[dict[str, Any]] | None = None, **machine: Any) -> dict[str, Any]:
    return report.to_json(counts_rows() if rows is None else rows, dict(MACHINE, **machine),
                          "instructions")  # fmt: skip


def save(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def scaled(data: dict[str, Any], factor: float, who: str = "wsfast") -> dict[str, Any]:
    """A copy of ``data`` whose measured rows of ``who`` are multiplied by ``factor``."""
    out = copy.deepcopy(data)
    metric = out["metric"]
    for row in out["rows"]:
        if row["contender"].startswith(who) and row[metric] is not None:
            value = row[metric] * factor
            row[metric] = round(value) if metric == "instructions" else value
    return out


# --- the JSON schema -------------------------------------------------------------------


def test_counts_json_schema() -> None:
    data = counts_result()
    assert data["schema"] == 2 and data["metric"] == "instructions"
    assert "targets" not in data  # development goals live in bench/, not in results
    for row in data["rows"]:
        assert {"family", "case", "contender", "instructions"} <= set(row)
        assert row["case"] == row["group"]
        assert row["seconds"] is None and row["bytes_per_second"] is None
        if row["status"] == "ok":
            assert isinstance(row["instructions"], int)
    by_key = {(r["case"], r["contender"]): r for r in data["rows"]}
    # Ratios are taken on instructions: 900 / 480.
    assert by_key[("mask 2 B", "peerlib")]["x_vs_wsfast"] == pytest.approx(900 / 480)
    assert by_key[("mask 2 B", "wsfast (c)")]["x_vs_wsfast"] == 1.0
    assert by_key[("mask 2 B", "absent")]["x_vs_wsfast"] is None


def test_wall_json_schema() -> None:
    rows = [dict(r, instructions=None, seconds=r["instructions"] and r["instructions"] * 1e-9)
            for r in counts_rows()]  # fmt: skip
    for row in rows:
        del row["instructions"]
    data = report.to_json(rows, {})
    assert data["schema"] == 2 and data["metric"] == "seconds"
    for row in data["rows"]:
        assert {"family", "case", "contender", "seconds"} <= set(row)
        assert row["instructions"] is None
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    assert all(isinstance(r["seconds"], float) and r["bytes_per_second"] for r in ok)


def test_counts_tables() -> None:
    text = counts.format_tables(counts_rows(), MACHINE)
    assert "### mask 2 B" in text and "### mask 125 B" in text
    assert "instructions per call" in text
    table = text.split("### mask 2 B", 1)[1].split("###", 1)[0]
    # Fewest instructions first; the skipped peer last, with its reason.
    order = [name for name in ("wsfast (c)", "peerlib", "wsfast (py)", "absent") if name in table]
    assert order == sorted(order, key=table.index)
    assert table.index("**wsfast (c)**") < table.index("peerlib") < table.index("**wsfast (py)**")
    assert "skipped: not installed" in table
    assert "6,800" in table and "1.88" in table  # 900 / 480


def test_load_prints_counts(tmp_path: Path) -> None:
    path = save(tmp_path / "a.json", counts_result())
    result = run("bench", "--load", path)
    assert result.returncode == 0, result.stderr
    assert "instructions per call" in result.stdout
    assert "| **wsfast (c)** |  | 480 |" in result.stdout


def test_counts_sizes() -> None:
    chosen = counts.selected(items(["mask"]))
    assert chosen and max(item.size for item in chosen) == counts.MAX_SIZE
    assert {item.size for item in chosen} == {
        s for s in {item.size for item in items(["mask"])} if s <= counts.MAX_SIZE
    }


# --- --compare ---------------------------------------------------------------------------


def test_compare_identical_passes(tmp_path: Path) -> None:
    path = save(tmp_path / "a.json", counts_result())
    result = run("bench", "--load", path, "--compare", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--compare passed: 3 wsfast rows within +2.0%" in result.stdout
    assert "| mask 2 B | **wsfast (c)** | 480 | 480 | +0.0% | ok |" in result.stdout


def test_compare_halved_baseline_fails_and_names_rows(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "half.json", scaled(counts_result(), 0.5))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = result.stdout.split("--compare failed", 1)[1]
    assert "3 wsfast rows regressed beyond +2.0%" in verdict
    assert "mask 2 B: wsfast (c) 240 -> 480 (+100.0%)" in verdict
    assert "mask 2 B: wsfast (py) 3,400 -> 6,800 (+100.0%)" in verdict
    assert "mask 125 B: wsfast (c)" in verdict
    assert "peerlib" not in verdict


def test_compare_threshold_for_counts(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    # This run has 1.9 % more instructions than the baseline: within 2 %.
    within = save(tmp_path / "b.json", scaled(counts_result(), 1 / 1.019))
    assert run("bench", "--load", current, "--compare", within).returncode == 0
    beyond = save(tmp_path / "c.json", scaled(counts_result(), 1 / 1.03))
    assert run("bench", "--load", current, "--compare", beyond).returncode == 1
    wider = run("bench", "--load", current, "--compare", beyond, "--max-regression", "5")
    assert wider.returncode == 0


def test_compare_peers_never_fail(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "b.json", scaled(counts_result(), 0.5, who="peerlib"))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 0, result.stdout
    assert "| mask 2 B | peerlib | 450 | 900 | +100.0% |  |" in result.stdout


def test_compare_improvement_passes(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "b.json", scaled(counts_result(), 2.0))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 0
    assert "-50.0%" in result.stdout


def wall_result(factor: float = 1.0) -> dict[str, Any]:
    rows = []
    for row in counts_rows():
        seconds = row.pop("instructions")
        rows.append(dict(row, seconds=seconds and seconds * 1e-9 * factor))
    return report.to_json(rows, {"cpu": "Example CPU"})


@pytest.mark.parametrize(
    "growth, options, status",
    [
        (1.2, [], 0),  # the wall-time default is 25 %
        (1.3, [], 1),
        (1.2, ["--max-regression", "10"], 1),
    ],
)
def test_compare_wall_time(tmp_path: Path, growth: float, options: list[str], status: int) -> None:
    current = save(tmp_path / "a.json", wall_result(growth))
    baseline = save(tmp_path / "b.json", wall_result())
    result = run("bench", "--load", current, "--compare", baseline, *options)
    assert result.returncode == status, result.stdout + result.stderr
    assert "seconds per call" in result.stdout
    if status:
        assert "mask 2 B: wsfast (c) 480 ns -> " in result.stdout


def test_compare_schema_1_wall_baseline(tmp_path: Path) -> None:
    """Files written before --counts (schema 1: no metric, no case) still compare."""
    old = wall_result()
    old["schema"] = 1
    del old["metric"]
    for row in old["rows"]:
        del row["case"], row["instructions"]
    current = save(tmp_path / "a.json", wall_result())
    result = run("bench", "--load", current, "--compare", save(tmp_path / "old.json", old))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "baseline, message",
    [
        ({"schema": 99, "metric": "instructions", "rows": []}, "result schema 99"),
        ({"schema": 2, "metric": "cycles", "rows": []}, "unknown metric 'cycles'"),
        ({"rows": 3}, "not a result written by"),
        ({"schema": 2, "rows": [{"case": "mask 2 B"}]}, "a row without a contender"),
    ],
)
def test_compare_bad_baseline(tmp_path: Path, baseline: dict[str, Any], message: str) -> None:
    current = save(tmp_path / "a.json", counts_result())
    result = run("bench", "--load", current, "--compare", save(tmp_path / "b.json", baseline))
    assert result.returncode == 2
    assert message in result.stderr


def test_compare_unreadable_baseline(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    result = run("bench", "--load", current, "--compare", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_compare_metric_mismatch(tmp_path: Path) -> None:
    counted = save(tmp_path / "counts.json", counts_result())
    timed = save(tmp_path / "wall.json", wall_result())
    result = run("bench", "--load", timed, "--compare", counted)
    assert result.returncode == 2
    assert "holds instructions per call, this result seconds per call" in result.stderr
    # Asking for counts against a wall-time baseline is refused before anything runs.
    result = run("bench", "--counts", "--only", "mask", "--compare", timed)
    assert result.returncode == 2
    assert "holds wall times, not instruction counts" in result.stderr


@pytest.mark.parametrize(
    "difference, named",
    [
        ({"kernels": {"mask": "sse2", "utf8": "avx2"}}, "kernels: baseline mask=sse2"),
        ({"backend": "python"}, "backend: baseline python, this run c"),
        ({"python_version": "3.12.1 (main) [GCC 12.2.0]"}, "python_version: baseline 3.12.1"),
    ],
)
def test_compare_refuses_other_setup(
    tmp_path: Path, difference: dict[str, Any], named: str
) -> None:
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "b.json", counts_result(**difference))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "counts are not comparable" in result.stderr
    assert named in result.stderr


def test_compare_zlib_matters_to_deflate_rows_only(tmp_path: Path) -> None:
    other_zlib = {"kernels": {"mask": "avx2", "utf8": "avx2", "zlib": "zlib-ng"}}
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "b.json", counts_result(**other_zlib))
    assert run("bench", "--load", current, "--compare", baseline).returncode == 0
    deflate = [dict(r, family="deflate") for r in counts_rows()]
    current = save(tmp_path / "c.json", counts_result(deflate))
    baseline = save(tmp_path / "d.json", counts_result(deflate, **other_zlib))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 2
    assert "kernels: baseline mask=avx2, utf8=avx2, zlib=zlib-ng" in result.stderr


def test_compare_notes_other_cpu(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result())
    baseline = save(tmp_path / "b.json", counts_result(cpu="Other CPU"))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 0
    assert "cpu: baseline Other CPU, this run Example CPU" in result.stdout


def test_compare_row_not_measured_any_more(tmp_path: Path) -> None:
    rows = counts_rows()
    rows[1] = _row("wsfast (py)", 2, None)  # skipped in this run
    current = save(tmp_path / "a.json", counts_result(rows))
    baseline = save(tmp_path / "b.json", counts_result())
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 1
    assert "mask 2 B: wsfast (py) was measured in the baseline, not in this run" in result.stdout


def test_compare_rows_in_one_file_only(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result(counts_rows()[:4]))  # no 125 B rows
    baseline = save(tmp_path / "b.json", counts_result(counts_rows()[1:]))  # no wsfast (c) 2 B
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| mask 2 B | **wsfast (c)** | - | 480 |  | not in baseline |" in result.stdout
    assert "In the baseline, not in this run: 2 rows" in result.stdout


def test_compare_nothing_in_common(tmp_path: Path) -> None:
    current = save(tmp_path / "a.json", counts_result(counts_rows()[:4]))
    baseline = save(tmp_path / "b.json", counts_result(counts_rows()[4:]))
    result = run("bench", "--load", current, "--compare", baseline)
    assert result.returncode == 2
    assert "no wsfast row of this run was measured in" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-regression", "5"], "--max-regression needs --compare"),
        (["--counts", "--check"], "--check and --plot are about wall time"),
        (["--counts", "--plot", "x.png"], "--check and --plot are about wall time"),
    ],
)
def test_counts_usage_errors(args: list[str], message: str) -> None:
    result = run("bench", "--only", "mask", *args)
    assert result.returncode == 2
    assert message in result.stderr


# --- running without valgrind ------------------------------------------------------------


def test_counts_without_valgrind(tmp_path: Path) -> None:
    # A PATH with no valgrind on it (the interpreter is run by its full path).
    env = dict(ENV, PATH=str(tmp_path))
    result = run("bench", "--counts", "--only", "mask", env=env)
    assert result.returncode == 2
    if platform.machine().lower() in ("x86_64", "amd64") and sys.platform == "linux":
        assert "valgrind is not installed" in result.stderr
    else:
        assert "instruction counts need valgrind on x86-64 Linux" in result.stderr
    assert result.stdout == ""


def test_client_request_outside_valgrind() -> None:
    """The request code runs natively as a no-op returning 0, so the driver refuses to run."""
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform != "linux":
        with pytest.raises(counts.CountsUnavailable):
            counts.valgrind()
        return
    with pytest.raises(RuntimeError, match="must run under valgrind"):
        counts._Callgrind("/nonexistent/callgrind.out")
