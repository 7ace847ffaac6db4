"""Turn result rows into a headline, tables, a skip list, ``--check`` failures, JSON and a chart.

A row is a dict with the keys of :data:`ROW_KEYS`. ``wsfast bench`` makes rows
with :mod:`wsfast._bench.timer`; ``bench/report.py`` makes them from
pytest-benchmark JSON with :func:`rows_from_pytest_benchmark`. Everything
after that is shared, so both print the same tables.

Ratios: "x vs wsfast" is the contender's time divided by wsfast's time in the
same group (2.00: that contender takes twice as long as wsfast on the same
input). Operations that handle a batch of frames or messages per call show
the time per frame or message.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from typing import Any

from . import FAMILIES, dist_version, format_size, operations

ROW_KEYS = (
    "operation", "family", "size", "group", "contender", "kind", "primary",
    "library", "version", "status", "reason", "seconds", "nbytes", "instructions",
)  # fmt: skip


# --- machine description ---------------------------------------------------


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def python_build() -> str:
    """ "GIL" or "free-threaded" (and whether the GIL was re-enabled at run time)."""
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "GIL"
    is_gil_enabled = getattr(sys, "_is_gil_enabled", lambda: False)
    return "free-threaded (GIL re-enabled at run time)" if is_gil_enabled() else "free-threaded"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: printed under the tables and saved in JSON."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_build": python_build(),
    }
    if hasattr(os, "getloadavg"):
        info["load"] = round(os.getloadavg()[0], 2)  # other work on the machine skews ratios
    try:
        import wsfast

        info["wsfast"] = wsfast.__version__
        info["features"] = {k: v for k, v in wsfast.features().items() if isinstance(v, str)}
    except Exception as exc:  # noqa: BLE001 - the report must still print if wsfast is half-built
        info["wsfast"] = f"unavailable ({type(exc).__name__}: {exc})"
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line: CPU, cores, OS, Python, wsfast backend and kernels."""
    features = info.get("features") or {}
    kernels = ", ".join(f"{k}={v}" for k, v in features.items() if k != "backend")
    wsfast = f"wsfast {info.get('wsfast')}"
    if features:
        wsfast += f" ({features.get('backend', '?')} backend; {kernels})"
    return (
        f"{info.get('cpu')} ({info.get('cores')} cores), {info.get('os')}, "
        f"{info.get('python')} [{info.get('python_build')}], {wsfast}"
    )


def versions(rows: Iterable[dict[str, Any]]) -> dict[str, str | None]:
    """Library -> version, for every library that appears in ``rows``."""
    found: dict[str, str | None] = {}
    for row in rows:
        if row.get("library"):
            found.setdefault(row["library"], row.get("version"))
    return found


# --- tables -----------------------------------------------------------------


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_rate(nbytes: int, seconds: float) -> str:
    rate = nbytes / seconds
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.3g} {unit}"
    return f"{rate:.3g} B/s"


def groups(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Rows by (operation, size), operations in registry order then sizes ascending."""
    order = {op.name: i for i, op in enumerate(operations())}
    result: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in sorted(
        rows, key=lambda r: (order.get(r["operation"], len(order)), r["operation"], r["size"])
    ):
        result.setdefault((row["operation"], row["size"]), []).append(row)
    return result


def primary_row(group: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The timed wsfast row that ratios refer to."""
    for row in group:
        if row.get("primary") and row["status"] == "ok":
            return row
    return None


def metric(rows: Iterable[dict[str, Any]]) -> str:
    """ "instructions" for rows of ``wsfast bench --counts``, else "seconds"."""
    return "instructions" if any(r.get("instructions") is not None for r in rows) else "seconds"


def ratio(row: dict[str, Any], reference: dict[str, Any] | None) -> float | None:
    if reference is None or row["status"] != "ok":
        return None
    key = metric([row])
    return float(row[key]) / float(reference[key])


def format_group(group: Sequence[dict[str, Any]]) -> list[str]:
    """One markdown table, fastest first, untimed rows last with their reason."""
    reference = primary_row(group)
    ref_name = reference["contender"] if reference else "wsfast"
    timed = sorted((r for r in group if r["status"] == "ok"), key=lambda r: r["seconds"])
    untimed = [r for r in group if r["status"] != "ok"]
    first = group[0]
    unit, count = per_call(first["operation"], first["size"])
    title = f"### {first['operation']} {format_size(first['size'])}"
    if count > 1:
        title += f" (one call: {count:,} {unit}s)"
    lines = [
        title,
        "",
        f"| library | version | time per {unit} | throughput | x vs {ref_name} |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in timed:
        r = ratio(row, reference)
        name = f"**{row['contender']}**" if row.get("kind") == "wsfast" else row["contender"]
        if row.get("kind") == "baseline":
            name += " *(baseline)*"
        lines.append(
            f"| {name} | {row.get('version') or ''} | {format_time(row['seconds'] / count)} | "
            f"{format_rate(row['nbytes'], row['seconds'])} | {'' if r is None else f'{r:.2f}'} |"
        )
    for row in untimed:
        label = "INCORRECT" if row["status"] == "incorrect" else row["status"]
        lines.append(
            f"| {row['contender']} | {row.get('version') or ''} | {label}: {row.get('reason')} | | |"
        )
    return lines


def format_summary(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One matrix per operation: x vs wsfast for each contender (rows) and size (columns).

    Contenders are sorted by the geometric mean of their ratios, fastest first;
    the wsfast row shows its throughput instead of 1.00.
    """
    by_operation: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for (operation, size), group in groups(rows).items():
        by_operation.setdefault(operation, {})[size] = group
    lines: list[str] = []
    for operation, sizes in by_operation.items():
        cells: dict[str, dict[int, str]] = {}
        logs: dict[str, list[float]] = {}
        meta: dict[str, dict[str, Any]] = {}
        for size, group in sizes.items():
            reference = primary_row(group)
            for row in group:
                name = row["contender"]
                meta.setdefault(name, row)
                r = ratio(row, reference)
                if row is reference:
                    cells.setdefault(name, {})[size] = format_rate(row["nbytes"], row["seconds"])
                elif r is not None:
                    cells.setdefault(name, {})[size] = f"{r:.2f}"
                    logs.setdefault(name, []).append(math.log(r))
                else:
                    cells.setdefault(name, {})[size] = "-"
        timed = [n for n in cells if any(v != "-" for v in cells[n].values())]
        order = sorted(
            timed,
            key=lambda n: sum(logs[n]) / len(logs[n]) if logs.get(n) else 0.0,
        )
        lines += [
            f"#### {operation}: time as a multiple of wsfast's (wsfast row: its throughput)",
            "",
            "| library | version | " + " | ".join(format_size(s) for s in sizes) + " |",
            "| --- | --- |" + " ---: |" * len(sizes),
        ]
        for name in order:
            row = meta[name]
            label = f"**{name}**" if row.get("kind") == "wsfast" else name
            if row.get("kind") == "baseline":
                label += " *(baseline)*"
            values = " | ".join(cells[name].get(s, "-") for s in sizes)
            lines.append(f"| {label} | {row.get('version') or ''} | {values} |")
        skipped = sorted({n for n in cells if n not in timed})
        if skipped:
            reasons = [f"{n} ({meta[n].get('reason')})" for n in skipped]
            lines += ["", "Not timed: " + "; ".join(reasons)]
        lines.append("")
    return lines


def per_call(operation: str, size: int) -> tuple[str, int]:
    """("frame", 10000) for a call that handles a batch; ("call", 1) otherwise."""
    for op in operations():
        if op.name == operation and op.per_call(size) > 1:
            return op.unit, op.per_call(size)
    return "call", 1


def _family_of(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_family: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_family.setdefault(str(row.get("family")), []).append(row)
    order = {f: i for i, f in enumerate(FAMILIES)}
    return dict(sorted(by_family.items(), key=lambda kv: order.get(kv[0], len(order))))


def format_headline(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per family: the best installed peer's time as a multiple of wsfast's, as a range."""
    lines = ["## Headline: the fastest installed peer's time as a multiple of wsfast's", ""]
    for family, family_rows in _family_of(rows).items():
        ratios: list[float] = []
        peers: set[str] = set()
        for group in groups(family_rows).values():
            ours = primary_row(group)
            timed = [r for r in group if r.get("kind") == "peer" and r["status"] == "ok"]
            if ours is None or not timed:
                continue
            best = min(timed, key=lambda r: r["seconds"])
            ratios.append(float(best["seconds"]) / float(ours["seconds"]))
            peers.add(str(best.get("library") or best["contender"]))
        if not ratios:
            lines.append(f"- {family}: no peer timed (see the skip list below)")
            continue
        low, high = min(ratios), max(ratios)
        span = f"{low:.2f}x" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}x to {high:.2f}x"
        faster = sum(r < 1.0 for r in ratios)
        verdict = (
            "wsfast is the fastest in every row"
            if not faster
            else f"a peer is faster in {faster} of {len(ratios)} rows, "
            f"by up to {(1 / low - 1) * 100:.0f} %"
        )
        lines.append(
            f"- {family}: {span} over {len(ratios)} rows ({verdict}; "
            f"best peer per row: {', '.join(sorted(peers))})"
        )
    lines += [
        "",
        "Above 1.00x wsfast is faster (2.00x: the fastest peer takes twice as long); "
        "below 1.00x that peer is faster.",
        "",
    ]
    return lines


# Peer libraries that the "bench" extra installs, by distribution name.
KNOWN_PEERS = ("aiohttp", "autobahn", "picows", "tornado", "websockets", "wsaccel", "wsproto")


def format_skips(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every peer that was not timed somewhere, and why: not installed, or no comparable API."""
    ran = {str(r["family"]) for r in rows}
    reasons: dict[str, dict[str, str]] = {}  # peer -> reason -> where
    timed_in: dict[str, set[str]] = {}
    for row in rows:
        if row.get("kind") != "peer":
            continue
        library = str(row.get("library") or row["contender"])
        if row["status"] == "ok":
            timed_in.setdefault(library, set()).add(str(row["family"]))
            continue
        label = "INCORRECT, not timed" if row["status"] == "incorrect" else "not timed"
        reason = f"{label}: {row.get('reason')}"
        where = reasons.setdefault(library, {})
        where[reason] = ", ".join(sorted(set(filter(None, where.get(reason, "").split(", ")))
                                         | {str(row["contender"])}))  # fmt: skip
    registered: dict[str, set[str]] = {}
    for op in operations():
        for contender in op.contenders:
            if contender.kind == "peer" and contender.dist:
                registered.setdefault(contender.dist, set()).add(op.family)
    lines = []
    for peer in sorted(set(KNOWN_PEERS) | set(reasons) | set(registered)):
        notes = [f"{reason} ({where})" for reason, where in reasons.get(peer, {}).items()]
        elsewhere = sorted(ran - registered.get(peer, set()))
        if elsewhere:
            notes.append(f"not in the {', '.join(elsewhere)} benchmarks (not applicable)")
        if notes and not timed_in.get(peer) and dist_version(peer) is None:
            notes = ["not installed"]
        if notes:
            lines.append(f"- {peer}: " + "; ".join(notes))
    if not lines:
        return []
    return ["## Peers not timed", "", *lines, ""]


def format_tables(
    rows: Sequence[dict[str, Any]], info: dict[str, Any] | None = None, *, summary: bool = True
) -> str:
    """The headline, every group's table, the summary matrices, the skip list and the machine."""
    out: list[str] = format_headline(rows)
    for group in groups(rows).values():
        out.extend(format_group(group))
        out.append("")
    if summary:
        out += ["## Summary", "", *format_summary(rows)]
    out.append(
        "x vs wsfast: the contender's time divided by wsfast's on the same input "
        "(2.00 = takes twice as long; below 1.00 = faster than wsfast)."
    )
    out += ["", *format_skips(rows)]
    vs = versions(rows)
    if vs:
        out += [
            "Versions: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in sorted(vs.items())),
        ]
    if info:
        out += ["Machine: " + machine_line(info)]
        load, cores = info.get("load"), info.get("cores") or 1
        if isinstance(load, (int, float)) and load > 0.5 * cores:
            out.append(
                f"Warning: the machine was busy when the run started (load {load} on "
                f"{cores} cores); other work skews timings, so rerun on an idle machine."
            )
    return "\n".join(out) + "\n"


# --- --check ------------------------------------------------------------------


def _find(
    rows: Sequence[dict[str, Any]], operation: str, size: int, contender: str
) -> dict[str, Any] | None:
    for row in rows:
        if row["operation"] == operation and row["size"] == size and row["contender"] == contender:
            return row
    return None


def incorrect_wsfast(rows: Sequence[dict[str, Any]]) -> list[str]:
    """wsfast rows whose output did not match the reference: always an error."""
    return [
        f"{row['group']}: {row['contender']} is INCORRECT: {row['reason']}"
        for row in rows
        if row.get("kind") == "wsfast" and row["status"] == "incorrect"
    ]


def check_failures(rows: Sequence[dict[str, Any]], tolerance: float = 0.0) -> list[str]:
    """Groups where the best installed peer beats wsfast, plus incorrect wsfast rows.

    Baselines (a plain copy, ``bytes.decode``) are limits, not peers, and do not
    count. ``tolerance`` 0.05 lets a peer be up to 5 % faster before failing.
    """
    failures = incorrect_wsfast(rows)
    for (operation, size), group in groups(rows).items():
        ours = primary_row(group)
        peers = [r for r in group if r.get("kind") == "peer" and r["status"] == "ok"]
        if ours is None or not peers:
            continue
        best = min(peers, key=lambda r: r["seconds"])
        if best["seconds"] * (1.0 + tolerance) < ours["seconds"]:
            failures.append(
                f"{operation} {format_size(size)}: {best['contender']} {format_time(best['seconds'])} "
                f"< {ours['contender']} {format_time(ours['seconds'])} "
                f"(wsfast takes {ours['seconds'] / best['seconds']:.2f}x as long)"
            )
    return failures


# --- JSON -----------------------------------------------------------------------

SCHEMA = 2  # 2: rows carry "case" and "instructions"; a top-level "metric"


def to_json(
    rows: Sequence[dict[str, Any]], info: dict[str, Any], measured: str | None = None
) -> dict[str, Any]:
    """The machine-readable result of ``wsfast bench --json`` (docs/benchmark-json.md).

    ``measured``: "seconds" or "instructions" (default: what the rows hold).
    """
    measured = measured or metric(rows)
    clean = []
    for row in rows:
        item = {"family": row.get("family"), "case": row.get("group")}
        item.update((k, row.get(k)) for k in ROW_KEYS)
        item["bytes_per_second"] = (
            row["nbytes"] / row["seconds"] if row["status"] == "ok" and row["seconds"] else None
        )
        item["x_vs_wsfast"] = None
        clean.append(item)
    for group in groups(clean).values():
        reference = primary_row(group)
        for item in group:
            item["x_vs_wsfast"] = ratio(item, reference)
    return {
        "schema": SCHEMA,
        "metric": measured,
        "machine": info,
        "versions": versions(rows),
        "rows": clean,
    }


def rows_from_pytest_benchmark(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and machine info from a ``--benchmark-json`` file written with bench/conftest.py."""
    rows = []
    for bench in data.get("benchmarks", []):
        extra = bench.get("extra_info") or {}
        if "operation" not in extra:
            continue  # not one of ours
        stats = bench.get("stats") or {}
        row = {k: extra.get(k) for k in ROW_KEYS}
        row["status"], row["seconds"] = "ok", stats.get("min")  # as wsfast bench: least disturbed
        rows.append(row)
    rows.extend(dict(r) for r in data.get("wsfast_untimed", []))
    info = data.get("wsfast_machine") or {}
    if not info:
        m = data.get("machine_info") or {}
        info = {"cpu": (m.get("cpu") or {}).get("brand_raw", "unknown CPU"),
                "python": f"{m.get('python_implementation')} {m.get('python_version')}"}  # fmt: skip
    return rows, info


# --- chart --------------------------------------------------------------------


def _library(row: dict[str, Any]) -> str:
    if row.get("kind") == "wsfast":
        return "wsfast"
    if row.get("kind") == "baseline":
        return "baseline"
    return str(row.get("library") or row["contender"])


def _colours(rows: Sequence[dict[str, Any]], hues: dict[str, Any]) -> dict[str, Any]:
    """Contender -> colour for one chart: its library's hue, lighter for later variants.

    A library with several contenders ("wsfast (c)", "wsfast (py)") keeps its
    hue, so the chart reads by library; baselines are grey.
    """
    members: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: KIND_ORDER.get(str(r.get("kind")), 1)):
        names = members.setdefault(_library(row), [])
        if row["contender"] not in names:
            names.append(row["contender"])
    colours: dict[str, Any] = {}
    for library, names in members.items():
        red, green, blue = hues.get(library, (0.55, 0.55, 0.55))[:3]
        for shade, name in enumerate(names):
            mix = 0.6 * shade / max(len(names) - 1, 1)  # towards white
            colours[name] = (
                red + (1 - red) * mix,
                green + (1 - green) * mix,
                blue + (1 - blue) * mix,
            )
    return colours


KIND_ORDER = {"wsfast": 0, "peer": 1, "baseline": 2}


def plot(rows: Sequence[dict[str, Any]], path: str, info: dict[str, Any] | None = None) -> None:
    """A PNG bar chart: throughput per size (log scale), one colour per library.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError(
            "matplotlib is needed for --plot: pip install matplotlib"
        ) from exc

    by_operation: dict[str, list[dict[str, Any]]] = {}
    for (operation, _size), group in groups(rows).items():
        by_operation.setdefault(operation, []).extend(r for r in group if r["status"] == "ok")
    by_operation = {k: v for k, v in by_operation.items() if v}
    if not by_operation:
        raise RuntimeError("nothing was timed, so there is nothing to plot")
    # One hue per library across all charts; tab10's grey (index 7) is for baselines.
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
    libraries = dict.fromkeys(
        _library(r)
        for r in sorted((r for rs in by_operation.values() for r in rs),
                        key=lambda r: KIND_ORDER.get(str(r.get("kind")), 1))
        if r.get("kind") != "baseline"
    )  # fmt: skip
    hues = {lib: palette[i % len(palette)] for i, lib in enumerate(libraries)}

    fig, axes = plt.subplots(
        len(by_operation), 1, figsize=(12, 3.6 * len(by_operation)), squeeze=False
    )
    for ax, (operation, op_rows) in zip(axes[:, 0], by_operation.items()):
        sizes = sorted({r["size"] for r in op_rows})
        colours = _colours(op_rows, hues)
        present = list(colours)
        width = 0.8 / len(present)
        for j, name in enumerate(present):
            xs, ys = [], []
            for i, size in enumerate(sizes):
                row = _find(op_rows, operation, size, name)
                if row is not None:
                    xs.append(i + (j - (len(present) - 1) / 2) * width)
                    ys.append(row["nbytes"] / row["seconds"] / 1e6)
            baseline = any(r["contender"] == name and r.get("kind") == "baseline" for r in op_rows)
            ax.bar(xs, ys, width, label=name + (" (baseline)" if baseline else ""),
                   color=colours[name], hatch="//" if baseline else None,
                   edgecolor="white" if baseline else None)  # fmt: skip
        ax.set_yscale("log")
        # At least a decade below the slowest bar, so that the bars' lengths are
        # not a few pixels apart on a log axis that starts just under them.
        lowest = min(r["nbytes"] / r["seconds"] / 1e6 for r in op_rows)
        highest = max(r["nbytes"] / r["seconds"] / 1e6 for r in op_rows)
        ax.set_ylim(10 ** math.floor(math.log10(lowest) - 1), highest * 2)
        ax.set_xticks(range(len(sizes)), [format_size(s) for s in sizes])
        ax.set_ylabel("MB/s (log)")
        ax.set_title(f"{operation}: throughput per size, higher is better")
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if info:
        fig.text(0.01, 0.002, machine_line(info), fontsize=7, alpha=0.7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
