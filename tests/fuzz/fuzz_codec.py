"""Coverage-guided differential fuzzer of the codec (atheris + libFuzzer, issue 8).

Each input is a scenario (see differential.py) run on the compiled backend
and on the pure-Python one; any difference, or any broken promise of the
API, is a crash that libFuzzer saves as ``crash-<sha1>``. Copy such a file
into tests/fuzz/regressions/ and tests/test_fuzz_corpus.py replays it on
every backend.

Coverage comes from both sides: the compiled extension when it was built
with ``-fsanitize=fuzzer-no-link`` (tests/fuzz/run.sh does that), and the
Python code of wsfast through atheris' bytecode instrumentation.

    python tests/fuzz/fuzz_codec.py [libFuzzer flags] WORK_CORPUS tests/fuzz/corpus

Run it against an installed wsfast (run.sh installs one into a venv).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import random
import sys
import types

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))


def libfuzzer_preloaded() -> bool:
    """True when a sanitizer runtime with libFuzzer is LD_PRELOADed (asan_with_fuzzer.so)."""
    return hasattr(ctypes.CDLL(None), "LLVMFuzzerRunDriver")


def load_libfuzzer_globally() -> None:
    """Make libFuzzer's coverage callbacks visible to extensions loaded later.

    An extension built with -fsanitize=fuzzer-no-link calls
    __sanitizer_cov_* from its module constructor, so the symbols must be in
    the global namespace when it is loaded. Atheris' wheel carries libFuzzer
    inside atheris.core_with_libfuzzer, which it would load later and
    privately; loading it first with RTLD_GLOBAL shares that one copy.
    """
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_GLOBAL)
    try:
        import atheris.core_with_libfuzzer  # noqa: F401
    finally:
        sys.setdlopenflags(flags)


def main() -> None:
    preloaded = libfuzzer_preloaded()
    if not preloaded:
        load_libfuzzer_globally()
    # The differential check is the fuzz target; it is imported below.
    state: dict[str, object] = {}

    def test_one_input(data: bytes) -> None:
        state["check"](
            data,
            state["c"],
            state["py"],
            provider=atheris.FuzzedDataProvider,
            set_kernel=state["set_kernel"],
        )

    atheris.Setup(sys.argv, test_one_input, internal_libfuzzer=None if preloaded else True)

    # Instrument wsfast's Python code (the pure backend, deflate, the shared
    # helpers); the compiled modules carry their own instrumentation.
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    with atheris.instrument_imports(include=["wsfast", "differential"]):
        import differential
        import wsfast._c as c
        from wsfast._backend import MODULES  # the backend pairs, as the suite's fixture reads them

    with open(c.__file__, "rb") as so:
        instrumented = b"__sanitizer_cov" in so.read()
    if not instrumented:
        print(
            f"WARNING: {c.__file__} is not instrumented (build it with "
            "-fsanitize=fuzzer-no-link): C coverage is not guided",
            file=sys.stderr,
        )

    def namespace(name: str) -> object:
        # What the suite's backend fixture offers: the first module that has a name wins.
        merged: dict[str, object] = {}
        for module in reversed(MODULES[name]):
            merged.update(vars(importlib.import_module(module)))
        return types.SimpleNamespace(**merged)

    kernels = list(c._kernels())

    def set_kernel(index: int) -> None:
        c._set_kernel(kernels[index % len(kernels)])

    self_test(differential)
    state.update(
        check=differential.check, c=namespace("c"), py=namespace("python"), set_kernel=set_kernel
    )
    print(f"INFO: wsfast fuzz: C kernels {kernels}, instrumented {c.__file__}", file=sys.stderr)
    atheris.Fuzz()


def self_test(differential: object) -> None:
    """The pure-Python Provider must read every input as atheris' does, or the
    corpus would replay differently in the test suite."""
    rng = random.Random(8)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(0, 80))
        ours = differential.read_scenario(differential.Provider(data))  # type: ignore[attr-defined]
        theirs = differential.read_scenario(  # type: ignore[attr-defined]
            atheris.FuzzedDataProvider(data)
        )
        if ours != theirs:
            raise SystemExit(f"Provider differs from atheris' on {data!r}: {ours} != {theirs}")


if __name__ == "__main__":
    main()
