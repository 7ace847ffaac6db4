"""End to end: real WebSocket echo servers, as shipped and with wsfast installed.

Each host (a real server library) runs an echo endpoint in its own process,
twice: as shipped, and with ``wsfast.integrations.install()`` called in that
process before the server starts. This process is the load client (picows):
one connection, one message in flight (send, wait for the whole echo, send
again), alternating between the two servers case by case, the order swapped
every round (ABBA), so both see the same machine.

Fairness:
- the servers run pinned to one core, the client to another (``taskset`` /
  ``sched_setaffinity``);
- both variants prime glibc's allocator the same way before serving: a 1 MiB
  block is allocated and freed, which raises malloc's mmap threshold, so no
  variant maps and unmaps a fresh 256 KiB buffer per socket read (without
  this, whichever variant happened to free a large block first, as
  ``install()`` does when it builds a compressor, looks much faster);
- both variants import the same modules: the shipped one imports every
  library (and wsfast integration module) that ``install()`` would, without
  patching anything;
- both variants ``gc.freeze()`` their start-up heap, so a full collection
  over all those modules does not land in one variant's counted window;
- TCP_NODELAY is on at both ends (asyncio sets it on every TCP transport,
  tornado's handler sets it, picows sets it);
- besides wall clock, the server's CPU time per round trip is read from
  ``/proc/PID/task/*/schedstat`` around the counted window: far less
  sensitive to other load than wall clock. ``--callgrind`` adds the
  server's user-space instructions per round trip (valgrind, slow);
- that CPU time is split into user and kernel (sys) time with the process's
  utime and stime read around the same window (taskstats; /proc/PID/stat
  where that is missing). The kernel samples the split at its timer tick
  (every few ms), so the split is summed over all rounds of a case (the
  table says over how much CPU time) and scaled onto the exact schedstat
  total. The ``ceiling`` is
  shipped CPU / shipped sys per round trip: the CPU ratio installing wsfast
  could reach if it removed every user-space instruction and left the
  kernel's work (socket reads and writes, loopback TCP) as it was.

Ratios: ``ratio`` = installed / shipped round trips per second (median of the
rounds, spread min-max); ``cpu_ratio`` = shipped / installed server CPU per
round trip; ``user_cpu_ratio`` the same for user time alone. Above 1 means
wsfast made it faster. A spread that straddles 1.0 means no measurable change.

Run:      python bench/bench_servers.py [--quick] [--hosts a,b] [--json PATH] [--callgrind]
Profile:  python bench/bench_servers.py --profile HOST [--size N --kind text|binary]
          (cProfile of the installed server; prints the share of the server's
          time in the host's own framing code, and the top functions)
Needs the ``servers`` extra: ``pip install -e .[servers]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import glob
import importlib
import json
import os
import platform
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOSTS = (
    "websockets",
    "aiohttp",
    "uvicorn-websockets",
    "uvicorn-wsproto",
    "hypercorn",
    "tornado",
    "autobahn",
)
SIZES = (16, 1024, 65536)
KINDS = ("binary", "text")
SERVER_CORE = 0
CLIENT_CORE = 1
MAX_SIZE = 1 << 20


# ---- the servers (run in their own process: --serve HOST) -----------------------------


def prime_allocator() -> None:
    """Free a 1 MiB malloc block: glibc then raises its mmap threshold above
    it, so socket reads of 256 KiB come from the heap instead of a fresh
    mmap/munmap pair each. Done the same way in both variants."""
    block = bytearray(1 << 20)
    del block


async def serve_websockets(port_out: Callable[[int], None]) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, max_size=MAX_SIZE, compression=None) as server:
        port_out(server.sockets[0].getsockname()[1])
        await asyncio.Future()


async def serve_aiohttp(port_out: Callable[[int], None]) -> None:
    from aiohttp import WSMsgType, web

    async def echo(request: Any) -> Any:
        ws = web.WebSocketResponse(max_msg_size=MAX_SIZE)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_out(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Future()


async def asgi_echo(scope: Any, receive: Any, send: Any) -> None:
    """A raw ASGI echo endpoint (what a FastAPI/Starlette endpoint boils down to)."""
    if scope["type"] != "websocket":
        return
    while True:
        event = await receive()
        kind = event["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event["bytes"]})
        else:
            return


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve_uvicorn(port_out: Callable[[int], None], ws: str) -> None:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(asgi_echo, host="127.0.0.1", port=port, ws=ws, loop="none",
                            http="h11", lifespan="off", log_level="warning",
                            access_log=False, ws_max_size=MAX_SIZE)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port_out(port)
    await task


async def serve_hypercorn(port_out: Callable[[int], None]) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port = _free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.websocket_max_message_size = MAX_SIZE
    config.accesslog = None
    config.errorlog = None
    task = asyncio.ensure_future(serve(asgi_echo, config))  # type: ignore[arg-type]
    await _wait_listening(port)
    port_out(port)
    await task


async def _wait_listening(port: int) -> None:
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on port {port}")


async def serve_tornado(port_out: Callable[[int], None]) -> None:
    from tornado import web, websocket

    class Echo(websocket.WebSocketHandler):
        def open(self) -> None:
            self.set_nodelay(True)

        def on_message(self, message: Any) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    app = web.Application([("/", Echo)], websocket_max_message_size=MAX_SIZE)
    server = app.listen(0, "127.0.0.1")
    port_out(next(iter(server._sockets.values())).getsockname()[1])
    await asyncio.Future()


async def serve_autobahn(port_out: Callable[[int], None]) -> None:
    from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol

    class Echo(WebSocketServerProtocol):
        def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
            self.sendMessage(payload, isBinary)

    factory = WebSocketServerFactory()
    factory.protocol = Echo
    factory.setProtocolOptions(maxMessagePayloadSize=MAX_SIZE, maxFramePayloadSize=MAX_SIZE)
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port_out(server.sockets[0].getsockname()[1])
    await asyncio.Future()


SERVERS: dict[str, Callable[[Callable[[int], None]], Any]] = {
    "websockets": serve_websockets,
    "aiohttp": serve_aiohttp,
    "uvicorn-websockets": lambda out: serve_uvicorn(out, "websockets"),
    "uvicorn-wsproto": lambda out: serve_uvicorn(out, "wsproto"),
    "hypercorn": serve_hypercorn,
    "tornado": serve_tornado,
    "autobahn": serve_autobahn,
}


PREIMPORT = {
    "uvicorn-websockets": ("uvicorn.protocols.websockets.websockets_impl",),
    "uvicorn-wsproto": ("uvicorn.protocols.websockets.wsproto_impl",),
}


def run_server(host: str, installed: bool, profile: str | None) -> None:
    """The server process: prime, maybe install, serve until SIGTERM; print the port."""
    import warnings

    warnings.simplefilter("ignore")  # uvicorn warns that --ws websockets is deprecated
    prime_allocator()
    # What the host has imported by the time an application module runs
    # (where install() is called): uvicorn loads its protocol first.
    for module in PREIMPORT.get(host, ()):
        importlib.import_module(module)
    import wsfast.integrations

    # Both variants import what install() imports (every supported library
    # that is installed): more modules alone cost about 2 % more instructions
    # per round trip, which is not the patches' doing.
    for name in wsfast.integrations.SUPPORTED:
        try:
            importlib.import_module(name)
            importlib.import_module(f"wsfast.integrations.{name}")
        except ImportError:
            pass
    if installed:
        wsfast.integrations.install()
    # Startup objects (all those modules) out of the collector's way, in both
    # variants: a full collection of them costs millions of instructions, and
    # landing in one variant's counted window would decide a short comparison.
    gc.collect()
    gc.freeze()
    profiler = None
    if profile:
        import cProfile

        import time as _time

        # CPU time, not wall clock: the idle wait in epoll is not the server's work.
        profiler = cProfile.Profile(_time.process_time_ns, 1e-9)

    def port_out(port: int) -> None:
        print(f"PORT {port}", flush=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    if profiler is not None:
        # Collect only while a client says so (SIGUSR1 on, SIGUSR2 off).
        loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
        loop.add_signal_handler(signal.SIGUSR2, profiler.disable)

    async def main() -> None:
        serving = asyncio.ensure_future(SERVERS[host](port_out))
        await asyncio.wait([serving, stop], return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()

    loop.run_until_complete(main())
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    os._exit(0)  # no orderly shutdown: some hosts wait for their connections


# ---- the client (this process) -------------------------------------------------------


def server_cpu_ns(pid: int) -> int:
    """CPU time the process has run so far, all threads (first schedstat field)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited
    return total


class UserSysClock:
    """User and kernel CPU time of a whole process so far, in µs.

    From taskstats (generic netlink, no privilege needed): the kernel's own
    tick-sampled utime and stime of every thread. /proc/PID/stat reports the
    same samples, but rescaled onto the exact runtime and never allowed to go
    down, which moves time between user and sys from one read to the next;
    it is the fallback where taskstats is missing.
    """

    _HEADER = struct.Struct("IHHII")

    def __init__(self) -> None:
        self.source = "/proc/PID/stat"
        self._socket: Any = None
        self._family = 0
        try:
            self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # GENERIC
            self._socket.bind((0, 0))
            # CTRL_CMD_GETFAMILY "TASKSTATS" -> CTRL_ATTR_FAMILY_ID
            attrs = self._request(self._socket, 0x10, 3, 2, b"TASKSTATS\0")
            self._family = struct.unpack_from("H", attrs[1])[0]
            self.read(os.getpid())
            self.source = "taskstats"
        except (OSError, KeyError, struct.error, AttributeError):
            self.close()

    def close(self) -> None:
        """Read /proc/PID/stat from now on."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @classmethod
    def _request(cls, sock: Any, family: int, command: int, attr: int,
                 value: bytes) -> dict[int, bytes]:
        attribute = struct.pack("HH", 4 + len(value), attr) + value
        attribute += b"\0" * (-len(attribute) % 4)
        body = struct.pack("BBH", command, 1, 0) + attribute
        sock.send(cls._HEADER.pack(16 + len(body), family, 1, 0, 0) + body)  # NLM_F_REQUEST
        reply = sock.recv(65536)
        length, kind = struct.unpack_from("IH", reply)
        if kind == 2:  # NLMSG_ERROR
            raise OSError(-struct.unpack_from("i", reply, 16)[0], "netlink error")
        return cls._attributes(reply[20:length])

    @staticmethod
    def _attributes(data: bytes) -> dict[int, bytes]:
        found = {}
        while len(data) >= 4:
            length, kind = struct.unpack_from("HH", data)
            found[kind & 0x3FFF] = data[4:length]
            data = data[(length + 3) & ~3:]
        return found

    def read(self, pid: int) -> tuple[int, int]:
        if self._socket is not None:
            # TASKSTATS_CMD_GET by TGID -> AGGR_TGID -> STATS: struct taskstats,
            # ac_utime and ac_stime (µs) at offsets 152 and 160.
            reply = self._request(self._socket, self._family, 1, 2, struct.pack("I", pid))
            stats = self._attributes(reply[5])[3]
            user, system = struct.unpack_from("QQ", stats, 152)
            return int(user), int(system)
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces: split after its ')'.
            fields = f.read().rsplit(")", 1)[1].split()
        tick_us = 1_000_000 // os.sysconf("SC_CLK_TCK")
        return int(fields[11]) * tick_us, int(fields[12]) * tick_us


_clock: list[UserSysClock] = []


def user_sys_clock() -> UserSysClock:
    """The client's one clock (opened on first use: the servers need none)."""
    if not _clock:
        _clock.append(UserSysClock())
    return _clock[0]


@dataclass
class Measurement:
    count: int
    seconds: float
    cpu_ns: int
    latencies_ns: list[int] = field(repr=False)
    user_us: int = 0
    sys_us: int = 0

    @property
    def per_s(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_per_rt_ns(self) -> float:
        return self.cpu_ns / self.count

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def payload_for(size: int, kind: str) -> Any:
    if kind == "text":
        # Mostly ASCII with some multi-byte characters, like chat or JSON text.
        text = ("wsfast é€ " * (size // 8 + 1)).encode()[:size].decode("utf-8", "ignore")
        return text + "x" * (size - len(text.encode()))
    return os.urandom(size)


async def measure(port: int, pid: int, payload: Any, kind: str, warmup: int, seconds: float,
                  around: Callable[[bool], None] | None = None,
                  count: int | None = None) -> Measurement:
    """Echo ``payload`` one at a time: ``warmup`` round trips, then count for
    ``seconds`` (or ``count`` round trips); ``around(True/False)`` brackets the
    counted window."""
    from picows import WSCloseCode, WSListener, WSMsgType, ws_connect

    msg_type = WSMsgType.TEXT if kind == "text" else WSMsgType.BINARY
    wire = payload.encode() if kind == "text" else payload
    expected = len(wire)
    done = asyncio.get_running_loop().create_future()

    class Client(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: Any) -> None:
            self.transport = transport
            self.received = 0
            self.checked = False
            self.sent = 0
            self.latencies: list[int] = []
            self.start_ns = 0
            self.cpu_start = 0
            self.user_sys_start = (0, 0)
            self.deadline = 0
            self.first = time.perf_counter_ns()
            self.transport.send(msg_type, wire)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            now = time.perf_counter_ns()
            if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
                return
            if not self.checked and frame.fin and frame.payload_size == expected:
                if frame.get_payload_as_bytes() != wire:
                    done.set_exception(AssertionError("the echo differs from the message"))
                self.checked = True
            self.received += frame.payload_size
            if not frame.fin:
                return
            if self.received != expected:
                done.set_exception(AssertionError(f"echo of {self.received} bytes, sent {expected}"))
                return
            self.received = 0
            self.sent += 1
            if self.sent == warmup:
                if around is not None:
                    around(True)
                self.cpu_start = server_cpu_ns(pid)
                self.user_sys_start = user_sys_clock().read(pid)
                self.start_ns = time.perf_counter_ns()
                self.deadline = self.start_ns + int(seconds * 1e9)
            elif self.sent > warmup:
                self.latencies.append(now - self.first)
                if now >= self.deadline if count is None else len(self.latencies) >= count:
                    cpu = server_cpu_ns(pid) - self.cpu_start
                    user, system = user_sys_clock().read(pid)
                    if around is not None:
                        around(False)
                    done.set_result(Measurement(len(self.latencies), (now - self.start_ns) / 1e9,
                                                cpu, self.latencies,
                                                user - self.user_sys_start[0],
                                                system - self.user_sys_start[1]))
                    transport.send_close(WSCloseCode.OK)
                    transport.disconnect()
                    return
            self.first = time.perf_counter_ns()
            transport.send(msg_type, wire)

        def on_ws_disconnected(self, transport: Any) -> None:
            if not done.done():
                done.set_exception(ConnectionError("the server closed the connection"))

    transport, _ = await ws_connect(Client, f"ws://127.0.0.1:{port}/", max_frame_size=4 * MAX_SIZE)
    try:
        return await asyncio.wait_for(done, 600 if count else seconds * 20 + 60)
    finally:
        transport.disconnect()


class Server:
    """One server process (``--serve``), pinned to the server core."""

    def __init__(self, host: str, installed: bool, *, profile: str | None = None,
                 callgrind: str | None = None) -> None:
        command = [sys.executable, __file__, "--serve", host]
        if installed:
            command.append("--installed")
        if profile:
            command += ["--profile-out", profile]
        if callgrind:
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                       f"--callgrind-out-file={callgrind}", *command]
        command = ["taskset", "-c", str(SERVER_CORE), *command]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env,
                                        cwd=os.path.dirname(os.path.abspath(__file__)))
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{host} server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.process.pid  # taskset execs the server in the same process

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Case:
    host: str
    size: int
    kind: str
    runs: dict[bool, list[Measurement]] = field(default_factory=lambda: {False: [], True: []})
    instructions: dict[bool, float] = field(default_factory=dict)

    def ratios(self) -> list[float]:
        return [b.per_s / a.per_s for a, b in zip(self.runs[False], self.runs[True])]

    def cpu_ratios(self) -> list[float]:
        return [a.cpu_per_rt_ns / b.cpu_per_rt_ns
                for a, b in zip(self.runs[False], self.runs[True])]

    def median(self, installed: bool, key: Callable[[Measurement], float]) -> float:
        return statistics.median(key(m) for m in self.runs[installed])

    def sampled(self, installed: bool) -> tuple[int, int]:
        """User and sys µs, as the kernel sampled them, over every round of one variant."""
        runs = self.runs[installed]
        return sum(m.user_us for m in runs), sum(m.sys_us for m in runs)

    def user_sys_us(self, installed: bool) -> tuple[float, float]:
        """The median CPU per round trip (µs) split into user and sys by the
        sampled ratio of all rounds (one round holds too few ticks)."""
        cpu_us = self.median(installed, lambda m: m.cpu_per_rt_ns) / 1000
        user, system = self.sampled(installed)
        sys_share = system / (user + system) if user + system else 0.0
        return cpu_us * (1 - sys_share), cpu_us * sys_share

    def row(self) -> dict[str, Any]:
        shipped_user, shipped_sys = self.user_sys_us(False)
        installed_user, installed_sys = self.user_sys_us(True)
        return {
            "host": self.host,
            "size": self.size,
            "kind": self.kind,
            "shipped_per_s": round(self.median(False, lambda m: m.per_s), 1),
            "installed_per_s": round(self.median(True, lambda m: m.per_s), 1),
            "ratio": round(statistics.median(self.ratios()), 3),
            "cpu_ratio": round(statistics.median(self.cpu_ratios()), 3),
            "shipped_cpu_us": round(shipped_user + shipped_sys, 2),
            "installed_cpu_us": round(installed_user + installed_sys, 2),
            "shipped_user_us": round(shipped_user, 2),
            "shipped_sys_us": round(shipped_sys, 2),
            "installed_user_us": round(installed_user, 2),
            "installed_sys_us": round(installed_sys, 2),
            "user_cpu_ratio": round(shipped_user / installed_user, 3) if installed_user else None,
            "ceiling": (round((shipped_user + shipped_sys) / shipped_sys, 3)
                        if shipped_sys else None),
            "split_ms": round(min(sum(self.sampled(False)), sum(self.sampled(True))) / 1000),
            **({"shipped_ir": round(self.instructions[False]),
                "installed_ir": round(self.instructions[True])}
               if len(self.instructions) == 2 else {}),
        }


def size_name(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def run_host(host: str, rounds: int, seconds: float, warmup: int, sizes: list[int],
             kinds: list[str]) -> list[Case]:
    cases = [Case(host, size, kind) for size in sizes for kind in kinds]
    servers = {False: Server(host, False), True: Server(host, True)}
    try:
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for case in cases:
                payload = payload_for(case.size, case.kind)
                for installed in order:
                    server = servers[installed]
                    result = asyncio.run(measure(server.port, server.pid, payload, case.kind,
                                                 warmup, seconds))
                    case.runs[installed].append(result)
    finally:
        for server in servers.values():
            server.stop()
    return cases


def run_callgrind(host: str, cases: list[Case], count: int) -> None:
    """Server user-space instructions per round trip, under callgrind."""

    def instructions(server: Server, out: str, payload: Any, kind: str) -> float:
        def around(on: bool) -> None:
            subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(server.pid)],
                           check=True, stdout=subprocess.DEVNULL)

        asyncio.run(measure(server.port, server.pid, payload, kind, 100, 0.0, around, count))
        subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        total = 0
        time.sleep(0.5)  # callgrind_control returns before the dump is written
        for dump in glob.glob(out + "*"):
            for line in Path(dump).read_text().splitlines():
                if line.startswith("totals:"):
                    total += int(line.split()[1])
            os.unlink(dump)
        return total / count

    with tempfile.TemporaryDirectory() as tmp:
        for installed in (False, True):
            out = os.path.join(tmp, f"cg.{installed}")
            server = Server(host, installed, callgrind=out)
            try:
                for case in cases:
                    case.instructions[installed] = instructions(
                        server, out, payload_for(case.size, case.kind), case.kind)
            finally:
                server.stop()


def print_table(cases: list[Case]) -> None:
    print(f"{'host':<19}{'message':>14}{'shipped/s':>11}{'installed/s':>12}"
          f"{'ratio (min-max)':>20}{'cpu ratio (min-max)':>22}"
          f"{'p50 us':>14}{'p99 us':>14}{'Ir ratio':>10}")
    for case in cases:
        row = case.row()
        ratios, cpu = case.ratios(), case.cpu_ratios()
        p50 = [case.median(i, lambda m: m.percentile(0.5)) for i in (False, True)]
        p99 = [case.median(i, lambda m: m.percentile(0.99)) for i in (False, True)]
        ir = ""
        if len(case.instructions) == 2:
            ir = f"{case.instructions[False] / case.instructions[True]:.2f}"
        print(f"{case.host:<19}{size_name(case.size) + ' ' + case.kind:>14}"
              f"{row['shipped_per_s']:>11.0f}{row['installed_per_s']:>12.0f}"
              f"{row['ratio']:>8.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
              f"{row['cpu_ratio']:>10.2f} ({min(cpu):.2f}-{max(cpu):.2f})"
              f"{p50[0]:>7.0f}/{p50[1]:<6.0f}{p99[0]:>7.0f}/{p99[1]:<6.0f}{ir:>10}")
    print_cpu_split(cases)


def print_cpu_split(cases: list[Case]) -> None:
    """Server CPU per round trip, shipped/installed, split into user and sys."""
    print(f"{'':<19}{'':>14}{'CPU us/rt':>16}{'user us':>16}{'sys us':>14}"
          f"{'user ratio':>12}{'sys share':>11}{'ceiling':>9}{'split ms':>9}{'kIr/rt':>16}")
    for case in cases:
        row = case.row()
        ceiling = f"{row['ceiling']:.2f}x" if row["ceiling"] else "-"
        user_ratio = f"{row['user_cpu_ratio']:.2f}x" if row["user_cpu_ratio"] else "-"
        share = row["shipped_sys_us"] / row["shipped_cpu_us"] if row["shipped_cpu_us"] else 0
        ir = (f"{row['shipped_ir'] / 1000:>9.0f}/{row['installed_ir'] / 1000:<6.0f}"
              if "shipped_ir" in row else "")
        print(f"{case.host:<19}{size_name(case.size) + ' ' + case.kind:>14}"
              f"{row['shipped_cpu_us']:>9.1f}/{row['installed_cpu_us']:<6.1f}"
              f"{row['shipped_user_us']:>9.1f}/{row['installed_user_us']:<6.1f}"
              f"{row['shipped_sys_us']:>7.1f}/{row['installed_sys_us']:<6.1f}"
              f"{user_ratio:>12}{100 * share:>10.0f}%{ceiling:>9}{row['split_ms']:>9}{ir}")
    source = user_sys_clock().source
    print(f"  (shipped/installed, per round trip; user and sys from {source}, sampled"
          f" at the kernel's timer tick: 'split ms' is the sampled CPU time of the sparser"
          f" variant, each tick a few ms, so a split over under ~500 ms is rough; ceiling ="
          f" shipped CPU / shipped sys, the CPU ratio if installing removed all user time;"
          f" kIr/rt: user-space instructions, --callgrind)")


# ---- profiles ------------------------------------------------------------------------

# Per host: (path suffix, function names or None for every function) that make up
# the host's own framing, masking, UTF-8 and frame-building code.
FRAMING: dict[str, list[tuple[str, set[str] | None]]] = {
    "websockets": [("websockets/frames.py", None), ("websockets/streams.py", None),
                   ("websockets/utils.py", None),
                   ("websockets/protocol.py", {"parse", "send_frame", "recv_frame",
                                               "send_data", "send_text", "send_binary"})],
    "aiohttp": [("aiohttp/_websocket/reader_py.py", None), ("aiohttp/_websocket/writer.py", None),
                ("aiohttp/_websocket/helpers.py", None), ("aiohttp/_websocket/reader.py", None)],
    "uvicorn-websockets": [("websockets/legacy/framing.py", None), ("websockets/frames.py", None),
                           ("websockets/utils.py", None),
                           ("websockets/legacy/protocol.py", {"read_data_frame", "read_frame",
                                                              "write_frame", "read_message",
                                                              "write_frame_sync"})],
    # wsproto's frame protocol and its connection objects' event loops.
    "uvicorn-wsproto": [("wsproto/frame_protocol.py", None), ("wsproto/connection.py", None),
                        ("wsproto/__init__.py", None)],
    "hypercorn": [("wsproto/frame_protocol.py", None), ("wsproto/connection.py", None)],
    "tornado": [("tornado/websocket.py", {"_receive_frame", "_write_frame", "_handle_message",
                                           "write_message", "_websocket_mask", "_read_bytes",
                                           "_receive_frame_loop"}),
                ("tornado/util.py", {"_websocket_mask_python"})],
    "autobahn": [("autobahn/websocket/protocol.py", {"processData", "processDataHybi",
                                                     "onFrameBegin", "onFrameData", "onFrameEnd",
                                                     "sendFrame", "sendMessage", "_onMessageBegin",
                                                     "_onMessageFrameBegin", "_onMessageFrameData",
                                                     "_onMessageFrameEnd", "_onMessageEnd",
                                                     "onMessageFrameData", "onMessageFrameEnd",
                                                     "onMessageEnd", "onMessageBegin",
                                                     "onMessageFrameBegin", "consumeData"}),
                 ("autobahn/websocket/xormasker.py", None),
                 ("autobahn/websocket/utf8validator.py", None)],
}


def framing_function(host: str, filename: str, function: str) -> bool:
    for suffix, names in FRAMING[host]:
        if filename.endswith(suffix) and (names is None or function in names):
            return True
    return False


def profile_host(host: str, sizes: list[int], kinds: list[str], seconds: float, top: int) -> None:
    """cProfile the installed server over a counted window per case."""
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            for kind in kinds:
                out = os.path.join(tmp, f"{host}.{size}.{kind}.prof")
                server = Server(host, True, profile=out)
                try:
                    def around(on: bool) -> None:
                        os.kill(server.pid, signal.SIGUSR1 if on else signal.SIGUSR2)

                    m = asyncio.run(measure(server.port, server.pid, payload_for(size, kind),
                                            kind, 200, seconds, around))
                finally:
                    server.stop()
                stats = pstats.Stats(out)
                entries = stats.stats  # type: ignore[attr-defined]
                total = sum(tt for (_, _, tt, _, _) in entries.values())
                framing = {key: tt for key, (_, _, tt, _, _) in entries.items()
                           if framing_function(host, key[0], key[2])}
                wsfast_tt = sum(tt for key, (_, _, tt, _, _) in entries.items()
                                if "wsfast" in key[0])
                share = sum(framing.values()) / total
                print(f"{host} {size_name(size)} {kind}: {m.count} round trips profiled; "
                      f"host framing code {100 * share:.1f} % of the server's profiled time, "
                      f"wsfast's own code {100 * wsfast_tt / total:.1f} %")
                ranked = sorted(entries.items(), key=lambda kv: -kv[1][2])[:top]
                for (filename, line, function), (_, calls, tt, _, _) in ranked:
                    mark = "*" if framing_function(host, filename, function) else " "
                    where = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
                    print(f"   {mark} {100 * tt / total:5.1f} %  {calls // max(m.count, 1):>4}/rt  "
                          f"{where}:{line}({function})")


# ---- main ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 3 minutes)")
    parser.add_argument("--hosts", default=",".join(HOSTS), help="comma-separated hosts")
    parser.add_argument("--rounds", type=int, help="alternating rounds per case")
    parser.add_argument("--seconds", type=float, help="counted seconds per measurement")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--callgrind", action="store_true",
                        help="also count server instructions per round trip (slow)")
    parser.add_argument("--profile", metavar="HOST", help="profile the installed HOST")
    parser.add_argument("--size", type=int, action="append",
                        help="message size in bytes (repeatable; default 16, 1024, 65536)")
    parser.add_argument("--kind", action="append", choices=KINDS,
                        help="binary or text (repeatable; default both)")
    parser.add_argument("--top", type=int, default=25, help="with --profile: functions shown")
    parser.add_argument("--serve", metavar="HOST", help=argparse.SUPPRESS)
    parser.add_argument("--installed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        run_server(args.serve, args.installed, args.profile_out)
        return
    os.sched_setaffinity(0, {CLIENT_CORE})
    if args.profile:
        profile_host(args.profile, args.size or [1024, 65536], args.kind or ["binary"],
                     args.seconds or 3.0, args.top)
        return
    hosts = args.hosts.split(",")
    unknown = set(hosts) - set(HOSTS)
    if unknown:
        parser.error(f"unknown hosts {sorted(unknown)}; choose from {HOSTS}")
    rounds = args.rounds or (2 if args.quick else 6)
    seconds = args.seconds or (0.25 if args.quick else 1.0)
    warmup = 50 if args.quick else 200
    import wsfast

    print(f"# wsfast {wsfast.__version__} ({wsfast.BACKEND}), Python {platform.python_version()}, "
          f"{rounds} alternating rounds x {seconds} s per side; server on CPU {SERVER_CORE}, "
          f"client (picows) on CPU {CLIENT_CORE}; load average {os.getloadavg()[0]:.1f}")
    cases: list[Case] = []
    for host in hosts:
        host_cases = run_host(host, rounds, seconds, warmup, args.size or list(SIZES),
                              args.kind or list(KINDS))
        if args.callgrind:
            run_callgrind(host, host_cases, 1000)
        print_table(host_cases)
        cases += host_cases
    if args.json:
        Path(args.json).write_text(json.dumps([case.row() for case in cases], indent=1) + "\n")


if __name__ == "__main__":
    main()
