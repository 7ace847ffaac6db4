#!/usr/bin/env bash
# aarch64: the NEON kernels and the compiled extension, under qemu user-mode
# emulation (no binfmt_misc needed: every arm64 program is started as
# `qemu-aarch64-static -L SYSROOT PROGRAM`).
#   1. tests/platforms/kernel_harness.c against the scalar kernels: natively
#      (x86-64: sse2, ssse3, avx2; also under ASan+UBSan), then cross-compiled
#      with aarch64-linux-gnu-gcc and run under qemu (neon);
#   2. an arm64 Debian sysroot (debootstrap --foreign, its packages unpacked
#      with dpkg -x; cached), the extension cross-compiled against its Python
#      (Cython's C from the host, the target's sysconfig), and the mask, UTF-8
#      and frame tests run by the emulated arm64 python on the neon kernel,
#      then with WSFAST_FORCE_KERNEL=scalar on the scalar one.
#   WSFAST_PLATFORM_FULL=1: the whole suite's compiled cases (but the files
#   that need peers, a browser or the CLI's plotting) instead of the three
#   files (slow under emulation).
source "$(dirname "$0")/common.sh"
FULL=${WSFAST_PLATFORM_FULL:-0}
PYTHON=${PYTHON:-python3}
ARM_ROOT=$PLATFORM_CACHE/arm64-bookworm
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsfast-neon.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
need_tools qemu-aarch64-static:qemu-user-static aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
    debootstrap:debootstrap file:file
HARNESS_FLAGS=(-std=c11 -O2 -Wall -Wextra -Wsign-compare -Wconversion -Werror -I"$PLATFORM_ROOT/csrc")
HARNESS_SOURCES=("$PLATFORM_ROOT"/csrc/*.c "$PLATFORM_ROOT/tests/platforms/kernel_harness.c")

log "kernel harness, native ($(uname -m))"
gcc "${HARNESS_FLAGS[@]}" "${HARNESS_SOURCES[@]}" -o "$WORK/harness"
"$WORK/harness"
log "kernel harness, native, ASan+UBSan"
gcc "${HARNESS_FLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all \
    "${HARNESS_SOURCES[@]}" -o "$WORK/harness-asan"
"$WORK/harness-asan" 12345

log "kernel harness, aarch64-linux-gnu-gcc, under qemu-aarch64"
aarch64-linux-gnu-gcc "${HARNESS_FLAGS[@]}" -O3 "${HARNESS_SOURCES[@]}" -o "$WORK/harness-arm64"
qemu-aarch64-static -L /usr/aarch64-linux-gnu "$WORK/harness-arm64"
qemu-aarch64-static -L /usr/aarch64-linux-gnu "$WORK/harness-arm64" 12345

# ---- arm64 Debian sysroot with python3 and its headers (cached) ----
if [ ! -f "$ARM_ROOT/.wsfast-ready" ]; then
    log "arm64 Debian sysroot: debootstrap --foreign, then dpkg -x of every package"
    rm -rf "$ARM_ROOT"
    low debootstrap --foreign --arch=arm64 --variant=minbase --include=python3,python3-dev \
        bookworm "$ARM_ROOT" "$(debian_mirror)" > "$PLATFORM_CACHE/arm64-debootstrap.log" 2>&1 \
        || { tail -30 "$PLATFORM_CACHE/arm64-debootstrap.log"; exit 1; }
    # The first stage unpacks only the essential packages; python3 and its
    # headers wait in apt's cache for a second stage that would need binfmt.
    for deb in "$ARM_ROOT"/var/cache/apt/archives/*.deb; do
        dpkg -x "$deb" "$ARM_ROOT"
    done
    rm -f "$ARM_ROOT"/var/cache/apt/archives/*.deb
    touch "$ARM_ROOT/.wsfast-ready"
fi
ARM_PYTHON=$(cd "$ARM_ROOT/usr/bin" && ls python3.* | grep -E '^python3\.[0-9]+$' | sort -V | tail -1)
arm_python() { qemu-aarch64-static -L "$ARM_ROOT" "$ARM_ROOT/usr/bin/$ARM_PYTHON" "$@"; }
arm_python -c "import platform, sys; print('arm64 interpreter:', platform.machine(), sys.version.split()[0])"

# ---- the extension, cross-compiled ----
log "cross-compile wsfast for $ARM_PYTHON (aarch64)"
# The host's setuptools and Cython, with the target's sysconfig: its
# extension suffix and compiler settings; its headers first on the path.
if [ ! -x "$PLATFORM_CACHE/cross-venv/bin/python" ]; then
    "$PYTHON" -m venv "$PLATFORM_CACHE/cross-venv"
    "$PLATFORM_CACHE/cross-venv/bin/python" -m pip install -q "setuptools>=77" wheel "cython>=3.0"
fi
SYSCONFIG=$(cd "$ARM_ROOT/usr/lib/$ARM_PYTHON" && ls _sysconfigdata__linux_aarch64*.py)
mkdir -p "$WORK/sysconfig" "$WORK/src"
cp "$ARM_ROOT/usr/lib/$ARM_PYTHON/$SYSCONFIG" "$WORK/sysconfig/"
git -C "$PLATFORM_ROOT" archive HEAD | tar -x -C "$WORK/src"
(
    cd "$WORK/src"
    export _PYTHON_SYSCONFIGDATA_NAME=${SYSCONFIG%.py} _PYTHON_HOST_PLATFORM=linux-aarch64
    export PYTHONPATH="$WORK/sysconfig" WSFAST_REQUIRE_EXTENSIONS=1
    export CC=aarch64-linux-gnu-gcc LDSHARED="aarch64-linux-gnu-gcc -shared" AR=aarch64-linux-gnu-ar
    export CFLAGS="-I$ARM_ROOT/usr/include/$ARM_PYTHON -I$ARM_ROOT/usr/include"
    low "$PLATFORM_CACHE/cross-venv/bin/python" setup.py -q build_ext --inplace > "$WORK/build.log" 2>&1 \
        || { tail -40 "$WORK/build.log"; exit 1; }
)
# Every compiled module is there, and each is an aarch64 object.
for module in _c _codec_c _aiohttp_c; do
    file "$WORK"/src/wsfast/$module.*.so | grep -q 'ARM aarch64' \
        || { file "$WORK"/src/wsfast/*.so; echo "wsfast.$module is not an aarch64 object" >&2; exit 1; }
done

# pytest and hypothesis are pure Python: the host's pip fetches them for the target.
"$PLATFORM_CACHE/cross-venv/bin/python" -m pip install -q --target "$WORK/site" --only-binary=:all: \
    --platform manylinux2014_aarch64 --implementation cp \
    --python-version "${ARM_PYTHON#python}" pytest hypothesis

# ---- the tests, by the emulated arm64 interpreter ----
cd "$WORK/src"
export PYTHONPATH="$WORK/site:$WORK/src" WSFAST_REQUIRE_EXTENSIONS=1
arm_python -P -m wsfast info
arm_python -P -c "import wsfast._c as c, sys; sys.exit(c._kernels()[0] != 'neon')" \
    || { echo "the arm64 build does not select the neon kernel" >&2; exit 1; }
if [ "$FULL" = 1 ]; then
    TESTS=(tests --ignore=tests/test_browser.py --ignore=tests/test_interop.py
           --ignore=tests/test_integrations.py --ignore=tests/test_cli.py)
else
    TESTS=(tests/test_mask.py tests/test_utf8.py tests/test_frames.py)
fi
# The compiled cases only: the Python backend's cases run the same code as
# on x86-64 (and take most of the emulated time).
log "arm64: ${TESTS[*]}: the compiled backend on the neon kernel"
low qemu-aarch64-static -L "$ARM_ROOT" "$ARM_ROOT/usr/bin/$ARM_PYTHON" -P -m pytest -q \
    -p no:cacheprovider "${TESTS[@]}" -m c_extension -k "c-neon"
log "arm64: WSFAST_FORCE_KERNEL=scalar: the import selects it; the compiled scalar cases"
WSFAST_FORCE_KERNEL=scalar arm_python -P -c "import wsfast._c as c, sys; sys.exit(c._current_kernel() != 'scalar')" \
    || { echo "WSFAST_FORCE_KERNEL=scalar did not select scalar" >&2; exit 1; }
WSFAST_FORCE_KERNEL=scalar low qemu-aarch64-static -L "$ARM_ROOT" "$ARM_ROOT/usr/bin/$ARM_PYTHON" -P \
    -m pytest -q -p no:cacheprovider "${TESTS[@]}" -m c_extension -k "c-scalar"
log "neon.sh passed"
