"""WebSocket echo client built only on wsfast.

Sends messages to an echo server, checks each reply, and reports round trips
per second; then closes cleanly.

    python -P examples/echo_server.py &
    python -P examples/echo_client.py ws://127.0.0.1:8765/ --count 10000 --size 1024
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

# The connection layer (handshakes, pings, close, limits) is the one the test
# suite runs against real peers, tests/support/ws_asyncio.py: wsfast is the
# codec and ships none. The checkout goes last, for a wsfast not installed.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_CHECKOUT, "tests"))
sys.path.append(_CHECKOUT)

from support.ws_asyncio import HandshakeError, connect


async def echo_round_trips(uri: str, count: int, size: int, *, text: bool = False,
                           deflate: bool = False) -> float:
    """Send ``count`` messages one at a time, each after the previous echo; return trips/s."""
    ws = await connect(uri, deflate=deflate)
    payload: str | bytes = "x" * size if text else os.urandom(size)
    try:
        start = time.perf_counter()
        for _ in range(count):
            ws.send(payload)
            if await ws.recv() != payload:
                raise AssertionError("echo differs from what was sent")
        elapsed = time.perf_counter() - start
    finally:
        await ws.close()
    return count / elapsed


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri", nargs="?", default="ws://127.0.0.1:8765/")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--text", action="store_true")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    args = parser.parse_args(argv)
    try:
        rate = await echo_round_trips(args.uri, args.count, args.size, text=args.text,
                                      deflate=args.deflate)
    except (OSError, HandshakeError) as exc:
        print(f"echo_client: cannot talk to {args.uri}: {exc}\n"
              "Is an echo server running? Start one with: python -P examples/echo_server.py",
              file=sys.stderr)
        return 1
    print(f"{rate:,.0f} round trips/s ({args.count} x {args.size} B)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(130)
