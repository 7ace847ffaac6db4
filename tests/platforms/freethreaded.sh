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
    in_sid bash -euc "
        rm -rf /build/cpython && mkdir -p /build/cpython && cd /build/cpython
        apt-get source -qq python3.14 >/dev/null 2>&1
        cd python3.14-*/
        nice -n 15 ./configure -q --disable-gil --prefix=$FT_PREFIX --with-ensurepip=install \
            --without-static-libpython > /build/cpython/configure.log 2>&1
        nice -n 15 make -s -j2 > /build/cpython/make.log 2>&1
        nice -n 15 make -s install > /build/cpython/install.log 2>&1
        rm -rf /build/cpython/python3.14-*/
    " || { tail -40 "$SID_ROOT"/build/cpython/*.log; return 1; }
}

ensure_sid
build_cpython_ft
