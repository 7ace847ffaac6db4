"""Instructions per call, counted under callgrind: results that machine load cannot move.

Wall-clock results move by 10-50 % between runs on a shared machine; the
number of instructions a call executes does not. ``wsfast bench --counts``
runs the registry's items (the same inputs, setups and correctness checks as
the timed benchmark) in a driver process under ``valgrind --tool=callgrind``
and reports the instructions one call executes.

How one row is counted (:func:`_measure`, in the driver):

1. the call runs a few times with instrumentation off, so CPython's adaptive
   interpreter has specialised the bytecode involved and the allocator's
   pools are warm;
2. with instrumentation on, the counters are dumped after a loop of 0 calls
   and after a loop of n calls, three times each; the smallest of each is
   kept (the occasional one-off work, such as a list or a pool growing, only
   ever adds);
3. instructions per call = (loop of n - loop of 0) / n, rounded. Start-up,
   imports, building the input, the check and the loop's own set-up cancel
   out; what remains is what a caller pays per call, including the few dozen
   instructions of the loop's iteration and of the call itself, as in the
   timed results.

The driver talks to callgrind through Valgrind client requests: a 31-byte
x86-64 function (the "special instruction" sequence of valgrind.h) placed in
an executable page and called with ctypes, so no compiler is needed and every
backend and peer can be counted. The driver runs with PYTHONHASHSEED=0, the
garbage collector frozen, and ``os.urandom`` seeded while inputs are built, so
that two runs execute the same instructions.

Counts depend on the code that runs: the Python build, wsfast's backend and
kernels, and (for copies) the C library's routines, which glibc picks from the
CPU features valgrind reports. :data:`FINGERPRINT` lists what ``--compare``
requires to be equal; the CPU model is recorded and reported when it differs.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import json
import mmap
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from . import Call, Item, format_size

# Sizes above this are not counted: the count grows linearly with the size
# from there on, and what differs at 1 MiB and beyond is memory traffic,
# which instruction counts do not see.
MAX_SIZE = 64 * 2**10
# Instructions per measured loop: n is chosen so that n calls execute about this many.
LOOP_BUDGET = 2_000_000
MAX_CALLS = 1000
REPEATS = 3  # loops of 0 and of n calls; the minimum of each is kept
WARMUP_BUDGET = 20_000_000  # instructions of uninstrumented warm-up calls
MIN_WARMUP, MAX_WARMUP = 3, 200

# The machine facts two count results must share to be compared (keys of
# ``machine``): the interpreter build and wsfast's backend and kernels.
FINGERPRINT = ("arch", "python_version", "backend", "kernels")

# glibc serves every block of 4 KiB or more with its own mmap: otherwise the
# path a 4 KiB allocation takes (top of the heap, or a free list) depends on
# the heap's history, and moved a 4 KiB row by ~190 instructions (13 %)
# between two installs of the same code. It also puts those buffers at one
# fixed alignment. Smaller blocks come from pymalloc or the heap, as usual.
ENV = {"PYTHONHASHSEED": "0", "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"}
PROGRESS = "wsfast-counts-progress"


class CountsUnavailable(RuntimeError):
    """Counting cannot run here (no valgrind, or an unsupported platform)."""


class CountsFailed(RuntimeError):
    """The driver under callgrind failed."""


def selected(items: Iterable[Item]) -> list[Item]:
    """The items ``--counts`` runs: sizes up to :data:`MAX_SIZE`."""
    return [item for item in items if item.size <= MAX_SIZE]


def valgrind() -> str:
    """The valgrind executable.

    Raises:
        CountsUnavailable: not installed, or not an x86-64 Linux machine.
    """
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise CountsUnavailable(
            f"instruction counts need valgrind on x86-64 Linux, not "
            f"{platform.system()} {platform.machine()}"
        )
    path = shutil.which("valgrind")
    if path is None:
        raise CountsUnavailable(
            "valgrind is not installed (or not on PATH); instruction counts run under "
            "valgrind's callgrind: install it (e.g. apt-get install valgrind) and retry"
        )
    return path


ADDR_NO_RANDOMIZE = 0x0040000  # linux/personality.h


def _fixed_addresses() -> None:
    """In the child before exec: turn off address-space randomisation, where allowed.

    CPython's caches index some entries by object address (the type attribute
    cache uses the address of the name), so where libraries and the heap land
    can change which entries collide, and with it the count. Container
    sandboxes may refuse the call; counts then usually, not always, repeat.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.personality(ADDR_NO_RANDOMIZE)
    except (OSError, AttributeError):
        pass


def valgrind_version(path: str) -> str:
    result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def run(
    items: Sequence[Item], *, progress: Callable[[int, int, Item], None] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Count every item in one callgrind run: (rows, machine info).

    Raises:
        CountsUnavailable: valgrind is missing or the platform unsupported.
        CountsFailed: the driver failed.
    """
    executable = valgrind()
    spec = [
        [item.operation.family, item.operation.name, item.size, item.contender.name]
        for item in items
    ]
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory(prefix="wsfast-counts-") as tmp:
        spec_path = os.path.join(tmp, "spec.json")
        result_path = os.path.join(tmp, "result.json")
        out = os.path.join(tmp, "callgrind.out")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump({"items": spec, "out": out, "result": result_path}, f)
        command = [
            executable, "--tool=callgrind", "--instr-atstart=no", "--quiet",
            f"--callgrind-out-file={out}",
            sys.executable, "-c",
            # The driver imports the same wsfast as this process.
            f"import sys; sys.path[0] = {package_root!r}; "
            "from wsfast._bench.counts import driver; sys.exit(driver(sys.argv[1]))",
            spec_path,
        ]  # fmt: skip
        env = dict(os.environ, **ENV)
        # stderr to a file: a pipe that nobody reads while stdout is read could fill up.
        with open(os.path.join(tmp, "stderr"), "w+", encoding="utf-8") as errors:
            with subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                preexec_fn=_fixed_addresses,
            ) as process:
                assert process.stdout is not None
                for line in process.stdout:
                    if line.startswith(PROGRESS) and progress is not None and items:
                        done = int(line.split()[1])
                        progress(done, len(items), items[min(done, len(items) - 1)])
            errors.seek(0)
            messages = errors.read()
        if process.returncode != 0 or not os.path.exists(result_path):
            tail = "\n".join(messages.strip().splitlines()[-15:])
            raise CountsFailed(
                f"the callgrind run failed (exit status {process.returncode}):\n{tail}"
            )
        with open(result_path, encoding="utf-8") as f:
            result = json.load(f)
    info = result["machine"]
    info["valgrind"] = valgrind_version(executable)
    return result["rows"], info


# --- the driver (runs under callgrind) ----------------------------------------------

# x86-64 System V: size_t request(size_t *args). valgrind.h's client request:
# %rax points at {request, arg1..arg5}, the result comes back in %rdx (0 when
# not running under valgrind; the four rotations of %rdi add up to 128 bits
# and leave it unchanged).
_REQUEST_CODE = bytes.fromhex(
    "4889f8"  # mov %rdi, %rax
    "31d2"  # xor %edx, %edx
    "48c1c703" "48c1c70d" "48c1c73d" "48c1c733"  # rol $3, $13, $61, $51, %rdi
    "4887db"  # xchg %rbx, %rbx: the request
    "4889d0"  # mov %rdx, %rax
    "c3"  # ret
)  # fmt: skip
_RUNNING_ON_VALGRIND = 0x1001
_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)  # VG_USERREQ_TOOL_BASE('C', 'T')
_DUMP_STATS = _CALLGRIND + 0
_START_INSTRUMENTATION = _CALLGRIND + 4
_STOP_INSTRUMENTATION = _CALLGRIND + 5


class _Callgrind:
    """Client requests to the callgrind running this process, and its dump files."""

    def __init__(self, out: str) -> None:
        self._page = mmap.mmap(
            -1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        )
        self._page.write(_REQUEST_CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)(address)
        self._args = (ctypes.c_size_t * 6)()
        self._args_address = ctypes.addressof(self._args)
        self._out = out
        self.dumps = 0
        if not self.request(_RUNNING_ON_VALGRIND):
            raise RuntimeError("the counts driver must run under valgrind --tool=callgrind")

    def request(self, code: int) -> int:
        self._args[0] = code
        return int(self._call(self._args_address))

    def start(self) -> None:
        self.request(_START_INSTRUMENTATION)

    def stop(self) -> None:
        self.request(_STOP_INSTRUMENTATION)

    def instructions(self, dump: int) -> int:
        """The instructions counted in dump number ``dump`` (1 is the first); removes the file."""
        path = f"{self._out}.{dump}"
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("summary:"):
                    os.remove(path)
                    return int(line.split()[1])
        raise RuntimeError(f"no summary line in {path}")


def _loop(func: Callable[..., Any], args: tuple[Any, ...], number: int) -> None:
    for _ in itertools.repeat(None, number):
        func(*args)


def _segments(
    callgrind: _Callgrind, call: Call, numbers: tuple[int, ...], request: int
) -> None:
    """For each number: a loop of that many calls, then ``request`` (a dump, or a no-op).

    Nothing else happens between two requests, so two segments differ only
    by their loops. The same code runs uninstrumented (a no-op request) first,
    to warm it up.
    """
    func, args = call.func, call.args
    for number in numbers:
        _loop(func, args, number)
        callgrind.request(request)


def _count(callgrind: _Callgrind, call: Call, number: int, repeats: int) -> int:
    """min(loop of ``number``) - min(loop of 0), instrumented."""
    numbers = (0,) * repeats + (number,) * repeats
    _segments(callgrind, call, numbers, _RUNNING_ON_VALGRIND)  # warms this very code
    callgrind.start()
    callgrind.request(_DUMP_STATS)  # ends the segment that holds the switch itself
    _segments(callgrind, call, numbers, _DUMP_STATS)
    callgrind.stop()
    first = callgrind.dumps + 2
    callgrind.dumps += 1 + len(numbers)
    totals = [callgrind.instructions(first + i) for i in range(len(numbers))]
    callgrind.instructions(first - 1)
    return min(totals[repeats:]) - min(totals[:repeats])


def _measure(callgrind: _Callgrind, call: Call) -> int:
    """Instructions per call of ``call`` (see the module docstring)."""
    _loop(call.func, call.args, 1)
    estimate = max(_count(callgrind, call, 1, 1), 1)
    _loop(call.func, call.args, max(MIN_WARMUP, min(MAX_WARMUP, WARMUP_BUDGET // estimate)))
    number = max(1, min(MAX_CALLS, LOOP_BUDGET // estimate))
    return round(_count(callgrind, call, number, REPEATS) / number)


@contextlib.contextmanager
def _seeded_urandom(seed: str) -> Iterator[None]:
    """``os.urandom`` from a generator seeded with ``seed``: the same inputs in every run.

    Only while inputs are built; the calls being counted see the real one.
    """
    real = os.urandom
    os.urandom = random.Random(seed).randbytes
    try:
        yield
    finally:
        os.urandom = real


def driver_machine() -> dict[str, Any]:
    """``report.machine()`` as seen by the driver, plus the fingerprint's fields."""
    from .report import machine

    info = machine()
    info.pop("load", None)  # the load does not change counts
    info["arch"] = platform.machine()
    info["python_version"] = sys.version
    try:
        import wsfast

        features = wsfast.features()
        info["backend"] = features.get("backend")
        info["kernels"] = {k: features.get(k) for k in ("mask", "utf8", "zlib")}
    except Exception as exc:  # noqa: BLE001 - reported, and --compare will refuse
        info["backend"] = f"unavailable ({type(exc).__name__})"
    info["counted_with"] = "callgrind: instructions per call"
    return info


def driver(spec_path: str) -> int:
    """Count the items of ``spec_path``; the process must run under callgrind."""
    from . import operations
    from .timer import frozen_gc, prepare

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    callgrind = _Callgrind(spec["out"])
    # Only the families counted: importing others would only add work (and
    # heap history) that has nothing to do with these rows.
    families = list(dict.fromkeys(family for family, *_ in spec["items"]))
    by_name = {op.name: op for op in operations(families)}
    rows = []
    for done, (_, name, size, contender_name) in enumerate(spec["items"]):
        print(PROGRESS, done, flush=True)
        operation = by_name[name]
        contender = next(c for c in operation.contenders if c.name == contender_name)
        with _seeded_urandom(f"{name}-{size}"):
            operation.case(size)  # built once per size, then shared by the contenders
        row, call = prepare(Item(operation, size, contender))
        row["instructions"] = None
        if call is not None:
            with frozen_gc():
                row["instructions"] = _measure(callgrind, call)
        rows.append(row)
    print(PROGRESS, len(spec["items"]), flush=True)
    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "machine": driver_machine()}, f)
    return 0


# --- report -------------------------------------------------------------------------


def format_count(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def format_tables(rows: Sequence[dict[str, Any]], info: dict[str, Any] | None = None) -> str:
    """One table per (operation, size): instructions per call, fewest first."""
    from .report import groups, machine_line, primary_row, ratio, versions

    out: list[str] = []
    for group in groups(rows).values():
        reference = primary_row(group)
        ref_name = reference["contender"] if reference else "wsfast"
        counted = sorted(
            (r for r in group if r["status"] == "ok" and r.get("instructions") is not None),
            key=lambda r: r["instructions"],
        )
        first = group[0]
        out += [
            f"### {first['operation']} {format_size(first['size'])}",
            "",
            f"| library | version | instructions per call | per byte | x vs {ref_name} |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for row in counted:
            name = f"**{row['contender']}**" if row.get("kind") == "wsfast" else row["contender"]
            if row.get("kind") == "baseline":
                name += " *(baseline)*"
            r = ratio(row, reference)
            per_byte = format_count(row["instructions"] / row["nbytes"]) if row["nbytes"] else ""
            out.append(
                f"| {name} | {row.get('version') or ''} | {row['instructions']:,} | "
                f"{per_byte} | {'' if r is None else f'{r:.2f}'} |"
            )
        for row in group:
            if row not in counted:
                label = "INCORRECT" if row["status"] == "incorrect" else row["status"]
                out.append(
                    f"| {row['contender']} | {row.get('version') or ''} | "
                    f"{label}: {row.get('reason')} | | |"
                )
        out.append("")
    out.append(
        "Instructions per call, counted under callgrind: two runs of one install give the "
        "same counts, whatever else the machine is doing (x vs wsfast: the contender's "
        "count divided by wsfast's)."
    )
    vs = versions(rows)
    if vs:
        out.append(
            "Versions: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in sorted(vs.items()))
        )
    if info:
        out.append("Machine: " + machine_line(info))
        if info.get("valgrind"):
            out.append(f"Counted with {info['valgrind']}")
    return "\n".join(out) + "\n"
