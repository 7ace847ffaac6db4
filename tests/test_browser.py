"""A real browser against the wsfast echo server: headless Chromium, loopback only.

Chromium loads a local page whose script opens a WebSocket to the wsfast
server (tests/support/ws_asyncio.py), offering permessage-deflate as browsers do,
round-trips text and binary messages (0 B to 1 MiB, some non-ASCII), then
closes with 1000. The script leaves its findings in ``window.__result``,
which the test reads over the DevTools protocol.

It needs Chromium (Debian package ``chromium``), so it carries the ``browser``
marker, which pyproject's pytest config deselects by default: run it with
``python -P -m pytest -m browser`` (``.ci/run`` does). Selected without
Chromium, it fails; it never skips.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect as cdp_connect

from support.ws_asyncio import WebSocket, serve

HOST = "127.0.0.1"
TIME_LIMIT = 90.0

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wsfast browser test</title>
<script>
"use strict";
const port = new URLSearchParams(location.search).get("port");
// Deterministic bytes, so the page can check the echo without keeping a copy.
function bytes(n, seed) {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}
function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const texts = ["", "hello", "é€😀 ".repeat(3000), "x".repeat(70000), "y".repeat(1 << 20)];
const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];
const messages = [...texts, ...sizes.map((n, i) => bytes(n, i + 1))];
const result = {echoed: 0, mismatches: [], errors: []};
const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ["chat", "echo"]);
ws.binaryType = "arraybuffer";
let next = 0;
ws.onopen = () => {
  result.protocol = ws.protocol;
  result.extensions = ws.extensions;
  ws.send(messages[0]);
};
ws.onmessage = (event) => {
  const sent = messages[next];
  const ok = typeof sent === "string"
    ? event.data === sent
    : event.data instanceof ArrayBuffer && same(new Uint8Array(event.data), sent);
  if (ok) result.echoed++; else result.mismatches.push(next);
  next++;
  if (next < messages.length) ws.send(messages[next]);
  else ws.close(1000, "done");
};
ws.onerror = () => result.errors.push("error event");
ws.onclose = (event) => {
  result.close = {code: event.code, reason: event.reason, wasClean: event.wasClean};
  result.total = messages.length;
  window.__result = JSON.stringify(result);
};
</script>
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is required: apt-get install -y chromium (see .ci/run)")
    return path


async def devtools_port(profile: Path, process: asyncio.subprocess.Process) -> int:
    """The DevTools port Chromium chose (it writes it into the profile directory)."""
    port_file = profile / "DevToolsActivePort"
    while not port_file.exists() or not port_file.read_text().strip():
        if process.returncode is not None:
            raise AssertionError(f"chromium exited with {process.returncode}")
        await asyncio.sleep(0.1)
    return int(port_file.read_text().split()[0])


async def page_result(port: int) -> dict[str, Any]:
    """Poll ``window.__result`` in the page over the DevTools protocol."""
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"http://{HOST}:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
            if pages:
                break
            await asyncio.sleep(0.1)
    async with cdp_connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as cdp:
        for message_id in range(1, 10**6):
            await cdp.send(json.dumps({"id": message_id, "method": "Runtime.evaluate",
                                       "params": {"expression": "window.__result || ''"}}))
            while True:
                reply = json.loads(await cdp.recv())
                if reply.get("id") == message_id:
                    break
            value = reply["result"]["result"].get("value")
            if value:
                return json.loads(value)
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


@pytest.mark.browser
def test_chromium_round_trips_through_wsfast_server(tmp_path: Path) -> None:
    browser = chromium()
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    profile = tmp_path / "profile"
    connections: list[WebSocket] = []

    async def scenario() -> dict[str, Any]:
        server = await serve(HOST, 0, on_message=lambda ws, m: ws.send(m.data),
                             on_connect=connections.append, subprotocols=("echo",),
                             max_message_size=4 * 2**20)
        port = server.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", f"--user-data-dir={profile}",
            f"{page.as_uri()}?port={port}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            result = await page_result(await devtools_port(profile, process))
            await asyncio.wait_for(connections[-1].wait_closed(), 10)
            return result
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            server.close()
            await server.wait_closed()

    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(scenario(), TIME_LIMIT)

    result = asyncio.run(bounded())
    assert result["errors"] == []
    assert result["mismatches"] == []
    assert result["echoed"] == result["total"] == 12
    assert result["protocol"] == "echo"
    # Chromium offers permessage-deflate by default, and the server accepts it.
    assert result["extensions"].startswith("permessage-deflate")
    assert result["close"] == {"code": 1000, "reason": "done", "wasClean": True}
    server_side = connections[-1]
    assert (server_side.close_code, server_side.close_reason) == (1000, "done")
    assert server_side.extensions.startswith("permessage-deflate")
    assert server_side.request_headers["user-agent"].find("Chrome") >= 0
