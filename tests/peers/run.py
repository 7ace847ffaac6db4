"""Run other libraries' own test suites with wsfast installed into them.

For each library, its test modules that cover the code wsfast patches run
twice under pytest, in a subprocess each: as shipped (the baseline) and with
``wsfast.integrations.install(name)`` done by the ``wsfast_peer`` plugin before
any test module is imported. The run fails when the patched run has fewer
passes than the baseline, or a failure the baseline does not have, or passed
no test at all (everything skipped or errored), or when pytest's exit status
says the run itself broke (interrupted, internal error, usage error, nothing
collected; the plugin reports an undone patch as an internal error), or says
tests failed where the report shows none. (Comparing with the baseline keeps a failure that has nothing to
do with wsfast, e.g. a test that needs a network, from being blamed on it.)

Sources of the tests:
- wsproto, aiohttp: the sdist of the installed version
  (``pip download --no-binary :all: --no-deps NAME==VERSION``).
- websockets: its sdists since 17.0 ship no tests, and the 16.0 sdist ships
  the test modules without their helpers; so the 16.0 modules for frames,
  protocol, streams and utils run against websockets 16.0 (installed into a
  virtualenv layered over this one), with two small stand-ins for the missing
  helpers (``websockets_support/``).
- tornado, autobahn: the test modules inside the installed package.

Usage:  python tests/peers/run.py [NAME ...] [--cache DIR]
Prints one "peer suite" line per library and a closing "N passed, N failed" line.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The last websockets sdist that ships its test modules.
WEBSOCKETS_TESTS_VERSION = "16.0"


# Tests that fail with wsfast for a reason that is not a change of behaviour,
# each with that reason. The run still fails on any other new failure.
_NO_STRUCT = ("a fault injected into struct.unpack: wsfast's Frame.parse reads the header with "
              "its own parser, not struct.unpack")
EXPECTED_DIFFERENCES: dict[str, str] = {
    "tests.test_protocol.ErrorTests::test_client_hits_internal_error_reading_frame": _NO_STRUCT,
    "tests.test_protocol.ErrorTests::test_server_hits_internal_error_reading_frame": _NO_STRUCT,
}


@dataclasses.dataclass
class Suite:
    name: str
    # "sdist": tests from the sdist (of `sdist_version`, default: the
    # installed version); "installed": test modules inside the package.
    source: str
    targets: list[str]
    sdist_version: str | None = None
    # Run in a virtualenv layered over this one with these requirements
    # installed on top (a pinned version that matches the tests).
    pinned: str | None = None
    extra_args: list[str] = dataclasses.field(default_factory=list)
    # conftest.py for an "installed" suite: the set-up its own runner does.
    conftest: str = ""


SUITES = {
    "wsproto": Suite("wsproto", "sdist", ["tests"]),
    "websockets": Suite(
        "websockets", "sdist",
        ["tests/test_frames.py", "tests/test_protocol.py", "tests/test_streams.py",
         "tests/test_utils.py"],
        sdist_version=WEBSOCKETS_TESTS_VERSION,
        pinned=f"websockets=={WEBSOCKETS_TESTS_VERSION}",
        # unittest-based (IsolatedAsyncioTestCase): no pytest-asyncio, which
        # fails at start-up without its own configuration.
        extra_args=["-p", "no:asyncio"],
    ),
    "tornado": Suite("tornado", "installed",
                     ["tornado.test.websocket_test", "tornado.test.util_test"],
                     # As tornado.test.runtests does: the access log would trip
                     # the tests' assertNoLogs.
                     conftest="import logging\n"
                              "logging.getLogger('tornado.access').setLevel(logging.CRITICAL)\n"),
    "autobahn": Suite("autobahn", "installed",
                      ["autobahn.websocket.test.test_websocket_protocol",
                       "autobahn.websocket.test.test_websocket_frame",
                       "autobahn.websocket.test.test_websocket_max_message_size",
                       "autobahn.websocket.test.test_websocket_compress"],
                      # autobahn's tox picks a networking framework for txaio first.
                      conftest="import txaio\ntxaio.use_asyncio()\n"),
    "aiohttp": Suite(
        "aiohttp", "sdist",
        ["tests/test_websocket_writer.py", "tests/test_websocket_parser.py",
         "tests/test_websocket_handshake.py", "tests/test_websocket_data_queue.py",
         "tests/test_web_websocket.py", "tests/test_web_websocket_functional.py",
         "tests/test_client_ws_functional.py"],
        # aiohttp's pytest.ini wants xdist, coverage and timeouts (not needed
        # here), and its own event-loop plugin rather than pytest-asyncio.
        extra_args=["-o", "addopts=", "-W", "ignore::pytest.PytestConfigWarning",
                    "-p", "no:asyncio", "-m", "not dev_mode and not internal"],
    ),
}


def fetch_sdist(name: str, version: str, cache: Path) -> Path:
    """Download and unpack ``name==version``'s sdist; return its directory."""
    target = cache / f"{name}-{version}"
    if target.is_dir():
        return target
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
         "-d", str(download), f"{name}=={version}"],
        check=True,
    )
    (archive,) = [p for p in download.iterdir()
                  if p.name.lower().startswith(f"{name}-{version}".lower())]
    unpack = Path(tempfile.mkdtemp(dir=cache))
    with tarfile.open(archive) as tar:
        tar.extractall(unpack, filter="data")
    (unpacked,) = list(unpack.iterdir())
    unpacked.rename(target)
    unpack.rmdir()
    return target


def prepare(suite: Suite, cache: Path) -> tuple[Path, list[str]]:
    """The directory to run pytest in, and the pytest arguments that select the tests."""
    if suite.source == "installed":
        workdir = cache / f"{suite.name}-installed"
        workdir.mkdir(parents=True, exist_ok=True)
        # An empty config, so no project's settings (ours included) apply.
        (workdir / "pytest.ini").write_text("[pytest]\n")
        (workdir / "conftest.py").write_text(suite.conftest)
        return workdir, ["--pyargs", *suite.targets]
    version = suite.sdist_version or importlib.metadata.version(suite.name)
    workdir = fetch_sdist(suite.name, version, cache)
    if suite.name == "websockets":
        tests = workdir / "tests"
        (tests / "__init__.py").touch()
        shutil.copytree(HERE / "websockets_support", tests, dirs_exist_ok=True)
        # The sdist is run against the installed websockets, not its own source.
        shutil.rmtree(workdir / "src", ignore_errors=True)
    return workdir, list(suite.targets)


def interpreter(suite: Suite, cache: Path) -> str:
    """This Python, or for a pinned suite a virtualenv that sees this one's
    packages behind its own (so the pinned version wins)."""
    if suite.pinned is None:
        return sys.executable
    venv = cache / f"venv-{suite.pinned.replace('==', '-')}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        (purelib,) = {Path(p) for p in [sysconfig_path("purelib", venv)]}
        # A .pth line is appended to sys.path after the venv's own site-packages.
        (purelib / "wsfast-parent.pth").write_text(
            "\n".join(site.getsitepackages() + [site.getusersitepackages()]) + "\n")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", str(purelib), suite.pinned], check=True)
    return str(python)


def sysconfig_path(name: str, venv: Path) -> str:
    return sysconfig.get_path(name, vars={"base": str(venv), "platbase": str(venv)})


@dataclasses.dataclass
class Run:
    returncode: int
    outcomes: dict[str, str]  # test id -> passed, failed or skipped


def run_pytest(suite: Suite, python: str, workdir: Path, selection: list[str], patched: bool,
               report: Path) -> Run:
    """Run the suite; its exit status and each test's outcome."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.pop("WSFAST_PEER_INSTALL", None)
    if patched:
        env["WSFAST_PEER_INSTALL"] = suite.name
    report.unlink(missing_ok=True)  # never read an earlier run's report
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "wsfast_peer", f"--junitxml={report}", "--rootdir", str(workdir),
               *suite.extra_args, *selection]
    returncode = subprocess.run(command, cwd=workdir, env=env, check=False,
                                stdout=sys.stdout, stderr=sys.stderr, timeout=900).returncode
    if not report.exists():
        return Run(returncode, {})
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcomes[test_id] = "failed"
        elif "skipped" in kinds:
            outcomes[test_id] = "skipped"
        else:
            outcomes[test_id] = "passed"
    return Run(returncode, outcomes)


def run_problems(name: str, label: str, run: Run) -> list[str]:
    """What makes a run meaningless, whatever the other run did."""
    problems = []
    # pytest: 0 all passed, 1 some failed; anything else is a broken run.
    if run.returncode not in (0, 1):
        problems.append(f"{name}: pytest {label} exited with status {run.returncode}")
    elif run.returncode == 1 and not count(run.outcomes, "failed"):
        problems.append(f"{name}: pytest {label} reported failures its report does not show")
    elif run.returncode == 0 and count(run.outcomes, "failed"):
        problems.append(f"{name}: pytest {label} exited 0 with failures in its report")
    if not count(run.outcomes, "passed"):
        problems.append(f"{name}: no test passed {label} "
                        f"({len(run.outcomes)} ran, all skipped or failed)")
    return problems


def count(outcomes: dict[str, str], kind: str) -> int:
    return sum(1 for outcome in outcomes.values() if outcome == kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*SUITES, []], default=[],
                        help="libraries to run (default: all)")
    parser.add_argument("--cache", type=Path, help="where sdists are unpacked (default: a temp dir)")
    args = parser.parse_args(argv)
    names = args.names or list(SUITES)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="wsfast-peers-"))
    cache.mkdir(parents=True, exist_ok=True)
    summary = []
    problems = []
    for name in names:
        suite = SUITES[name]
        version = suite.pinned or f"{name}=={importlib.metadata.version(name)}"
        print(f"\n=== {version}: its own tests", flush=True)
        workdir, selection = prepare(suite, cache)
        python = interpreter(suite, cache)
        base_run = run_pytest(suite, python, workdir, selection, False, cache / f"{name}-base.xml")
        patched_run = run_pytest(suite, python, workdir, selection, True,
                                 cache / f"{name}-wsfast.xml")
        problems += run_problems(name, "as shipped", base_run)
        problems += run_problems(name, "with wsfast", patched_run)
        baseline, patched = base_run.outcomes, patched_run.outcomes
        new_failures = sorted(t for t, o in patched.items()
                              if o == "failed" and baseline.get(t) != "failed")
        line = (f"peer suite {version}: with wsfast {count(patched, 'passed')} passed, "
                f"{count(patched, 'failed')} failed, {count(patched, 'skipped')} skipped "
                f"(as shipped: {count(baseline, 'passed')} passed, "
                f"{count(baseline, 'failed')} failed, {count(baseline, 'skipped')} skipped)")
        summary.append(line)
        expected_misses = sum(1 for t in new_failures if t in EXPECTED_DIFFERENCES)
        if count(patched, "passed") + expected_misses < count(baseline, "passed"):
            problems.append(f"{name}: fewer passes with wsfast")
        for test in new_failures:
            if test in EXPECTED_DIFFERENCES:
                summary.append(f"  expected difference: {test}: {EXPECTED_DIFFERENCES[test]}")
            else:
                problems.append(f"{name}: fails only with wsfast: {test}")
    print("\n" + "\n".join(summary))
    for problem in problems:
        print("PROBLEM:", problem)
    suites_passed = len(names) - len({p.split(":")[0] for p in problems})
    print(f"{suites_passed} passed, {len(names) - suites_passed} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
