"""Guards: the backend that runs is the one that was asked for."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

import wsfast
from wsfast._env import env_flag


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Import the same wsfast the tests import (installed, or an in-place build).
    package_parent = os.path.dirname(os.path.dirname(wsfast.__file__))
    environment = {**os.environ, "PYTHONPATH": package_parent, **env}
    return subprocess.run(
        [sys.executable, "-P", "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_backend_is_the_expected_one(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--c-extensions"):
        assert wsfast.BACKEND == "c"
        assert wsfast.features()["mask"] not in ("python",)
        assert wsfast.features()["kernels"][-1] == "scalar"
    else:
        assert wsfast.BACKEND == "python"
        assert wsfast.features()["mask"] == "python"


def test_features_keys() -> None:
    features = wsfast.features()
    assert {"backend", "mask", "utf8", "zlib"} <= features.keys()
    assert features["backend"] == wsfast.BACKEND
    assert features["zlib"] in ("zlib", "zlib-ng", "isal")


def test_no_extensions_switch_selects_python_even_when_compiled() -> None:
    result = run_python("import wsfast; print(wsfast.BACKEND, wsfast.features()['mask'])",
                        WSFAST_NO_EXTENSIONS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python", "python"]


@pytest.mark.c_extension
def test_extension_is_installed_and_default() -> None:
    assert importlib.util.find_spec("wsfast._c") is not None
    result = run_python("import wsfast; print(wsfast.BACKEND)", WSFAST_NO_EXTENSIONS="0")
    assert result.stdout.split() == ["c"], result.stderr


# Prepended to a child's code: a finder that refuses one module, as a build
# that left it out would.
REFUSE_MODULE = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == {name!r}:
            raise ImportError("no module " + name)
sys.meta_path.insert(0, Refuse())
"""
WHICH_MODULES = ("import wsfast, wsfast.frames;"
                 " print(wsfast.BACKEND, wsfast.mask.__module__, wsfast.frames.Frame.__module__)")


@pytest.mark.c_extension
@pytest.mark.parametrize("missing", ["wsfast._c", "wsfast._codec_c"])
def test_backend_falls_back_as_a_pair(missing: str) -> None:
    # Either compiled module missing: both Python modules run, never a mix.
    result = run_python(REFUSE_MODULE.format(name=missing) + WHICH_MODULES,
                        WSFAST_NO_EXTENSIONS="0", WSFAST_REQUIRE_EXTENSIONS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python", "wsfast._py", "wsfast._codec_py"]


@pytest.mark.c_extension
@pytest.mark.parametrize("missing", ["wsfast._c", "wsfast._codec_c"])
def test_required_extensions_do_not_fall_back(missing: str) -> None:
    result = run_python(REFUSE_MODULE.format(name=missing) + WHICH_MODULES,
                        WSFAST_NO_EXTENSIONS="0", WSFAST_REQUIRE_EXTENSIONS="1")
    assert result.returncode != 0
    assert f"ImportError: no module {missing}" in result.stderr


@pytest.mark.c_extension
def test_compiled_pair_by_default() -> None:
    result = run_python(WHICH_MODULES, WSFAST_NO_EXTENSIONS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["c", "wsfast._c", "wsfast._codec_c"]


@pytest.mark.c_extension
@pytest.mark.parametrize("level", ["scalar", "sse2", "avx2", "neon"])
def test_force_kernel(level: str) -> None:
    supported = wsfast.features()["kernels"]
    code = "import wsfast; f = wsfast.features(); print(f['mask'], f['utf8'])"
    result = run_python(code, WSFAST_FORCE_KERNEL=level)
    if level in supported:
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[0] == level
    else:
        # Pinning a kernel this CPU cannot run must fail loudly, not fall back.
        assert result.returncode != 0
        assert "WSFAST_FORCE_KERNEL" in result.stderr


@pytest.mark.c_extension
def test_force_unknown_kernel_fails_loudly() -> None:
    result = run_python("import wsfast", WSFAST_FORCE_KERNEL="avx9000")
    assert result.returncode != 0
    assert "unknown kernel 'avx9000'" in result.stderr


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_env_flag_true(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WSFAST_TEST_FLAG", value)
    assert env_flag("WSFAST_TEST_FLAG") is True


@pytest.mark.parametrize("value", ["", "0", "false", "No", "OFF"])
def test_env_flag_false(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WSFAST_TEST_FLAG", value)
    assert env_flag("WSFAST_TEST_FLAG") is False


def test_env_flag_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSFAST_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match="not a boolean"):
        env_flag("WSFAST_TEST_FLAG", strict=True)
    with pytest.warns(RuntimeWarning, match="treating it as false"):
        assert env_flag("WSFAST_TEST_FLAG") is False


def test_unset_env_flag_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WSFAST_TEST_FLAG", raising=False)
    assert env_flag("WSFAST_TEST_FLAG") is False
    monkeypatch.delenv("WSFAST_NO_EXTENSIONS", raising=False)
    assert env_flag("WSFAST_NO_EXTENSIONS") is False
    monkeypatch.setenv("WSFAST_NO_EXTENSIONS", "1")
    assert env_flag("WSFAST_NO_EXTENSIONS") is True


# ---- The compiled build has the kernels the CPU can run ---------------------------


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from the kernel (Linux), apart from wsfast's own detection."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


@pytest.mark.c_extension
def test_kernel_set_matches_the_cpu() -> None:
    # Loud when the SIMD kernels vanished from the build: every test would
    # still pass on "scalar" alone.
    import platform

    from wsfast import _c

    kernels = _c._kernels()
    assert kernels[-1] == "scalar"
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        flags = cpu_flags() or {"sse2"}  # sse2 is the x86-64 baseline
        expected = [name for name in ("avx2", "ssse3", "sse2") if name in flags]
        assert "sse2" in expected
        assert kernels == [*expected, "scalar"], (kernels, sorted(flags & {"avx2", "ssse3", "sse2"}))
    elif machine in ("aarch64", "arm64"):
        assert kernels == ["neon", "scalar"]
    # Unforced, the best level is the one selected, for both families.
    result = run_python("import wsfast; f = wsfast.features(); print(f['mask'], f['utf8'])",
                        WSFAST_NO_EXTENSIONS="0", WSFAST_FORCE_KERNEL="")
    assert result.returncode == 0, result.stderr
    mask_kernel, utf8_kernel = result.stdout.split()
    best = kernels[0]
    assert utf8_kernel == best
    assert mask_kernel == ("sse2" if best == "ssse3" else best)


@pytest.mark.c_extension
def test_compiled_codec_runs_the_compiled_primitives() -> None:
    # Every Python primitive raises: the compiled codec must not notice, as it
    # calls wsfast._c's C-level functions (wsfast/_codec_c.pxd), never _py's.
    code = """
import wsfast._py as py
def python_primitive(*args, **kwargs):
    raise AssertionError("a wsfast._py primitive was called")
for name in ("_frame_build", "_frame_header", "_frame_parse", "_frame_unmask", "_new_payload",
             "_utf8_feed", "_xor", "_Payload", "mask", "mask_inplace", "validate_utf8"):
    setattr(py, name, python_primitive)
import wsfast._codec_c as codec
wire = (codec.Encoder(role="client").text("h\\u00e9llo" * 100, fragment_size=50)
        + codec.Encoder(role="client").binary(b"x" * 70000) + codec.Encoder(role="client").close(1000, "bye"))
events = codec.Decoder(role="server").feed(wire)
assert [e.data for e in events[:2]] == ["h\\u00e9llo" * 100, b"x" * 70000], events
assert (events[2].code, events[2].reason) == (1000, "bye")
frames = codec.FrameDecoder(role="server").feed(codec.encode_frame(1, b"hi", mask=True))
assert [f.payload for f in frames] == [b"hi"]
print("ok")
"""
    result = run_python(code, WSFAST_NO_EXTENSIONS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]


# The hot path of the aiohttp integration: wsfast/_aiohttp_py.py, also
# compiled as wsfast._aiohttp_c (setup.py's COMPILED_SOURCES).
WHICH_AIOHTTP = "import wsfast.integrations.aiohttp as a; print(a.hot_path.__name__)"


@pytest.mark.c_extension
def test_aiohttp_hot_path_is_compiled_by_default() -> None:
    assert importlib.util.find_spec("wsfast._aiohttp_c") is not None
    result = run_python(WHICH_AIOHTTP, WSFAST_NO_EXTENSIONS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wsfast._aiohttp_c"]


def test_aiohttp_hot_path_is_python_without_extensions() -> None:
    result = run_python(WHICH_AIOHTTP, WSFAST_NO_EXTENSIONS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wsfast._aiohttp_py"]


@pytest.mark.c_extension
@pytest.mark.parametrize("require", ["0", "1"])
def test_aiohttp_hot_path_missing(require: str) -> None:
    # Not built: the Python source runs, unless extensions are required.
    result = run_python(REFUSE_MODULE.format(name="wsfast._aiohttp_c") + WHICH_AIOHTTP,
                        WSFAST_NO_EXTENSIONS="0", WSFAST_REQUIRE_EXTENSIONS=require)
    if require == "1":
        assert result.returncode != 0
        assert "ImportError: no module wsfast._aiohttp_c" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["wsfast._aiohttp_py"]


@pytest.mark.c_extension
def test_compiled_aiohttp_reader_runs_the_compiled_primitives() -> None:
    # As for the codec: wsfast._aiohttp_c calls wsfast._c at C level, never _py.
    code = """
import wsfast._py as py
def python_primitive(*args, **kwargs):
    raise AssertionError("a wsfast._py primitive was called")
for name in ("_frame_build", "_frame_header", "_frame_parse", "_frame_unmask", "_tuple3"):
    setattr(py, name, python_primitive)
import wsfast._aiohttp_c as hot

class Queue:
    _limit = 2**16
    _size = 0
    def __init__(self):
        self.got = []
    def feed_data(self, message, size):
        self.got.append((tuple(message), size))

class Models:
    WSMessage = WSMessageTextBytes = tuple
    class WSMsgType:
        TEXT, BINARY, PING, PONG = 1, 2, 9, 10

hot.bind(None, Models, None, None, 2**14)
queue = Queue()
reader = hot.WebSocketReader(queue, 2**20, False, True)
masked = bytes((0x82, 0x83)) + b"abcd" + bytes(b ^ k for b, k in zip(b"xyz", b"abc"))
assert reader.feed_data(masked) == (False, b"")
assert reader.feed_data(b"\\x81\\x02hi\\x8a\\x00") == (False, b"")
assert queue.got == [((2, b"xyz", ""), 3), ((1, "hi", ""), 2), ((10, b"", ""), 0)], queue.got

class Transport:
    def is_closing(self):
        return False
    def write(self, data):
        writes.append(bytes(data))

class Writer:
    use_mask = False
    transport = Transport()
    _output_size = 0

writes = []
hot.write_websocket_frame(Writer(), b"abc", 2, 0)
assert writes == [b"\\x82\\x03abc"], writes
print("ok")
"""
    result = run_python(code, WSFAST_NO_EXTENSIONS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]
