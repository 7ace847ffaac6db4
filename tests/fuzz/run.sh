#!/usr/bin/env bash
# Build wsfast with libFuzzer coverage into a virtualenv and fuzz it (issue 8).
#
#   tests/fuzz/run.sh VENV [SECONDS] [libFuzzer flags...]
#
# VENV is created when missing. SECONDS (default 60) is libFuzzer's
# -max_total_time. The extension is compiled by clang with
# -fsanitize=fuzzer-no-link, so libFuzzer is guided by the C code's edges as
# well as by wsfast's Python code (atheris instruments its bytecode).
#
# Environment:
#   FUZZ_SOURCE    the wsfast tree to build (default: this checkout); it is
#                  copied first, so no build/ directory of an earlier build
#                  can leak uninstrumented objects into this one
#   FUZZ_WORKDIR   working corpus, crash files and the log (default VENV/fuzz)
#   FUZZ_SANITIZE  1: also ASan+UBSan. Builds atheris from source (slow: it
#                  links libFuzzer into the sanitizer runtime, which is then
#                  LD_PRELOADed), for long runs rather than CI
#   FUZZ_CC        the compiler (default clang). Without clang, FUZZ_CC=gcc
#                  builds an uninstrumented extension: the fuzzer then runs
#                  with Python coverage only, and says so
#
# Exit status: 0 when the time ran out with no finding, libFuzzer's otherwise
# (a crash-* file in FUZZ_WORKDIR/artifacts then holds the input; copy it to
# tests/fuzz/regressions/ for the test suite).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${1:?usage: run.sh VENV [SECONDS] [libFuzzer flags...]}
SECONDS_TO_RUN=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
SOURCE=${FUZZ_SOURCE:-$(cd "$HERE/../.." && pwd)}
CC_NAME=${FUZZ_CC:-clang}
SANITIZE=${FUZZ_SANITIZE:-0}

if [ ! -f "$SOURCE/setup.py" ] || [ ! -d "$SOURCE/wsfast" ]; then
    echo "run.sh: $SOURCE is not a wsfast tree (set FUZZ_SOURCE)" >&2
    exit 2
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VENV=$(cd "$VENV" && pwd)
WORKDIR=${FUZZ_WORKDIR:-$VENV/fuzz}
PY="$VENV/bin/python"
mkdir -p "$WORKDIR/corpus" "$WORKDIR/artifacts"

if ! command -v "$CC_NAME" >/dev/null; then
    echo "run.sh: $CC_NAME not found (apt-get install clang, or FUZZ_CC=gcc for Python coverage only)" >&2
    exit 2
fi

echo "--- tools"
# Upgraded: a venv's bundled setuptools may be older than [build-system] needs.
"$PY" -m pip install -q --upgrade cython setuptools wheel pytest
# Pinned: fuzz_codec.py loads atheris.core_with_libfuzzer itself (see there).
ATHERIS=atheris==3.0.0
if [ "$SANITIZE" = 1 ]; then
    # Only a source build makes asan_with_fuzzer.so (needs clang's libFuzzer).
    CLANG_BIN=$(command -v clang) "$PY" -m pip install -q --no-binary atheris "$ATHERIS"
else
    # The wheel (libFuzzer inside); never a slow source build in CI.
    "$PY" -m pip install -q --only-binary atheris "$ATHERIS"
fi
"$CC_NAME" --version | head -1

echo "--- build (CC=$CC_NAME, sanitize=$SANITIZE)"
BUILD_SRC="$WORKDIR/src"
rm -rf "$BUILD_SRC"
mkdir -p "$BUILD_SRC"
(cd "$SOURCE" && tar -cf - --exclude=./build --exclude='*.so' --exclude=./.git \
    --exclude=./wsfast/_c.c --exclude=./wsfast/_codec_c.c .) | tar -x -C "$BUILD_SRC"
CFLAGS_FUZZ=""
if [ "$CC_NAME" != gcc ]; then
    CFLAGS_FUZZ="-fsanitize=fuzzer-no-link"
    [ "$SANITIZE" = 1 ] && CFLAGS_FUZZ="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer"
fi
CC="$CC_NAME" CFLAGS="$CFLAGS_FUZZ" WSFAST_REQUIRE_EXTENSIONS=1 \
    "$PY" -m pip install -q --no-build-isolation --no-deps --no-cache-dir --force-reinstall "$BUILD_SRC"

echo "--- fuzz for ${SECONDS_TO_RUN}s"
RUN_ENV=(WSFAST_REQUIRE_EXTENSIONS=1)
if [ "$SANITIZE" = 1 ]; then
    PRELOAD="$("$PY" -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
    RUN_ENV+=(LD_PRELOAD="$PRELOAD" PYTHONMALLOC=malloc
              ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
fi
LOG="$WORKDIR/fuzz.log"
status=0
# The working corpus comes first: libFuzzer adds what it finds there, never
# to the committed seeds. -P: the checkout's wsfast/ must not shadow the build.
(cd "$WORKDIR" && env "${RUN_ENV[@]}" "$PY" -P "$HERE/fuzz_codec.py" \
    -max_total_time="$SECONDS_TO_RUN" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -dict="$HERE/wsfast.dict" -artifact_prefix="$WORKDIR/artifacts/" "$@" \
    "$WORKDIR/corpus" "$HERE/corpus") \
    > "$LOG" 2>&1 || status=$?

grep -E "^INFO: (Loaded|wsfast fuzz)|WARNING: .*not instrumented" "$LOG" || true
grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs|^stat::number_of_executed_units|^stat::peak_rss_mb" "$LOG" || true
if [ "$status" -ne 0 ]; then
    echo "run.sh: the fuzzer failed (exit $status); the end of $LOG:" >&2
    tail -n 80 "$LOG" >&2
    ls -l "$WORKDIR/artifacts" >&2 || true
fi
exit "$status"
