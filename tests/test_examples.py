"""The examples run as their docstrings show: ``python -P examples/...`` from a checkout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import wsfast

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The subprocesses import the same wsfast as this process (installed or in-place build).
ENV = dict(os.environ, PYTHONPATH=str(Path(wsfast.__file__).resolve().parent.parent))


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", str(EXAMPLES / script), *args],
        capture_output=True, text=True, env=ENV, cwd=EXAMPLES.parent.parent, timeout=60,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_client_without_server_is_friendly() -> None:
    result = run("echo_client.py", f"ws://127.0.0.1:{free_port()}/", "--count", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Is an echo server running?" in result.stderr


def test_client_and_server_round_trip() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-P", str(EXAMPLES / "echo_server.py"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        cwd=EXAMPLES.parent.parent,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # printed once it listens
        assert line.startswith("wsfast echo server on ws://127.0.0.1:"), server.stderr
        for extra in ([], ["--text", "--deflate"]):
            result = run("echo_client.py", f"ws://127.0.0.1:{port}/", "--count", "20",
                         "--size", "3000", *extra)  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert "round trips/s (20 x 3000 B)" in result.stdout
    finally:
        server.terminate()
        server.communicate(timeout=10)  # also closes its pipes
