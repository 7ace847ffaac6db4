"""pytest plugin (-p best_kernel): keeps the Python backend's cases and the
compiled backend's cases on the best kernel of this CPU; deselects (never
skips) the compiled cases of the lower kernel levels, which the main CI run
covers."""

from __future__ import annotations

import importlib

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        best = importlib.import_module("wsfast._c")._kernels()[0]
    except ImportError:
        return  # the compiled cases then fail in the backend fixture, as they should

    def lower_kernel(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        return getattr(backend, "name", None) == "c" and backend.kernel != best

    dropped = [item for item in items if lower_kernel(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not lower_kernel(item)]
