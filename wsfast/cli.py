"""The ``wsfast`` command line: ``info``, ``bench`` and ``decode``.

Exit status: 0 success; 1 unreadable input, a failed ``bench --check`` or
``bench --compare``, or an incorrect wsfast result; 2 bad usage (including a
``--compare`` baseline that cannot be compared, and ``--counts`` without
valgrind) or, for ``decode``, a protocol error in the capture.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["main"]

PROG = "wsfast"

# `bench --check`: a peer may be this much faster before the check fails:
# twice the largest gap measured between contenders that run the same library
# code, on a shared 2-core machine under load (docs/api.md, "wsfast bench").
DEFAULT_TOLERANCE = 0.15


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status ``status`` (default 1)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args.run(args)
    except CliError as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `wsfast decode big.bin | head`: stop quietly, like other Unix tools.
        sys.stderr.close()
        return 0
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="wsfast: a fast WebSocket codec. Inspect the install, benchmark it, "
        "or decode a captured byte stream.",
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    info = commands.add_parser("info", help="what this install runs: backend, kernels, build")
    info.add_argument("--json", action="store_true", help="print the same facts as JSON")
    info.set_defaults(command="info", run=cmd_info)

    bench = commands.add_parser(
        "bench",
        help="benchmark wsfast against the installed peer libraries",
        description="Time wsfast and every installed peer library on the same inputs, "
        "after checking each one's output, and print tables sorted fastest first.",
    )
    bench.add_argument("--quick", action="store_true", help="fewer sizes and samples (< 30 s)")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.add_argument("--plot", metavar="PATH", help="also write a PNG chart (needs matplotlib)")
    bench.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the best installed peer is faster than wsfast in any row",
    )
    bench.add_argument(
        "--tolerance",
        type=_percent,
        default=DEFAULT_TOLERANCE,
        metavar="PCT",
        help="with --check, let a peer be up to PCT %% faster before failing "
        f"(default {DEFAULT_TOLERANCE * 100:.0f}: the run-to-run noise of a shared machine; "
        "see docs/api.md)",
    )
    bench.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this family (mask, utf8, frames, deflate) or operation; repeatable",
    )
    bench.add_argument(
        "--load",
        metavar="PATH",
        help="report a result saved with --json instead of running the benchmarks",
    )
    bench.add_argument(
        "--counts",
        action="store_true",
        help="count instructions per call under valgrind's callgrind instead of timing "
        "(sizes up to 64 KiB; the same in every run, whatever the machine's load)",
    )
    bench.add_argument(
        "--compare",
        metavar="BASELINE",
        help="compare with a result saved with --json (wall time or counts, whichever it "
        "holds); exit 1 if a wsfast row grew by more than --max-regression",
    )
    bench.add_argument(
        "--max-regression",
        type=_percent,
        default=None,
        metavar="PCT",
        help="with --compare, the growth allowed per wsfast row "
        "(default 2%% for counts, 25%% for wall time)",
    )
    bench.set_defaults(command="bench", run=cmd_bench)

    decode = commands.add_parser(
        "decode",
        help="decode a captured byte stream into frames and messages",
        description="Print one line per frame and per completed message of a raw "
        "WebSocket byte stream (one direction, after the HTTP handshake). On a "
        "protocol error, print the close code, the reason and the byte offset, "
        "and exit 2.",
    )
    decode.add_argument(
        "--role",
        choices=("server", "client"),
        default="server",
        help="the receiving side: server (default) expects masked frames from a "
        "client; client expects unmasked frames from a server",
    )
    decode.add_argument(
        "--hex", action="store_true", help="the input is hex text (whitespace and ':' ignored)"
    )
    decode.add_argument(
        "--deflate", action="store_true", help="permessage-deflate was negotiated (defaults)"
    )
    decode.add_argument("file", metavar="FILE", help="the capture, or - for standard input")
    decode.set_defaults(command="decode", run=cmd_decode)
    return parser


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"out of range: {text!r}")
    return value / 100


# --- info ---------------------------------------------------------------------


def collect_info() -> dict[str, Any]:
    """The facts ``wsfast info`` prints."""
    import platform

    import wsfast
    from wsfast._bench.report import cpu_name, python_build

    features = dict(wsfast.features())
    info: dict[str, Any] = {
        "version": wsfast.__version__,
        "backend": {
            "c": "c (compiled extension wsfast._c)",
            "python": "python (pure-Python fallback)",
        }.get(b := features.pop("backend", wsfast.BACKEND), b),
        "mask kernel": features.pop("mask", None),
        "utf8 kernel": features.pop("utf8", None),
        "CPU kernels": features.pop("kernels", None),
        "zlib": features.pop("zlib", None),
    }
    build = features.pop("build", None) or features.pop("build_flags", None)
    if isinstance(build, dict):
        for key, value in build.items():
            info[f"build {key}"] = value
    elif build:
        info["build flags"] = build
    features.pop("free_threaded", None)  # reported as part of "Python build"
    info.update(features)  # whatever else features() learns to report
    info["Python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["Python build"] = python_build()
    info["Python executable"] = sys.executable
    info["platform"] = f"{platform.system()} {platform.release()} {platform.machine()}"
    info["CPU"] = cpu_name()
    switches = {k: v for k, v in os.environ.items() if k.startswith("WSFAST_")}
    if switches:
        info["environment"] = switches
    info["location"] = os.path.dirname(wsfast.__file__)
    return info


def cmd_info(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    width = max(len(k) for k in info) + 1
    print(f"wsfast {info.pop('version')}")
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) or "none"
        elif isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items())
        elif value is None or value == "":
            value = "-"
        print(f"  {key + ':':<{width}} {value}")
    return 0


# --- bench --------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from wsfast._bench import FAMILIES, counts, items, operations, report, timer

    baseline = _baseline(args)
    rows: list[dict[str, Any]]
    if args.load:
        data = _read_json(args.load)
        loaded, info = data.get("rows"), data.get("machine") or {}
        if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
            raise CliError(f"{args.load}: not a result written by `wsfast bench --json`")
        rows = loaded
        measured = data.get("metric") or report.metric(rows)
    else:
        measured = "instructions" if args.counts else "seconds"
    if measured == "instructions" and (args.check or args.plot):
        raise CliError(
            "--check and --plot are about wall time; compare counts with --compare", status=2
        )
    if args.plot:
        _require_matplotlib()
    if not args.load:
        families, names = _selection(args.only, FAMILIES, [op.name for op in operations()])
        todo = [
            item
            for item in items(families, quick=args.quick)
            if not names or item.operation.name in names
        ]
        if args.counts:
            rows, info = _count_instructions(counts.selected(todo))
        else:
            info = report.machine()
            rows = timer.run(todo, quick=args.quick, progress=_progress(sys.stderr))
    try:
        tables = counts.format_tables if measured == "instructions" else report.format_tables
        print(tables(rows, info), end="")
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"malformed result rows ({type(exc).__name__}: {exc})") from None
    if args.json:
        _write(args.json, lambda: _dump_json(args.json, report.to_json(rows, info, measured)))
        print(f"\nWrote {args.json}")
    if args.plot:
        try:
            _write(args.plot, lambda: report.plot(rows, args.plot, info))
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        print(f"Wrote {args.plot}")
    status = 0
    wrong = report.incorrect_wsfast(rows)
    failures = report.check_failures(rows, args.tolerance) if args.check else wrong
    if failures:
        title = "--check failed" if args.check else "wsfast gave wrong results"
        print(f"\n{title}:", *(f"  {line}" for line in failures), sep="\n")
        status = 1
    elif args.check:
        print(
            f"\n--check passed: in no row is an installed peer more than "
            f"{args.tolerance * 100:g} % faster than wsfast."
        )
    if baseline is not None:
        status = max(status, _compare(args, baseline, measured, rows, info))
    return status


def _count_instructions(todo: list[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``--counts``: rows and machine info from one callgrind run."""
    from wsfast._bench import counts

    try:
        return counts.run(todo, progress=_progress(sys.stderr))
    except counts.CountsUnavailable as exc:
        raise CliError(str(exc), status=2) from None
    except counts.CountsFailed as exc:
        raise CliError(str(exc)) from None


def _baseline(args: argparse.Namespace) -> Any:
    """The ``--compare`` baseline (checked before anything runs), or None.

    A baseline of counts turns on ``--counts``: the run measures what the
    baseline holds.
    """
    from wsfast._bench import compare

    if args.compare is None:
        if args.max_regression is not None:
            raise CliError("--max-regression needs --compare", status=2)
        return None
    try:
        baseline = compare.load(_read_json(args.compare))
    except CliError as exc:
        raise CliError(str(exc), status=2) from None
    except compare.BadResult as exc:
        raise CliError(f"{args.compare}: {exc}", status=2) from None
    if args.load is None:
        if baseline.metric == "instructions" and not args.counts:
            print(f"{args.compare} holds instruction counts: counting them (--counts).\n")
            args.counts = True
        elif baseline.metric == "seconds" and args.counts:
            raise CliError(
                f"{args.compare} holds wall times, not instruction counts: "
                "compare it with a run without --counts",
                status=2,
            )
    return baseline


def _compare(
    args: argparse.Namespace,
    baseline: Any,
    measured: str,
    rows: list[dict[str, Any]],
    info: dict[str, Any],
) -> int:
    """Print the ``--compare`` table and verdict; the exit status (0 or 1)."""
    from wsfast._bench import compare

    path = args.compare
    if baseline.metric != measured:
        raise CliError(
            f"{path} holds {compare.describe(baseline.metric)}, this result "
            f"{compare.describe(measured)}: compare like with like",
            status=2,
        )
    try:
        current = compare.load({"schema": 2, "metric": measured, "rows": rows, "machine": info})
    except compare.BadResult as exc:
        raise CliError(f"malformed result rows ({exc})") from None
    blocking, notes = compare.machine_differences(baseline, current)
    if blocking:
        raise CliError(
            f"{path} was counted on another setup, so its counts are not comparable "
            "with this run's (make the baseline where the comparison runs):\n  "
            + "\n  ".join(blocking),
            status=2,
        )
    limit = args.max_regression
    if limit is None:
        limit = compare.DEFAULT_MAX_REGRESSION[measured]
    result = compare.compare(baseline, current, limit)
    if result.compared == 0:
        raise CliError(
            f"no wsfast row of this run was measured in {path} "
            "(made with other --only or --quick options?)",
            status=2,
        )
    print(f"\n## Compared with {path} ({compare.describe(measured)})\n")
    print(*result.lines, sep="\n")
    if notes:
        print("\nNote: the baseline comes from a different machine:", *notes, sep="\n  ")
    print("", *compare.summary(result, path), sep="\n")
    return 1 if result.failures else 0


def _selection(
    only: list[str] | None, families: Sequence[str], names: Sequence[str]
) -> tuple[list[str], set[str]]:
    """Families to load and operation names to keep (empty: all) for --only."""
    if not only:
        return list(families), set()
    chosen_families, chosen_names = [], set()
    for name in only:
        if name in families:
            chosen_families.append(name)
        elif name in names:
            chosen_names.add(name)
        else:
            raise CliError(
                f"--only {name}: not a family ({', '.join(families)}) "
                f"or an operation ({', '.join(names)})"
            )
    if chosen_names:
        # An operation name keeps its family loaded; the names then filter.
        from wsfast._bench import operations

        chosen_names |= {op.name for op in operations(chosen_families)}
        chosen_families = list(families)
    return chosen_families, chosen_names


def _progress(stream: IO[str]) -> Any:
    """A one-line progress bar on a terminal, else one line per group on ``stream``."""
    if not stream.isatty():

        def lines(done: int, total: int, item: Any) -> None:
            if done < total:
                print(f"{PROG} bench: {done}/{total} {item.group}", file=stream, flush=True)

        return lines

    columns = min(100, shutil.get_terminal_size().columns - 1)

    def show(done: int, total: int, item: Any) -> None:
        width = 28
        filled = width * done // max(total, 1)
        label = item.group
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
        # Overwrite the line in place; clear it once everything has run.
        stream.write(
            "\r" + (f"{line[:columns]:<{columns}}" if done < total else " " * columns + "\r")
        )
        stream.flush()

    return show


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CliError(
            "matplotlib is needed for --plot: pip install matplotlib"
        ) from None


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: not a result written by `wsfast bench --json`")
    return data


def _dump_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def _write(path: str, write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


# --- decode -------------------------------------------------------------------


def cmd_decode(args: argparse.Namespace) -> int:
    data = read_input(args.file, hex_text=args.hex)
    return decode(data, role=args.role, deflate=args.deflate, hex_text=args.hex, out=sys.stdout)


def read_input(path: str, *, hex_text: bool = False) -> bytes:
    """The capture's bytes, from a file or ``-`` (standard input).

    Raises:
        CliError: unreadable file, or not hex text under ``hex_text``.
    """
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not hex_text:
        return raw
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path}: --hex input must be ASCII hex text (byte {exc.start} is not)"
        ) from None
    digits = "".join(text.replace(":", " ").split())
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    try:
        return bytes.fromhex(digits)
    except ValueError:
        bad = next((i for i, c in enumerate(digits) if c not in "0123456789abcdefABCDEF"), None)
        where = (
            f"'{digits[bad]}' is not a hex digit" if bad is not None else "odd number of hex digits"
        )
        raise CliError(f"{path}: not hex text: {where}") from None


def _header(
    data: bytes, pos: int, role: str, deflate: bool
) -> tuple[int, int, bytes | None] | None:
    """(header length, payload length, masking key or None) of the frame at ``pos``.

    Display only (offsets and keys, which decoded frames do not carry). None
    when the header is incomplete or invalid: the decoders report the error.
    """
    from wsfast._adapters import parse_header

    masked = role == "server"
    size, _, length, key = parse_header(data, masked, allowed_rsv=0b100 if deflate else 0, pos=pos)
    if size <= 0:
        return None
    return size, length, key.to_bytes(4, "little") if masked else None


def _preview(payload: bytes | str, limit: int = 40) -> str:
    """A short, printable preview: text as repr, binary as hex."""
    if isinstance(payload, str):
        text = repr(payload[:limit])
        return text + ("..." if len(payload) > limit else "")
    if not payload:
        return ""
    head = payload[: limit // 2].hex(" ")
    return head + (" ..." if len(payload) > limit // 2 else "")


def _opcode_name(opcode: int) -> str:
    from wsfast.constants import Opcode

    try:
        return Opcode(opcode).name
    except ValueError:
        return f"opcode {opcode}"


def _frame_line(offset: int, frame: Any, header: tuple[int, int, bytes | None]) -> str:
    flags = ",".join(
        name for name, on in (("FIN", frame.fin), ("RSV1", frame.rsv1), ("RSV2", frame.rsv2),
                              ("RSV3", frame.rsv3)) if on
    )  # fmt: skip
    _, length, key = header
    masked = f"masked key={key.hex()}" if key is not None else "unmasked"
    payload = bytes(frame.payload)
    if frame.opcode == 8 and len(payload) >= 2:
        reason = payload[2:].decode("utf-8", "replace")
        detail = f"code {int.from_bytes(payload[:2], 'big')}" + (f" {reason!r}" if reason else "")
    elif frame.opcode == 1 and not frame.rsv1:  # uncompressed text: show it as text
        try:
            detail = _preview(payload.decode("utf-8"))
        except UnicodeDecodeError:
            detail = _preview(payload)
    else:
        detail = _preview(payload)
    return (
        f"@{offset:<8} frame   {flags or '-':<9} {_opcode_name(frame.opcode):<12} "
        f"len={length:<8} {masked:<21} {detail}".rstrip()
    )


def _event_line(event: Any) -> str:
    from wsfast.constants import CloseCode

    if hasattr(event, "code"):  # Close
        if event.code is None:
            return "          close   (no status code)"
        try:
            name = CloseCode(event.code).name
        except ValueError:
            name = "application code"
        return f"          close   {event.code} {name} reason={event.reason!r}"
    data = event.data
    unit = "chars" if isinstance(data, str) else "bytes"
    return f"          message {_opcode_name(event.opcode):<12} {len(data)} {unit}: {_preview(data)}".rstrip()


def decode(
    data: bytes,
    *,
    role: str = "server",
    deflate: bool = False,
    hex_text: bool = False,
    out: IO[str],
) -> int:
    """Print the frames and messages of ``data``; returns the exit status.

    Each frame's bytes are fed to a FrameDecoder (frame lines) and a Decoder
    (message lines). When a feed raises, the same stream is replayed with the
    failing frame fed one byte at a time: both decoders raise from the call
    that delivers the offending byte, which gives the error's exact offset.
    """
    from wsfast import Decoder, FrameDecoder, PerMessageDeflate, ProtocolError

    # A configuration: each Decoder built with it gets its own inflater.
    extension = PerMessageDeflate() if deflate else None

    def decoders() -> tuple[Any, Any]:
        return (
            FrameDecoder(role=role, allow_rsv=0b100 if deflate else 0),
            Decoder(role=role, deflate=extension),
        )

    def fail(start: int, end: int, error: Any) -> int:
        offset, error, before = _locate(data, start, end, decoders, ProtocolError, error)
        for event in before:
            print(_event_line(event), file=out)
        print(
            f"error   at byte {offset}: close code {error.code} "
            f"({_close_code_name(error.code)}): {error.reason}",
            file=out,
        )
        print(f"{_count(counts[0], 'frame')} and {_count(counts[1], 'message')} "
              "before the error", file=out)  # fmt: skip
        hint = _hint(data, start, offset, error, role=role, deflate=deflate, hex_text=hex_text)
        if hint:
            print(f"hint: {hint}", file=out)
        return 2

    frames, messages = decoders()
    counts = [0, 0]  # frames, messages
    unfinished = False  # inside a fragmented data message
    pos = 0
    while pos < len(data):
        header = _header(data, pos, role, deflate)
        end = len(data) if header is None else min(len(data), pos + header[0] + header[1])
        chunk = data[pos:end]
        try:
            got = frames.feed(chunk)
        except ProtocolError as exc:
            return fail(pos, end, exc)
        for frame in got:
            print(_frame_line(pos, frame, header or (0, 0, None)), file=out)
            counts[0] += 1
            if frame.opcode < 8:
                unfinished = not frame.fin
        try:
            events = messages.feed(chunk)
        except ProtocolError as exc:
            return fail(pos, end, exc)
        for event in events:
            print(_event_line(event), file=out)
            counts[1] += 1
        if any(hasattr(event, "code") for event in events):
            if end < len(data):
                print(f"{len(data) - end} bytes after the close frame, ignored "
                      "(RFC 6455 section 5.5.1)", file=out)  # fmt: skip
            unfinished = False
            break
        if not got:  # the capture ends inside this frame
            print(f"end of capture inside the frame at byte {pos} "
                  f"({len(data) - pos} bytes of it captured)", file=out)  # fmt: skip
            break
        pos = end
    if unfinished:
        print("end of capture inside a fragmented message", file=out)
    print(f"{_count(counts[0], 'frame')}, {_count(counts[1], 'message')}, no protocol error",
          file=out)  # fmt: skip
    return 0


def _count(n: int, noun: str) -> str:
    """1 frame, 2 frames."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _looks_like_hex(data: bytes) -> bool:
    """Whether a capture read as bytes is really hex text (the --hex format)."""
    text = data.strip()
    if len(text) < 4:
        return False
    return all(c in b"0123456789abcdefABCDEFxX: \t\r\n" for c in text)


def _hint(
    data: bytes, start: int, offset: int, error: Any, *, role: str, deflate: bool, hex_text: bool
) -> str | None:
    """A likely cause of the first error, when the capture suggests one."""
    if not hex_text and _looks_like_hex(data):
        return "the capture looks like hex text: add --hex"
    if error.code == 1002 and "mask" in error.reason:
        other = "client" if role == "server" else "server"
        sender = "a server" if role == "server" else "a client"
        return (
            f"if this capture is what {sender} sent (the other direction), "
            f"add --role {other}"
        )
    if not deflate and offset == start and data[start] & 0x40:
        return "RSV1 marks a compressed message; if permessage-deflate was negotiated, add --deflate"
    return None


def _locate(
    data: bytes, start: int, end: int, decoders: Any, error_type: type[Exception], error: Any
) -> tuple[int, Any, list[Any]]:
    """Replay ``data[start:end]`` byte by byte: (offset of the failing byte, error, events).

    Both decoders raise from the call that delivers the offending byte (docs/api.md),
    so the first one-byte feed that raises names the offset.
    """
    frames, messages = decoders()
    try:
        frames.feed(data[:start])
        messages.feed(data[:start])
        for offset in range(start, end):
            byte = data[offset : offset + 1]
            try:
                messages.feed(byte)  # first: its error carries the message events
                frames.feed(byte)
            except error_type as exc:
                return offset, exc, list(getattr(exc, "events", []))
    except error_type:
        pass
    # Not reproducible byte by byte (a decoder bug): report the frame's start.
    return start, error, list(getattr(error, "events", []))


def _close_code_name(code: int) -> str:
    from wsfast.constants import CloseCode

    try:
        return CloseCode(code).name
    except ValueError:
        return "unknown"
