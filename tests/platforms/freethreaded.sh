#!/usr/bin/env bash
# Free-threaded CPython 3.14t (3.13t only when no 3.14 source can be had):
# builds it with --disable-gil inside the sid chroot (cached), installs
# wsfast there and checks that importing it keeps the GIL off; then runs
# the tests with PYTHON_GIL=0 and the thread tests under stress.
#   tests/platforms/freethreaded.sh           the subset: mask, UTF-8, frame, message and thread tests
#   WSFAST_PLATFORM_FULL=1 ...                the whole suite (peers that cannot be installed on
#                                             the interpreter: their tests deselected, each named)
#   WSFAST_PLATFORM_BENCH=1 ... [ARGS]        then bench/bench_scaling.py ARGS
#                                             (default: --threads 2 --min-ratio 1.7)
#   WSFAST_PLATFORM_BENCH=only ... [ARGS]     the import check and the benchmark, no tests
#   WSFAST_FT_PYTHON=3.13 ...                 3.13t without trying 3.14 first
#   WSFAST_CPYTHON_SOURCE=TARBALL ...         build from this CPython source tarball
#                                             (of WSFAST_FT_PYTHON's version, 3.14 by default)
source "$(dirname "$0")/common.sh"
FULL=${WSFAST_PLATFORM_FULL:-0}
BENCH=${WSFAST_PLATFORM_BENCH:-0}
BENCH_ARGS=("$@")
[ ${#BENCH_ARGS[@]} -gt 0 ] || BENCH_ARGS=(--threads 2 --min-ratio 1.7)
# Pinned CPython sources, each the orig tarball of a Debian-format source
# package (CPython's own release tarball), checked against its SHA-256:
#   3.14: Ubuntu's python3.14 (resolute), when Debian's pool has no 3.14 to give;
#   3.13: Debian trixie's python3.13, the last fallback.
UBUNTU_PY314_URL=http://archive.ubuntu.com/ubuntu/pool/main/p/python3.14/python3.14_3.14.4.orig.tar.xz
UBUNTU_PY314_SHA256=d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8
TRIXIE_PY313_PATH=pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz
TRIXIE_PY313_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640

# pinned URL SHA256: the tarball in the cache (downloaded once, checked
# every time), unpacked into /build/cpython in the chroot.
pinned() {
    local url=$1 sha=$2 file=$PLATFORM_CACHE/${1##*/}
    if ! echo "$sha  $file" | sha256sum -c --status 2>/dev/null; then
        need_tools curl:curl
        curl -fsS -o "$file.part" "$url" || { echo "freethreaded.sh: $url could not be fetched" >&2; return 1; }
        echo "$sha  $file.part" | sha256sum -c --status \
            || { echo "freethreaded.sh: $url: wrong SHA-256" >&2; rm -f "$file.part"; return 1; }
        mv "$file.part" "$file"
    fi
    tar -xf "$file" -C "$SID_ROOT/build/cpython"
}

# The CPython source for version $1, unpacked into /build/cpython in the
# chroot; prints where it came from.
fetch_cpython_source() {
    local version=$1 tarball=${WSFAST_CPYTHON_SOURCE:-}
    rm -rf "$SID_ROOT/build/cpython"
    mkdir -p "$SID_ROOT/build/cpython"
    if [ -n "$tarball" ]; then
        tar -xf "$tarball" -C "$SID_ROOT/build/cpython"
        echo "$tarball (WSFAST_CPYTHON_SOURCE)"
    elif in_sid bash -c "cd /build/cpython && apt-get source -qq python$version" > "$PLATFORM_CACHE/ft-source.log" 2>&1; then
        echo "Debian sid's python$version source package ($(cd "$SID_ROOT/build/cpython" && ls ./*.dsc))"
    else
        grep -E '^E:' "$PLATFORM_CACHE/ft-source.log" >&2 || true
        echo "freethreaded.sh: Debian's python$version source package could not be fetched" >&2
        rm -rf "$SID_ROOT/build/cpython"
        mkdir -p "$SID_ROOT/build/cpython"
        case $version in
            3.14) pinned "$UBUNTU_PY314_URL" "$UBUNTU_PY314_SHA256" && echo "$UBUNTU_PY314_URL (SHA-256 checked)" ;;
            3.13) pinned "$(debian_mirror)/$TRIXIE_PY313_PATH" "$TRIXIE_PY313_SHA256" \
                      && echo "Debian trixie's ${TRIXIE_PY313_PATH##*/} (SHA-256 checked)" ;;
            *) false ;;
        esac || {
            echo "freethreaded.sh: no CPython $version source (WSFAST_CPYTHON_SOURCE: a source tarball to build instead)" >&2
            return 1
        }
    fi
}

# CPython $1 with --disable-gil, installed in the chroot under /opt/python$1t;
# where its source came from is kept in /opt/python$1t/SOURCE.
# Returns 2 when its source could not be fetched, 1 when the build failed.
build_cpython_ft() {
    local version=$1 origin
    if [ -x "$SID_ROOT/opt/python${version}t/bin/python${version}t" ]; then
        return
    fi
    log "CPython ${version}t, --disable-gil (make -j2, niced)"
    origin=$(fetch_cpython_source "$version") || return 2
    echo "source: $origin"
    in_sid bash -euc "
        cd /build/cpython/*/
        nice -n 15 ./configure -q --disable-gil --prefix=/opt/python${version}t --with-ensurepip=install \
            > /build/cpython/configure.log 2>&1
        nice -n 15 make -s -j2 > /build/cpython/make.log 2>&1
        nice -n 15 make -s install > /build/cpython/install.log 2>&1
    " || { tail -40 "$SID_ROOT"/build/cpython/*.log; return 1; }
    echo "$origin" > "$SID_ROOT/opt/python${version}t/SOURCE"
    rm -rf "$SID_ROOT/build/cpython"
}

ensure_sid
# 3.14t when its source can be had; otherwise (only then) 3.13t.
V=${WSFAST_FT_PYTHON:-3.14}
status=0
build_cpython_ft "$V" || status=$?
if [ "$status" = 2 ] && [ -z "${WSFAST_FT_PYTHON:-}${WSFAST_CPYTHON_SOURCE:-}" ]; then
    log "no CPython 3.14 source, from Debian or Ubuntu: falling back to 3.13t, from Debian trixie's python3.13 source"
    V=3.13
    status=0
    build_cpython_ft "$V" || status=$?
fi
[ "$status" = 0 ] || exit 1
FT=/opt/python${V}t/bin/python${V}t
in_sid "$FT" -c "import sys; assert not sys._is_gil_enabled(); print(sys.version)"
echo "built from: $(cat "$SID_ROOT/opt/python${V}t/SOURCE" 2>/dev/null || echo unrecorded)"

SRC=/build/wsfast-src-ft
VENV=/opt/wsfast-venvs/${V}t
copy_source "$SID_ROOT$SRC"
# The subset needs only the test runner; the whole suite needs the peers too.
if [ "$BENCH" = only ]; then
    TEST_DEPS=()
elif [ "$FULL" = 1 ]; then
    TESTS="tests --ignore=tests/test_browser.py"
    mapfile -t TEST_DEPS < <(python3 -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["test"]))' \
        "$PLATFORM_ROOT/pyproject.toml")
else
    TESTS="tests/test_mask.py tests/test_utf8.py tests/test_frames.py tests/test_messages.py"
    TESTS+=" tests/test_threads.py tests/test_thread_misuse.py"
    TEST_DEPS=(pytest pytest-xdist hypothesis)
fi
log "${V}t: pip install . (WSFAST_REQUIRE_EXTENSIONS=1), then ${TEST_DEPS[*]}"
in_sid bash -euc "
    [ -x $VENV/bin/python ] || $FT -m venv $VENV
    cd $SRC
    WSFAST_REQUIRE_EXTENSIONS=1 nice -n 15 $VENV/bin/python -m pip install -q --force-reinstall --no-deps . \
        > /tmp/wsfast-build-ft.log 2>&1 || { tail -40 /tmp/wsfast-build-ft.log; exit 1; }
"
# One at a time, wheels preferred (a newer release may be source-only for a
# free-threaded interpreter): a peer that cannot be installed is named, with
# pip's last error, and tests/platforms/missing_peers.py deselects the tests
# listed as needing it (any other failure stays a failure).
missing=()
for dep in "${TEST_DEPS[@]}"; do
    pip_log="$SID_ROOT/tmp/wsfast-pip-${dep%%[<>=]*}.log"
    if ! in_sid nice -n 15 "$VENV/bin/python" -m pip install -q --prefer-binary "$dep" > "$pip_log" 2>&1; then
        missing+=("$dep")
        echo "freethreaded.sh: $dep not installable on ${V}t:" \
             "$(grep -E 'error: ' "$pip_log" | grep -vE 'subprocess-exited|failed-wheel-build' | head -1 | sed 's/^ *//')" \
             "(pip's output: $pip_log)" >&2
    fi
done
if [ ${#missing[@]} -gt 0 ] && [ "$FULL" != 1 ]; then
    exit 1
fi
MISSING=$(IFS=,; echo "${missing[*]}")

log "${V}t: import wsfast keeps the GIL off, with no RuntimeWarning"
in_sid bash -euc "
    cd /tmp
    $VENV/bin/python -P -W error::RuntimeWarning -c '
import sys
import wsfast, wsfast._c, wsfast._codec_c, wsfast._aiohttp_c, wsfast.deflate, wsfast.integrations
assert wsfast.BACKEND == \"c\", wsfast.BACKEND
assert not sys._is_gil_enabled(), \"importing wsfast enabled the GIL\"
print(\"GIL still disabled after import\")
'
"

if [ "$BENCH" != only ]; then
    log "${V}t, PYTHON_GIL=0: $TESTS"
    in_sid bash -euc "
        cd $SRC
        export PYTHON_GIL=0 WSFAST_REQUIRE_EXTENSIONS=1 PYTHONPATH=$SRC/tests/platforms
        export WSFAST_MISSING_PEERS='$MISSING' WSFAST_MISSING_REASON='cannot be installed on ${V}t'
        nice -n 15 $VENV/bin/python -P -m pytest -q -n 2 -p no:cacheprovider -p missing_peers $TESTS
        # The thread tests under stress: repeated, both workers racing.
        for round in 1 2 3 4 5; do
            nice -n 15 $VENV/bin/python -P -m pytest -q -n 2 -p no:cacheprovider \
                tests/test_threads.py tests/test_thread_misuse.py
        done
    "
fi
if [ "$BENCH" != 0 ]; then
    log "${V}t: thread scaling at 64 KiB, bench/bench_scaling.py ${BENCH_ARGS[*]}"
    in_sid bash -euc "cd /tmp && PYTHON_GIL=0 $VENV/bin/python -P $SRC/bench/bench_scaling.py ${BENCH_ARGS[*]}"
fi
log "freethreaded.sh passed"
