#!/usr/bin/env bash
# Free-threaded CPython 3.14t: builds it from Debian's python3.14 source
# package with --disable-gil inside the sid chroot (cached), installs wsfast
# there and checks that importing it keeps the GIL off; then runs the
# suite with PYTHON_GIL=0, the thread tests under stress, and the thread
# scaling benchmark.
#   tests/platforms/freethreaded.sh           the subset: mask, UTF-8, frame and thread tests
#   WSFAST_PLATFORM_FULL=1 ...                the whole suite
#   WSFAST_PLATFORM_BENCH=0 ...               no scaling benchmark
source "$(dirname "$0")/common.sh"
FULL=${WSFAST_PLATFORM_FULL:-0}
BENCH=${WSFAST_PLATFORM_BENCH:-1}
FT_PREFIX=/opt/python3.14t

build_cpython_ft() {
    if [ -x "$SID_ROOT$FT_PREFIX/bin/python3.14t" ]; then
        return
    fi
    log "CPython 3.14t from Debian's python3.14 source package (make -j2, niced)"
    # WSFAST_CPYTHON_SOURCE: a CPython 3.14 source tarball to use instead,
    # for a mirror that serves no source packages.
    local tarball=${WSFAST_CPYTHON_SOURCE:-}
    rm -rf "$SID_ROOT/build/cpython"
    mkdir -p "$SID_ROOT/build/cpython"
    if [ -n "$tarball" ]; then
        tar -xf "$tarball" -C "$SID_ROOT/build/cpython"
    elif ! in_sid bash -c "cd /build/cpython && apt-get source -qq python3.14" > "$PLATFORM_CACHE/ft-source.log" 2>&1; then
        grep -E '^E:' "$PLATFORM_CACHE/ft-source.log" >&2 || true
        echo "freethreaded.sh: Debian's python3.14 source package could not be fetched" \
             "(set WSFAST_CPYTHON_SOURCE to a CPython 3.14 source tarball)" >&2
        return 1
    fi
    in_sid bash -euc "
        cd /build/cpython/*/
        nice -n 15 ./configure -q --disable-gil --prefix=$FT_PREFIX --with-ensurepip=install \
            > /build/cpython/configure.log 2>&1
        nice -n 15 make -s -j2 > /build/cpython/make.log 2>&1
        nice -n 15 make -s install > /build/cpython/install.log 2>&1
    " || { tail -40 "$SID_ROOT"/build/cpython/*.log; return 1; }
    rm -rf "$SID_ROOT/build/cpython"
}

ensure_sid
build_cpython_ft
FT=$FT_PREFIX/bin/python3.14t
in_sid "$FT" -c "import sys; assert not sys._is_gil_enabled(); print(sys.version)"

SRC=/build/wsfast-src-ft
VENV=/opt/wsfast-venvs/3.14t
rm -rf "$SID_ROOT$SRC"
mkdir -p "$SID_ROOT$SRC"
git -C "$PLATFORM_ROOT" archive HEAD | tar -x -C "$SID_ROOT$SRC"
log "3.14t: pip install \".[test]\" (WSFAST_REQUIRE_EXTENSIONS=1)"
in_sid bash -euc "
    [ -x $VENV/bin/python ] || $FT -m venv $VENV
    cd $SRC
    WSFAST_REQUIRE_EXTENSIONS=1 nice -n 15 $VENV/bin/python -m pip install -q --force-reinstall --no-deps . \
        > /tmp/wsfast-build-ft.log 2>&1 \
        && nice -n 15 $VENV/bin/python -m pip install -q '.[test]' >> /tmp/wsfast-build-ft.log 2>&1 \
        || { tail -40 /tmp/wsfast-build-ft.log; exit 1; }
"

log "3.14t: import wsfast keeps the GIL off, with no RuntimeWarning"
in_sid bash -euc "
    cd /tmp
    $VENV/bin/python -P -W error::RuntimeWarning -c '
import sys
import wsfast, wsfast._c, wsfast._codec_c, wsfast.deflate, wsfast.integrations
assert wsfast.BACKEND == \"c\", wsfast.BACKEND
assert not sys._is_gil_enabled(), \"importing wsfast enabled the GIL\"
print(\"GIL still disabled after import\")
'
"

if [ "$FULL" = 1 ]; then
    TESTS="tests --ignore=tests/test_browser.py"
else
    TESTS="tests/test_mask.py tests/test_utf8.py tests/test_frames.py tests/test_threads.py"
fi
log "3.14t, PYTHON_GIL=0: $TESTS"
in_sid bash -euc "
    cd $SRC
    export PYTHON_GIL=0 WSFAST_REQUIRE_EXTENSIONS=1
    nice -n 15 $VENV/bin/python -P -m pytest -q -n 2 -p no:cacheprovider $TESTS
    # The thread tests under stress: repeated, both workers racing.
    for round in 1 2 3 4 5; do
        nice -n 15 $VENV/bin/python -P -m pytest -q -n 2 -p no:cacheprovider tests/test_threads.py
    done
"
if [ "$BENCH" = 1 ]; then
    log "3.14t: thread scaling at 64 KiB (needs >= 1.7x with 2 threads for mask and UTF-8)"
    in_sid bash -euc "
        cd /tmp
        PYTHON_GIL=0 $VENV/bin/python -P $SRC/tests/platforms/thread_scaling.py --threads 2 --min-ratio 1.7
    "
fi
log "freethreaded.sh passed"
