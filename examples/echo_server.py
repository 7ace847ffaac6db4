"""WebSocket echo server built only on wsfast.

Every text or binary message is sent straight back, from the data callback
(no task per message). permessage-deflate is negotiated when the client
offers it, unless --no-deflate.

    python -P examples/echo_server.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

# The connection layer (handshakes, pings, close, limits) is the one the test
# suite runs against real peers, tests/support/ws_asyncio.py: wsfast is the
# codec and ships none. The checkout goes last, for a wsfast not installed.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_CHECKOUT, "tests"))
sys.path.append(_CHECKOUT)

from support.ws_asyncio import WebSocket, serve

from wsfast.messages import Message


def echo(ws: WebSocket, message: Message) -> None:
    ws.send(message.data)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-deflate", action="store_true", help="refuse permessage-deflate")
    parser.add_argument("--max-message-size", type=int, default=16 * 2**20)
    args = parser.parse_args(argv)
    server = await serve(args.host, args.port, on_message=echo, deflate=not args.no_deflate,
                         max_message_size=args.max_message_size, subprotocols=("echo",))
    port = server.sockets[0].getsockname()[1]
    print(f"wsfast echo server on ws://{args.host}:{port}/", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
