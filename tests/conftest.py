"""Runs every test that takes ``backend`` against each backend and kernel.

The Python backend always runs. The compiled backend runs once per kernel
level this CPU supports (ids ``c-scalar``, ``c-sse2``, ...), unless
``--no-c-extensions`` is given; when it is expected and will not import, the
C cases error instead of skipping.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterator

import pytest

from wsfast._backend import MODULES
from wsfast._env import env_flag


@dataclass(frozen=True)
class Backend:
    name: str  # "python" | "c"
    kernel: str | None = None  # for "c": the kernel level, e.g. "avx2"

    @property
    def id(self) -> str:
        return "py" if self.name == "python" else f"c-{self.kernel}"


class BackendAPI:
    """The primitives and codec classes of one backend, as attributes."""

    def __init__(self, backend: Backend, modules: list[ModuleType]) -> None:
        self.backend = backend
        self.name = backend.name
        self.kernel = backend.kernel
        self._modules = modules

    def __getattr__(self, attr: str) -> Any:
        for module in self._modules:
            try:
                return getattr(module, attr)
            except AttributeError:
                continue
        raise AttributeError(f"backend {self.backend.id} has no {attr!r}")

    def __repr__(self) -> str:
        return f"<backend {self.backend.id}>"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--c-extensions",
        action=argparse.BooleanOptionalAction,
        default=not env_flag("WSFAST_NO_EXTENSIONS"),
        help="also run every backend test against the compiled extension "
        "(default: on unless WSFAST_NO_EXTENSIONS is set)",
    )


def c_expected(config: pytest.Config) -> bool:
    return bool(config.getoption("--c-extensions"))


def c_kernels() -> list[str]:
    """Kernel levels of the compiled backend, or a marker that it failed to import."""
    try:
        c = load_backend(Backend("c"))[0]
    except ImportError:
        return ["unavailable"]
    return list(c._kernels())


def backend_params(config: pytest.Config) -> list[Any]:
    params = [pytest.param(Backend("python"), id="py")]
    if c_expected(config):
        params += [
            pytest.param(Backend("c", kernel), id=f"c-{kernel}", marks=pytest.mark.c_extension)
            for kernel in c_kernels()
        ]
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backend_params(metafunc.config), indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --no-c-extensions, deselect (never skip) what needs the extension."""
    if c_expected(config):
        return
    kept = [item for item in items if item.get_closest_marker("c_extension") is None]
    deselected = [item for item in items if item.get_closest_marker("c_extension") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say what the default marker selection left out (pytest-xdist does not count it)."""
    if "not browser" in (config.option.markexpr or ""):
        terminalreporter.write_line(
            "deselected by default: tests marked 'browser' (need Chromium); "
            "run them with: python -P -m pytest -m browser"
        )


def load_backend(backend: Backend) -> list[ModuleType]:
    """The backend's modules, primitives first (the fixture selects kernels on it)."""
    return [importlib.import_module(name) for name in MODULES[backend.name]]


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[BackendAPI]:
    """The backend under test; for C, with its kernel level selected."""
    spec: Backend = request.param
    if spec.name == "python":
        yield BackendAPI(spec, load_backend(spec))
        return
    # No skip: a C case exists only because the extension is expected.
    modules = load_backend(spec)
    c = modules[0]
    previous = c._current_kernel()
    c._set_kernel(spec.kernel)
    try:
        yield BackendAPI(spec, modules)
    finally:
        c._set_kernel(previous)


@pytest.fixture(scope="session")
def py_backend() -> BackendAPI:
    """The pure-Python reference, for differential tests."""
    spec = Backend("python")
    return BackendAPI(spec, load_backend(spec))


@pytest.fixture
def no_integrations_installed() -> Iterator[None]:
    """Every library unpatched before and after the test (integration tests)."""
    from wsfast import integrations

    integrations.uninstall()
    yield
    integrations.uninstall()
