"""Mutation check: every source mutant in tests/mutation/mutants.py must be killed.

For each mutant, a private copy of the source tree gets the one-snippet
change, and the mutant's tests run in it with ``-x`` (stop at the first
failure). Killed: pytest reports failing tests (exit status 1). Survived:
the tests pass. Anything else (the snippet no longer matches, the mutant
does not import, a build or collection error) is an error of the list.
Before any mutant, the selections run unmutated and must pass, so that a kill
is the mutant's doing.

Python mutants run against the pure-Python backend; C mutants (csrc/) are
rebuilt in the copy (``setup.py build_ext --inplace``) and run against the
compiled backend, every kernel.

Usage:  python tests/mutation/run.py [--jobs N] [--only m01,m07] [--list]
Exits 1 if any mutant survives or errs; prints the kill rate and the time taken.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from mutants import MUTANTS, Mutant  # noqa: E402

TIMEOUT = 600
# What a copy of the tree needs: the package (with any built extension), the
# C sources, build script and build/ directory for C mutants (so a rebuild
# starts from the objects already there), the tests and the pytest settings.
TREE = ("wsfast", "csrc", "tests", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md",
        "build")


def copy_tree(target: Path) -> None:
    for name in TREE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", "mutation"))
        elif source.exists():
            shutil.copy2(source, target / name)


def extensions(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "wsfast").iterdir()
                  if p.suffix in (".so", ".pyd") and p.is_file())


def pytest_command(mutant_tests: tuple[str, ...], backend: str) -> list[str]:
    command = [sys.executable, "-P", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-o", "addopts=--strict-markers", "--no-header",
               "--hypothesis-seed=0"]
    command.append("--no-c-extensions" if backend == "python" else "--c-extensions")
    return command + list(mutant_tests)


def environment(tree: Path, backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("WSFAST_FORCE_KERNEL", None)
    env["WSFAST_NO_EXTENSIONS"] = "1" if backend == "python" else "0"
    return env


def run_tests(tree: Path, tests: tuple[str, ...], backend: str) -> tuple[int, str]:
    try:
        result = subprocess.run(pytest_command(tests, backend), cwd=tree,
                                env=environment(tree, backend), capture_output=True, text=True,
                                timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT} s"
    lines = (result.stdout + result.stderr).strip().splitlines()
    first = next((line for line in lines if line.startswith(("FAILED", "ERROR"))), "")
    return result.returncode, first or (lines[-1] if lines else "")


def build(tree: Path) -> tuple[bool, str]:
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                            cwd=tree, env=environment(tree, "c"), capture_output=True, text=True,
                            timeout=TIMEOUT)
    return result.returncode == 0, (result.stdout + result.stderr)[-2000:]


def run_mutant(mutant: Mutant, tree: Path) -> tuple[str, str, float]:
    """(killed | survived | error, detail, seconds) for one mutant, in ``tree``."""
    start = time.monotonic()
    path = tree / mutant.file
    original = path.read_text()
    count = original.count(mutant.original)
    if count != 1:
        return "error", f"snippet found {count} times in {mutant.file}", 0.0
    saved = {p: p.read_bytes() for p in extensions(tree)} if mutant.backend == "c" else {}
    path.write_text(original.replace(mutant.original, mutant.replacement))
    try:
        if mutant.backend == "c":
            # The kernels are a static library that build_ext does not list as
            # a dependency: without its module (in place and in build/), _c is
            # linked again.
            for so in [*saved, *tree.glob("build/lib*/wsfast/_c.*")]:
                if so.name.startswith("_c."):
                    so.unlink()
            ok, log = build(tree)
            if not ok:
                return "error", "build failed: " + log.splitlines()[-1], time.monotonic() - start
        status, detail = run_tests(tree, mutant.tests, mutant.backend)
    finally:
        path.write_text(original)
        for so, data in saved.items():
            so.write_bytes(data)  # the unmutated build, without a rebuild
    seconds = time.monotonic() - start
    if status == 1:
        return "killed", detail, seconds
    if status == 0:
        return "survived", "its tests pass", seconds
    return "error", f"pytest exit status {status}: {detail}", seconds


def baseline(trees: list[Path], selected: list[Mutant]) -> list[str]:
    """Each distinct (tests, backend) selection must pass on the unmutated tree.

    The Python selections that are whole files run as one pytest session
    (their tests are collected once)."""
    selections = {(m.tests, m.backend) for m in selected}
    files = tuple(sorted({t for tests, backend in selections if backend == "python"
                          and all(t.endswith(".py") for t in tests) for t in tests}))
    selections = {(tests, backend) for tests, backend in selections
                  if not (backend == "python" and set(tests) <= set(files))}
    if files:
        selections.add((files, "python"))
    problems = []
    with concurrent.futures.ThreadPoolExecutor(len(trees)) as pool:
        futures = {
            pool.submit(run_tests, trees[i % len(trees)], tests, backend): (tests, backend)
            for i, (tests, backend) in enumerate(sorted(selections))
        }
        for future in concurrent.futures.as_completed(futures):
            status, detail = future.result()
            if status != 0:
                tests, backend = futures[future]
                problems.append(f"unmutated {backend} {' '.join(tests)}: status {status}: {detail}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--only", help="comma-separated mutant ids, e.g. m01,m07")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    selected = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        selected = [m for m in MUTANTS if m.id in wanted]
    if args.list:
        for m in selected:
            print(f"{m.id} [{m.backend}] {m.file}: {m.description}")
        return 0
    if any(m.backend == "c" for m in selected) and not extensions(ROOT):
        print("C mutants need the extension built in place first "
              "(python setup.py build_ext --inplace)")
        return 1
    start = time.monotonic()
    jobs = max(1, args.jobs)
    with tempfile.TemporaryDirectory(prefix="wsfast-mutation-") as scratch:
        trees = [Path(scratch) / f"tree{i}" for i in range(jobs)]
        for tree in trees:
            tree.mkdir()
            copy_tree(tree)
        problems = baseline(trees, selected)
        if problems:
            print("\n".join(problems))
            print("the unmutated tree fails its selections: no mutant was run")
            return 1
        print(f"baseline: {len(selected)} mutants' selections pass unmutated "
              f"({time.monotonic() - start:.0f} s)", flush=True)
        # C mutants first: their rebuilds are the long poles.
        order = sorted(selected, key=lambda m: m.backend != "c")
        free = list(trees)
        results: dict[str, tuple[str, str, float]] = {}
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            pending: dict[concurrent.futures.Future[tuple[str, str, float]],
                          tuple[Mutant, Path]] = {}
            queue = list(order)
            while queue or pending:
                while queue and free:
                    mutant, tree = queue.pop(0), free.pop()
                    pending[pool.submit(run_mutant, mutant, tree)] = (mutant, tree)
                done, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    mutant, tree = pending.pop(future)
                    free.append(tree)
                    outcome, detail, seconds = results[mutant.id] = future.result()
                    print(f"{mutant.id} {outcome:8} {seconds:5.1f} s  {mutant.file}: "
                          f"{mutant.description}  [{detail[:100]}]", flush=True)
    killed = sum(1 for outcome, _, _ in results.values() if outcome == "killed")
    survived = [m for m in selected if results[m.id][0] == "survived"]
    errors = [m for m in selected if results[m.id][0] == "error"]
    print(f"\nmutation: {killed}/{len(selected)} killed ({100 * killed / len(selected):.0f}%), "
          f"{len(survived)} survived, {len(errors)} errors, {time.monotonic() - start:.0f} s")
    for m in survived:
        print(f"SURVIVED {m.id} {m.file}: {m.description}")
    for m in errors:
        print(f"ERROR {m.id} {m.file}: {m.description}: {results[m.id][1]}")
    return 1 if survived or errors else 0


if __name__ == "__main__":
    sys.exit(main())
