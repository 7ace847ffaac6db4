"""pytest plugin: install wsfast into a library before its own tests run.

Loaded by ``tests/peers/run.py`` as ``-p wsfast_peer`` with the library named
in ``WSFAST_PEER_INSTALL``. The patch goes on at configure time, before any
test module is imported, and the session fails if it is gone at the end (a
test that silently undid it would make the run meaningless).
"""

from __future__ import annotations

import os

import pytest

from wsfast import integrations

NAME = os.environ.get("WSFAST_PEER_INSTALL", "")


def pytest_configure(config: pytest.Config) -> None:
    if NAME:
        integrations.install(NAME)


def pytest_report_header(config: pytest.Config) -> str:
    import wsfast

    return (f"wsfast {wsfast.__version__} ({wsfast.BACKEND}) installed into: "
            f"{', '.join(integrations.installed()) or 'nothing'}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if NAME and NAME not in integrations.installed():
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        raise RuntimeError(f"wsfast.integrations: {NAME} was uninstalled during its tests")
