"""pytest plugin (-p missing_peers): deselects, naming each one and why, the
tests that need a peer library which could not be installed on this
interpreter (WSFAST_MISSING_PEERS: comma-separated requirement names, as
pyproject's test extra spells them; WSFAST_MISSING_REASON: why). Only the
tests listed for those peers below are dropped; any other failure stays a
failure."""

from __future__ import annotations

import os
import re

import pytest

# The tests that import each peer, or need every integration installed.
NEEDS: dict[str, set[str]] = {
    "autobahn": {
        "test_install_replaces_and_uninstall_restores[autobahn]",
        "test_install_is_idempotent[autobahn]",
        "test_install_all_and_uninstall_all",
        "test_autobahn_maskers",
        "test_autobahn_utf8_validator_matches_wsaccel",
    },
    "wsaccel": {
        "test_autobahn_utf8_validator_matches_wsaccel",
        "test_compat_wsaccel_matches_wsaccel",
    },
}

_REPORT = pytest.StashKey[list[str]]()


def _missing() -> list[str]:
    specs = os.environ.get("WSFAST_MISSING_PEERS", "").split(",")
    names = (re.split(r"[<>=!~\[; ]", spec.strip())[0] for spec in specs)
    return [name for name in names if name]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing()
    unknown = [name for name in missing if name not in NEEDS]
    if unknown:
        raise pytest.UsageError(f"missing_peers: no test list for {', '.join(unknown)}")
    wanted: dict[str, str] = {}
    for peer in missing:
        for test in NEEDS[peer]:
            wanted[test] = f"{wanted[test]} and {peer}" if test in wanted else peer
    dropped = [item for item in items if item.name in wanted]
    reason = os.environ.get("WSFAST_MISSING_REASON", "not installable on this interpreter")
    report = [f"deselected {item.nodeid}: needs {wanted[item.name]} ({reason})" for item in dropped]
    unmatched = sorted(set(wanted) - {item.name for item in dropped})
    report += [f"missing_peers: {name} was not collected (renamed?)" for name in unmatched]
    config.stash[_REPORT] = report
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.name not in wanted]


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker hands its lines to the controller, which prints them.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["missing_peers"] = session.config.stash.get(_REPORT, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    lines = getattr(node, "workeroutput", {}).get("missing_peers", [])
    config = node.config  # type: ignore[attr-defined]
    seen = config.stash.setdefault(_REPORT, [])
    seen += [line for line in lines if line not in seen]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("missing peers")
    for line in lines:
        terminalreporter.write_line(line)
