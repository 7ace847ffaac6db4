"""Echo round trips per second on loopback: wsfast's example server vs websockets',
aiohttp's and picows' echo servers, all driven by the same client.

Each server runs in its own process (wsfast's is examples/echo_server.py,
the others ``--serve NAME``); the client (the wsfast example client,
examples/echo_client.py, in its own process, identical for every server)
sends one message, waits for its echo, and repeats. Servers are measured in
turns, several rounds, keeping each one's best round. No compression.

Run:  python bench/bench_echo.py [--count 20000] [--sizes 16,1024,65536] [--rounds 3]
Ratios are "server / wsfast" from the same run; quote ratios, not rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

HOST = "127.0.0.1"
SERVERS = ("wsfast", "picows", "websockets", "aiohttp")


# ---- the peers' servers (each run in a child process) -----------------------------


async def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    async with serve(echo, HOST, port, compression=None, max_size=None) as server:
        await server.serve_forever()


async def serve_aiohttp(port: int) -> None:
    import aiohttp
    from aiohttp import web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    await asyncio.Event().wait()


async def serve_picows(port: int) -> None:
    from picows import WSListener, WSMsgType, ws_create_server

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport, frame):  # type: ignore[no-untyped-def]
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview())

    server = await ws_create_server(lambda _: Echo(), HOST, port)
    await server.serve_forever()


SERVE = {"websockets": serve_websockets, "aiohttp": serve_aiohttp, "picows": serve_picows}


# ---- the driver ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def measure(name: str, count: int, size: int) -> float:
    port = free_port()
    if name == "wsfast":
        server = [sys.executable, "-P", str(EXAMPLES / "echo_server.py"), "--no-deflate"]
    else:
        server = [sys.executable, __file__, "--serve", name]
    process = subprocess.Popen([*server, "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        client = subprocess.run(
            [sys.executable, "-P", str(EXAMPLES / "echo_client.py"), f"ws://{HOST}:{port}/",
             "--count", str(count), "--size", str(size)],
            stdout=subprocess.PIPE, text=True, timeout=300, check=True,
        )  # fmt: skip
        # The client prints "12,345 round trips/s (COUNT x SIZE B)".
        return float(client.stdout.split()[0].replace(",", ""))
    finally:
        process.terminate()
        process.wait(10)


def version(name: str) -> str:
    return "example" if name == "wsfast" else metadata.version(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=SERVE, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--sizes", default="16,1024,65536")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(SERVE[args.serve](args.port))
        return 0
    import wsfast

    available = []
    for name in SERVERS:
        try:
            __import__(name)
            available.append(name)
        except ImportError:
            print(f"{name}: not installed, skipped")
    loop = asyncio.new_event_loop()
    loop_name = f"{type(loop).__module__}.{type(loop).__name__}"
    loop.close()
    print(f"wsfast {wsfast.__version__} ({wsfast.features()['backend']}); client: "
          f"examples/echo_client.py; {args.count} round trips per measure, best of {args.rounds}; "
          f"every server and the client on {loop_name}")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        count = max(args.count * 1024 // max(size, 1024), 500)
        best = dict.fromkeys(available, 0.0)
        for _ in range(args.rounds):
            for name in available:
                best[name] = max(best[name], measure(name, count, size))
        for name in sorted(available, key=lambda n: -best[n]):
            ratio = best[name] / best["wsfast"]
            results.append({"server": name, "version": version(name), "size": size,
                            "round_trips_per_s": best[name], "vs_wsfast": ratio})
            print(f"  {size:>6} B  {name:10} {version(name):8} {best[name]:>10,.0f} rt/s  "
                  f"{ratio:5.2f}x wsfast")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
