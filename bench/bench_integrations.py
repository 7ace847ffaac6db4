"""End-to-end: each library's own receive path with and without ``wsfast.integrations``.

Every case feeds one library's sans-I/O (or in-process) decoder with frames a
client would send (masked), N messages, and times the whole receive loop,
first with the library as shipped, then after ``install()``, alternating the
two several times and keeping each side's best round (the least disturbed).
Outputs are checked to be identical before anything is timed.

Run:  python bench/bench_integrations.py [--quick] [--json PATH]
Ratios are "without / with" from the same run; quote ratios, not times.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import wsfast
from wsfast import integrations

Runner = Callable[[], Any]


def client_frame(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    """One masked frame as a client sends it (RFC 6455 §5.2, §5.3)."""
    key = os.urandom(4)
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        header = bytes((first, 0x80 | n))
    elif n <= 0xFFFF:
        header = bytes((first, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + key + wsfast.mask(payload, key)


def text_payload(size: int) -> bytes:
    # Mostly ASCII with some two- and three-byte characters, like real chat/JSON text.
    return ("wsfast é€ " * (size // 8 + 1)).encode()[:size].decode("utf-8", "ignore").encode()


HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


# ---- cases: name -> (library, make(count, size) -> runner) ---------------------------


def wsproto_case(count: int, size: int, opcode: int) -> Runner:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import Request

    payload = text_payload(size) if opcode == 1 else os.urandom(size)
    stream = b"".join(client_frame(payload, opcode) for _ in range(count))
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def run() -> Any:
        from wsproto.events import AcceptConnection

        conn = WSConnection(ConnectionType.SERVER)
        conn.receive_data(HANDSHAKE)
        request = next(conn.events())
        assert isinstance(request, Request)
        conn.send(AcceptConnection())
        received = 0
        parts: list[Any] = []
        last = None
        for chunk in chunks:
            conn.receive_data(chunk)
            for event in conn.events():
                # A message cut by a chunk boundary arrives in pieces.
                parts.append(event.data)
                if event.message_finished:
                    received += 1
                    last = parts[0][:0].join(parts)
                    parts = []
        assert received == count
        return last

    return run


def websockets_case(count: int, size: int, opcode: int) -> Runner:
    from websockets.frames import Frame
    from websockets.protocol import OPEN
    from websockets.server import ServerProtocol

    payload = text_payload(size) if opcode == 1 else os.urandom(size)
    stream = b"".join(client_frame(payload, opcode) for _ in range(count))
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def run() -> Any:
        protocol = ServerProtocol()
        protocol.receive_data(HANDSHAKE)
        (request,) = protocol.events_received()
        protocol.send_response(protocol.accept(request))
        assert protocol.state is OPEN
        received = 0
        last = None
        for chunk in chunks:
            protocol.receive_data(chunk)
            for event in protocol.events_received():
                assert isinstance(event, Frame)
                received += 1
                last = bytes(event.data)
        assert received == count
        return last

    return run


def aiohttp_case(count: int, size: int, opcode: int) -> Runner:
    # aiohttp's client masks with the patched writer; its receive side (the
    # compiled reader) cannot be patched, so this measures the send path.
    from aiohttp._websocket.writer import WebSocketWriter

    payload = os.urandom(size)

    class Transport:
        def __init__(self) -> None:
            self.size = 0

        def write(self, data: bytes) -> None:
            self.size += len(data)

        def is_closing(self) -> bool:
            return False

    def run() -> Any:
        transport = Transport()
        writer = WebSocketWriter(None, transport, use_mask=True)  # type: ignore[arg-type]
        for _ in range(count):
            writer._write_websocket_frame(payload, opcode, 0)
        return transport.size

    return run


def tornado_case(count: int, size: int, opcode: int) -> Runner:
    from tornado import websocket

    payload = os.urandom(size)
    key = os.urandom(4)

    def run() -> Any:
        mask = websocket._websocket_mask  # looked up per run: install() swaps it
        out = b""
        for _ in range(count):
            out = mask(key, payload)
        return out

    return run


def autobahn_case(count: int, size: int, opcode: int) -> Runner:
    from autobahn.websocket import protocol

    payload = text_payload(size)
    key = os.urandom(4)

    def run() -> Any:
        ok = True
        out = b""
        for _ in range(count):
            masker = protocol.create_xor_masker(key, len(payload))
            out = masker.process(payload)
            validator = protocol.Utf8Validator()
            ok = ok and validator.validate(payload)[0]
        return out, ok

    return run


CASES: dict[str, tuple[str, Callable[[int, int, int], Runner], int]] = {
    "wsproto: receive text": ("wsproto", wsproto_case, 1),
    "wsproto: receive binary": ("wsproto", wsproto_case, 2),
    "websockets: receive text": ("websockets", websockets_case, 1),
    "websockets: receive binary": ("websockets", websockets_case, 2),
    "aiohttp: client send (mask)": ("aiohttp", aiohttp_case, 2),
    "tornado: _websocket_mask": ("tornado", tornado_case, 2),
    "autobahn: unmask + validate": ("autobahn", autobahn_case, 1),
}


def best_of(run: Runner, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def measure(library: str, make: Callable[[int, int, int], Runner], opcode: int,
            count: int, size: int, rounds: int) -> dict[str, Any]:
    run = make(count, size, opcode)
    integrations.uninstall(library)
    expected = run()
    integrations.install(library)
    try:
        if run() != expected:
            raise AssertionError(f"{library}: different output with wsfast installed")
    finally:
        integrations.uninstall(library)
    times = {"original": float("inf"), "wsfast": float("inf")}
    for _ in range(rounds):
        times["original"] = min(times["original"], best_of(run, 1))
        integrations.install(library)
        try:
            times["wsfast"] = min(times["wsfast"], best_of(run, 1))
        finally:
            integrations.uninstall(library)
    return {
        "library": library,
        "version": metadata.version(library),
        "messages": count,
        "size": size,
        "original_s": times["original"],
        "wsfast_s": times["wsfast"],
        "speedup": times["original"] / times["wsfast"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--sizes", default="1024,65536", help="payload sizes, comma-separated")
    args = parser.parse_args(argv)
    count = 2000 if args.quick else 10000
    rounds = 3 if args.quick else 7
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    print(f"wsfast {wsfast.__version__} ({wsfast.features()['backend']}, mask "
          f"{wsfast.features()['mask']}), Python {platform.python_version()}")
    print(f"{'case':32} {'size':>7} {'msgs':>6} {'original':>10} {'wsfast':>10} {'speedup':>8}")
    for name, (library, make, opcode) in CASES.items():
        try:
            __import__(library)
        except ImportError:
            print(f"{name:32} skipped: {library} not installed")
            continue
        for size in sizes:
            # Big payloads: fewer messages, but never so few that a round
            # takes only a few milliseconds (too noisy to compare).
            n = max(count * 1024 // max(size, 1024), 1000)
            row = measure(library, make, opcode, n, size, rounds)
            row["case"] = name
            results.append(row)
            print(f"{name:32} {size:>7} {n:>6} {row['original_s'] * 1e3:>8.1f}ms "
                  f"{row['wsfast_s'] * 1e3:>8.1f}ms {row['speedup']:>7.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version, "features": wsfast.features(), "results": results},
                      f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
