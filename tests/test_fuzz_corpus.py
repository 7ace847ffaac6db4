"""Replays the fuzz corpus and the fuzzer's crash inputs on every backend (issue 8).

Each file under tests/fuzz/corpus/ (seeds, made by tests/fuzz/make_corpus.py)
and tests/fuzz/regressions/ (inputs that once failed, named for the bug) is a
whole scenario; tests/fuzz/differential.py runs it on the backend under test
and on the pure-Python reference and checks that they agree and that the API's
promises hold. So whatever the fuzzer found keeps running in the ordinary suite,
without atheris.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz import differential

FUZZ = Path(__file__).parent / "fuzz"
SEEDS = sorted((FUZZ / "corpus").glob("*.bin"))
REGRESSIONS = sorted((FUZZ / "regressions").glob("*.bin"))


def replay(backend, py_backend, path: Path) -> differential.Scenario:
    # The backend fixture has selected the kernel: the scenario's own choice
    # of kernel is for the fuzzer, which cannot enumerate them.
    return differential.check(path.read_bytes(), backend, py_backend)


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed(backend, py_backend, path):
    sc = replay(backend, py_backend, path)
    if sc.target in ("decoder", "frames"):
        # Seeds are valid streams: they decode without error, unless a chunk
        # was refused as a bad buffer (its bytes are then missing).
        steps = differential.run(py_backend, sc)
        refused = [s for s in steps if s[0] == "raised"]
        assert refused or not [s for s in steps if s[0] == "error"], steps


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(backend, py_backend, path):
    replay(backend, py_backend, path)


def test_corpus_stays_small():
    # libFuzzer mutates from every seed and the suite replays each on every backend.
    assert 10 <= len(SEEDS) < 100
    assert sum(p.stat().st_size for p in SEEDS + REGRESSIONS) < 200 * 1024


@pytest.mark.parametrize("seed", range(20))
def test_provider_round_trip(seed):
    # make_corpus.py writes scenarios with write_scenario; read_scenario
    # (through the atheris-compatible Provider) must read the same back.
    import random

    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(0, 200))
    sc = differential.read_scenario(differential.Provider(data))
    again = differential.read_scenario(differential.Provider(differential.write_scenario(sc)))
    assert again == sc
