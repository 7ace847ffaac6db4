"""The ``wsfast`` command line, run as a user runs it: in a subprocess.

Timings are never asserted; ``bench`` runs are restricted with ``--only`` and
``--quick`` to keep them short. ``--check`` is tested on contrived results,
through :func:`check_failures` and through ``bench --load``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import wsfast
from wsfast._bench.report import check_failures

# The subprocess imports the same wsfast as this process (installed or in-place
# build), and runs in a directory without a wsfast/ that `-m` could pick up.
ENV = dict(os.environ, PYTHONPATH=str(Path(wsfast.__file__).resolve().parent.parent))
NEUTRAL_DIR = Path(__file__).resolve().parent

# RFC 6455 §5.7: a single-frame masked text message "Hello" (client to server)
# and the same message unmasked (server to client).
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
HELLO = bytes.fromhex("810548656c6c6f")
# RFC 6455 §5.7: a fragmented unmasked text message "Hel" + "lo", and an unmasked ping.
FRAGMENTED = bytes.fromhex("010348656c" + "80026c6f")
PING = bytes.fromhex("890548656c6c6f")
CLOSE_1000 = bytes.fromhex("880203e8")


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "wsfast", *args],
        input=stdin.decode("ascii") if stdin is not None else None,
        capture_output=True,
        check=False,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=ENV if env is None else env,
        cwd=NEUTRAL_DIR,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


# --- top level ---------------------------------------------------------------


def test_no_command_prints_usage() -> None:
    result = run()
    assert result.returncode == 2
    assert "info" in result.stderr and "bench" in result.stderr and "decode" in result.stderr


def test_unknown_command() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "decode" in result.stdout


# --- info --------------------------------------------------------------------


def test_info() -> None:
    result = run("info")
    assert result.returncode == 0
    out = result.stdout
    assert out.startswith(f"wsfast {wsfast.__version__}\n")
    features = wsfast.features()
    for label in (
        "backend:",
        "mask kernel:",
        "utf8 kernel:",
        "CPU kernels:",
        "zlib:",
        "Python build:",
    ):
        assert label in out
    assert features["mask"] in out
    assert ("free-threaded" in out) or ("GIL" in out)


def test_info_json() -> None:
    result = run("info", "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["version"] == wsfast.__version__
    assert info["mask kernel"] == wsfast.features()["mask"]
    assert info["Python build"] in (
        "GIL",
        "free-threaded",
        "free-threaded (GIL re-enabled at run time)",
    )
    if wsfast.BACKEND == "c":
        assert any(key.startswith("build") for key in info)


def test_info_pure_python_switch() -> None:
    env = dict(ENV, WSFAST_NO_EXTENSIONS="1")
    result = run("info", env=env)
    assert result.returncode == 0, result.stderr
    assert "python (pure-Python fallback)" in result.stdout
    assert "mask kernel:       python" in result.stdout


def test_info_rejects_arguments() -> None:
    assert run("info", "--bogus").returncode == 2


# --- bench -------------------------------------------------------------------


ROW_KEYS = {
    "operation", "family", "size", "group", "contender", "kind", "primary", "library",
    "version", "status", "reason", "seconds", "nbytes", "bytes_per_second", "x_vs_wsfast",
    "case", "instructions",
}  # fmt: skip


def test_bench_quick_json_and_plot(tmp_path: Path) -> None:
    # matplotlib is a test dependency: --plot must work, no skip.
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    result = run(
        "bench",
        "--quick",
        "--only",
        "mask_inplace",
        "--json",
        str(out_json),
        "--plot",
        str(out_png),
    )
    assert result.returncode == 0, result.stderr
    assert "### mask_inplace 4 KiB" in result.stdout
    assert "x vs wsfast" in result.stdout
    assert "Machine: " in result.stdout and "Versions: " in result.stdout
    # Not a terminal: one progress line per group on stderr, none on stdout.
    progress = result.stderr.splitlines()
    assert progress and all(line.startswith("wsfast bench: ") for line in progress)
    assert "mask_inplace 4 KiB" in result.stderr and "wsfast bench:" not in result.stdout
    # A headline first; nothing the project states as its own goals.
    assert result.stdout.startswith("## Headline")
    assert "- mask:" in result.stdout.split("###", 1)[0]
    for word in ("issue", "goal", "MISSED", "Targets"):
        assert word not in result.stdout

    data = json.loads(out_json.read_text())
    assert {"schema", "machine", "versions", "rows"} <= set(data)
    assert "targets" not in data
    assert {"cpu", "python", "python_build", "wsfast"} <= set(data["machine"])
    assert data["versions"]["wsfast"] == wsfast.__version__
    rows = data["rows"]
    assert rows and all(set(row) == ROW_KEYS for row in rows)
    assert {row["operation"] for row in rows} == {"mask_inplace"}
    ours = [r for r in rows if r["primary"]]
    assert ours and all(r["status"] == "ok" and r["x_vs_wsfast"] == 1.0 for r in ours)
    for row in rows:
        assert row["status"] in ("ok", "skipped", "incorrect")
        if row["status"] == "ok":
            assert row["seconds"] > 0 and row["bytes_per_second"] > 0
        else:
            assert row["reason"]

    png = out_png.read_bytes()
    assert len(png) > 1000
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_bench_plot_without_matplotlib(tmp_path: Path) -> None:
    # A stand-in package that fails to import, ahead of any real matplotlib.
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('matplotlib is absent (test)')\n")
    env = dict(ENV, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), ENV["PYTHONPATH"]]))
    result = run("bench", "--quick", "--plot", str(tmp_path / "x.png"), env=env)
    assert result.returncode == 1
    assert "matplotlib is needed for --plot" in result.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "nonsense"], "not a family"),
        (["--load", "/nonexistent/result.json"], "cannot read"),
    ],
)
def test_bench_bad_arguments(args: list[str], message: str) -> None:
    result = run("bench", *args)
    assert result.returncode == 1
    assert message in result.stderr


@pytest.mark.parametrize("args", [["--tolerance", "abc"], ["--quick=yes"], ["--json"]])
def test_bench_usage_errors(args: list[str]) -> None:
    result = run("bench", *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_bench_load_not_json(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text("{not json")
    result = run("bench", "--load", str(path))
    assert result.returncode == 1
    assert "is not JSON" in result.stderr
    path.write_text('{"rows": 3}')
    result = run("bench", "--load", str(path))
    assert result.returncode == 1
    assert "not a result written by" in result.stderr


def _row(
    contender: str, kind: str, seconds: float | None, size: int = 4096, **extra: Any
) -> dict[str, Any]:
    return {
        "operation": "mask", "family": "mask", "size": size, "group": f"mask {size}",
        "contender": contender, "kind": kind, "primary": contender == "wsfast (c)",
        "library": None, "version": None, "status": "ok" if seconds else "skipped",
        "reason": None if seconds else "not installed", "seconds": seconds, "nbytes": size,
        **extra,
    }  # fmt: skip


def contrived(peer_seconds: float) -> list[dict[str, Any]]:
    """wsfast at 1 µs; a peer at ``peer_seconds``; a faster baseline that never counts."""
    return [
        _row("wsfast (c)", "wsfast", 1e-6),
        _row("wsfast (py)", "wsfast", 5e-5),
        _row("peerlib", "peer", peer_seconds),
        _row("absent", "peer", None),
        _row("copy (bytes)", "baseline", 1e-7),
        _row("wsfast (c)", "wsfast", 1e-5, size=65536),
        _row("peerlib", "peer", 2e-5, size=65536),
    ]


def test_check_failures_function() -> None:
    assert check_failures(contrived(2e-6)) == []
    failures = check_failures(contrived(0.5e-6))
    assert len(failures) == 1
    assert failures[0].startswith("mask 4 KiB: peerlib")
    # A 5 % tolerance forgives a peer that is 4 % faster, not one 50 % faster.
    assert check_failures(contrived(0.96e-6), tolerance=0.05) == []
    assert len(check_failures(contrived(0.5e-6), tolerance=0.05)) == 1


def test_check_failures_incorrect_wsfast() -> None:
    rows = contrived(2e-6)
    rows[0] = dict(rows[0], status="incorrect", reason="wrong output", seconds=None)
    assert any("INCORRECT" in line for line in check_failures(rows))


@pytest.mark.parametrize("peer_seconds, status", [(2e-6, 0), (0.5e-6, 1)])
def test_bench_check_exit_status(tmp_path: Path, peer_seconds: float, status: int) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"rows": contrived(peer_seconds), "machine": {}}))
    result = run("bench", "--load", str(path), "--check")
    assert result.returncode == status, result.stdout + result.stderr
    assert "### mask 4 KiB" in result.stdout
    if status:
        assert "--check failed" in result.stdout
        assert "mask 4 KiB: peerlib" in result.stdout
        assert "64 KiB" not in result.stdout.split("--check failed", 1)[1]
    else:
        assert "--check passed" in result.stdout
    # Without --check, a peer winning is reported in the table but is not an error.
    assert run("bench", "--load", str(path)).returncode == 0


def test_bench_json_unwritable(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"rows": contrived(2e-6), "machine": {}}))
    result = run("bench", "--load", str(path), "--json", str(tmp_path / "missing" / "out.json"))
    assert result.returncode == 1
    assert "cannot write" in result.stderr


# --- decode ------------------------------------------------------------------


@pytest.fixture(params=["default", "python"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The decode tests run with the backend in use and with the pure-Python one."""
    if request.param == "python":
        return dict(ENV, WSFAST_NO_EXTENSIONS="1")
    return ENV


@pytest.fixture
def decode(tmp_path: Path, backend_env: dict[str, str]) -> Any:
    def decode(data: bytes, *args: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "capture.bin"
        path.write_bytes(data)
        return run("decode", *args, str(path), env=backend_env)

    return decode


def test_decode_masked_message(decode: Any) -> None:
    result = decode(MASKED_HELLO)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("@0 ")
    assert "FIN" in lines[0] and "TEXT" in lines[0] and "len=5" in lines[0]
    assert "masked key=37fa213d" in lines[0] and "'Hello'" in lines[0]
    assert "message TEXT" in lines[1] and "5 chars" in lines[1] and "'Hello'" in lines[1]
    assert lines[-1] == "1 frame, 1 message, no protocol error"


def test_decode_client_role_fragments_and_control(decode: Any) -> None:
    data = FRAGMENTED[:5] + PING + FRAGMENTED[5:] + CLOSE_1000
    result = decode(data, "--role", "client")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    frames = [line for line in lines if " frame " in line]
    assert [line.split()[0] for line in frames] == ["@0", "@5", "@12", "@16"]
    assert "unmasked" in frames[0] and "FIN" not in frames[0]
    assert "PING" in frames[1] and "CONTINUATION" in frames[2]
    events = [line.split() for line in lines if line.lstrip().startswith(("message", "close"))]
    assert events[0][:2] == ["message", "PING"]
    assert events[1][:2] == ["message", "TEXT"] and events[1][-1] == "'Hello'"
    assert events[2][:3] == ["close", "1000", "NORMAL_CLOSURE"]


def test_decode_hex_from_stdin() -> None:
    text = " ".join(f"{b:02x}" for b in HELLO) + "\n"
    result = run("decode", "--role", "client", "--hex", "-", stdin=text.encode())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "message TEXT" in result.stdout


def test_decode_corrupt_reserved_opcode(decode: Any) -> None:
    # One good frame (bytes 0-6), then opcode 3 (reserved, RFC 6455 §5.2) at byte 7.
    result = decode(HELLO + bytes.fromhex("830161"), "--role", "client")
    assert result.returncode == 2
    out = result.stdout
    assert "message TEXT" in out
    assert "error   at byte 7: close code 1002 (PROTOCOL_ERROR)" in out
    assert "1 frame and 1 message before the error" in out


def test_decode_length_not_in_shortest_form(decode: Any) -> None:
    # A 16-bit length of 5 (RFC 6455 §5.2: the shortest form is required): the
    # error is at byte 10, the second length byte, which decides it.
    result = decode(HELLO + bytes.fromhex("817e0005") + b"Hello", "--role", "client")
    assert result.returncode == 2
    assert "error   at byte 10: close code 1002 (PROTOCOL_ERROR)" in result.stdout
    assert "1 frame and 1 message before the error" in result.stdout


def test_decode_corrupt_utf8_offset(decode: Any) -> None:
    # E2 28: 0x28 cannot follow E2, so the error is at payload byte 1, stream byte 3.
    result = decode(bytes.fromhex("8103e228a1"), "--role", "client")
    assert result.returncode == 2
    assert "error   at byte 3: close code 1007 (INVALID_PAYLOAD)" in result.stdout


def test_decode_wrong_masking_for_role(decode: Any) -> None:
    result = decode(HELLO)  # role server expects masked frames
    assert result.returncode == 2
    assert "error   at byte 1: close code 1002" in result.stdout
    assert "0 frames and 0 messages before the error" in result.stdout
    assert "hint: " in result.stdout and "add --role client" in result.stdout
    # The other way round: a client reading masked frames is told --role server.
    result = decode(MASKED_HELLO, "--role", "client")
    assert result.returncode == 2
    assert "add --role server" in result.stdout


def test_decode_hex_text_without_hex_flag(decode: Any) -> None:
    result = decode(b"81 05 48 65 6c 6c 6f\n", "--role", "client")
    assert result.returncode == 2
    assert "hint: the capture looks like hex text: add --hex" in result.stdout
    assert "--role" not in result.stdout.split("hint:", 1)[1]


def test_decode_plurals(decode: Any) -> None:
    result = decode(HELLO + HELLO, "--role", "client")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "2 frames, 2 messages, no protocol error"


def test_decode_truncated_capture(decode: Any) -> None:
    result = decode(HELLO + HELLO[:4], "--role", "client")
    assert result.returncode == 0
    assert "end of capture inside the frame at byte 7 (4 bytes of it captured)" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 frame, 1 message, no protocol error"


def test_decode_bytes_after_close(decode: Any) -> None:
    result = decode(CLOSE_1000 + HELLO, "--role", "client")
    assert result.returncode == 0
    assert "7 bytes after the close frame" in result.stdout


def test_decode_deflate(decode: Any) -> None:
    from wsfast.deflate import PerMessageDeflate
    from wsfast.messages import Encoder

    encoder = Encoder(role="client", deflate=PerMessageDeflate())
    data = encoder.text("Hello " * 20) + encoder.close(1001, "bye")
    result = decode(data, "--deflate")
    assert result.returncode == 0, result.stdout
    assert "FIN,RSV1" in result.stdout
    assert "120 chars: 'Hello Hello" in result.stdout
    assert "close   1001 GOING_AWAY reason='bye'" in result.stdout
    # Without --deflate, RSV1 is a protocol error at the first byte, with a hint.
    result = decode(data)
    assert result.returncode == 2
    assert "error   at byte 0: close code 1002" in result.stdout
    assert "add --deflate" in result.stdout


def test_decode_deflate_error_after_compressed_messages(decode: Any) -> None:
    # Locating the error replays the stream into new decoders: the messages
    # before it (context takeover: the second depends on the first) inflate again.
    from wsfast.deflate import PerMessageDeflate
    from wsfast.messages import Encoder

    encoder = Encoder(role="client", deflate=PerMessageDeflate())
    data = encoder.text("Hello " * 20) + encoder.text("Hello " * 21)
    result = decode(data + bytes.fromhex("83"), "--deflate")
    assert result.returncode == 2, result.stdout
    assert "126 chars: 'Hello Hello" in result.stdout
    assert f"error   at byte {len(data)}: close code 1002" in result.stdout
    assert "2 frames and 2 messages before the error" in result.stdout


def test_decode_empty_file(decode: Any) -> None:
    result = decode(b"")
    assert result.returncode == 0
    assert result.stdout == "0 frames, 0 messages, no protocol error\n"


def test_decode_missing_file(tmp_path: Path) -> None:
    result = run("decode", str(tmp_path / "nope.bin"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr and "No such file" in result.stderr


def test_decode_directory(tmp_path: Path) -> None:
    result = run("decode", str(tmp_path))
    assert result.returncode == 1
    assert "cannot read" in result.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (b"81 05 zz", "'z' is not a hex digit"),
        (b"81 0", "odd number of hex digits"),
        (b"\xff\xfe", "must be ASCII hex text"),
    ],
)
def test_decode_bad_hex(decode: Any, text: bytes, message: str) -> None:
    result = decode(text, "--hex")
    assert result.returncode == 1
    assert message in result.stderr


@pytest.mark.parametrize("args", [["--role", "proxy", "-"], [], ["a", "b"]])
def test_decode_usage_errors(args: list[str]) -> None:
    result = run("decode", *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_bench_check_default_tolerance(tmp_path: Path) -> None:
    """A peer 10 % faster is within the default tolerance (15 %); --tolerance 0 fails it."""
    from wsfast.cli import DEFAULT_TOLERANCE

    assert DEFAULT_TOLERANCE == 0.15
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"rows": contrived(1e-6 / 1.10), "machine": {}}))
    assert run("bench", "--load", str(path), "--check").returncode == 0
    result = run("bench", "--load", str(path), "--check", "--tolerance", "0")
    assert result.returncode == 1 and "--check failed" in result.stdout
