#!/usr/bin/env bash
# CPython 3.13, 3.14 and 3.15 from Debian sid, in a chroot (cached): on each,
# wsfast is installed with WSFAST_REQUIRE_EXTENSIONS=1 (and the test extra,
# peers included, for the whole suite) and the tests run on the Python backend and on the compiled
# backend's best kernel (tests/platforms/best_kernel.py deselects the others).
#   tests/platforms/pythons.sh                 the subset: mask, UTF-8 and frame tests
#   WSFAST_PLATFORM_FULL=1 ...                 the whole suite (but test_browser.py:
#                                              no Chromium in the chroot)
#   WSFAST_PYTHONS="3.13 3.14 3.15"            the versions
source "$(dirname "$0")/common.sh"
FULL=${WSFAST_PLATFORM_FULL:-0}
VERSIONS=${WSFAST_PYTHONS:-3.13 3.14 3.15}
ensure_sid

SRC=/build/wsfast-src
copy_source "$SID_ROOT$SRC"
# The subset needs only the test runner; the whole suite needs the peers too.
if [ "$FULL" = 1 ]; then
    TESTS="tests --ignore=tests/test_browser.py"
    TEST_DEPS="'.[test]'"
else
    TESTS="tests/test_mask.py tests/test_utf8.py tests/test_frames.py"
    TEST_DEPS="pytest pytest-xdist hypothesis"
fi

for version in $VERSIONS; do
    venv=/opt/wsfast-venvs/$version
    log "CPython $version: pip install . (WSFAST_REQUIRE_EXTENSIONS=1) and $TEST_DEPS"
    in_sid bash -euc "
        [ -x $venv/bin/python ] || python$version -m venv $venv
        cd $SRC
        WSFAST_REQUIRE_EXTENSIONS=1 nice -n 15 $venv/bin/python -m pip install -q --force-reinstall \
            --no-deps . > /tmp/wsfast-build-$version.log 2>&1 \
            && WSFAST_REQUIRE_EXTENSIONS=1 nice -n 15 $venv/bin/python -m pip install -q $TEST_DEPS \
            >> /tmp/wsfast-build-$version.log 2>&1 \
            || { tail -40 /tmp/wsfast-build-$version.log; exit 1; }
        cd /tmp && $venv/bin/python -P -m wsfast info | head -6
    "
    log "CPython $version: $TESTS (Python backend, compiled backend on its best kernel)"
    in_sid bash -euc "
        cd $SRC
        export WSFAST_REQUIRE_EXTENSIONS=1 PYTHONPATH=$SRC/tests/platforms
        # The installed package, not the source tree's (-P, and no build in it).
        $venv/bin/python -P -c 'import wsfast, sys; sys.exit(wsfast.BACKEND != \"c\")'
        nice -n 15 $venv/bin/python -P -m pytest -q -n 2 -p no:cacheprovider -p best_kernel $TESTS
    "
done
log "pythons.sh passed: $VERSIONS"
