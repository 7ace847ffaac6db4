# Shared by the platform scripts (sourced): the cache, the Debian mirror and
# cached Debian roots.
# The chroots, sysroots and interpreter builds live in one cache, kept across
# runs: ${WSFAST_PLATFORM_CACHE:-/tmp/wsfast-platforms}.
set -euo pipefail
PLATFORM_CACHE=${WSFAST_PLATFORM_CACHE:-/tmp/wsfast-platforms}
PLATFORM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$PLATFORM_CACHE"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '\n--- %s (%ss)\n' "$*" "$SECONDS"; }

# The Debian mirror this machine's apt already uses (WSFAST_DEBIAN_MIRROR
# overrides it).
debian_mirror() {
    if [ -n "${WSFAST_DEBIAN_MIRROR:-}" ]; then
        echo "$WSFAST_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || { echo "no Debian mirror in apt's sources; set WSFAST_DEBIAN_MIRROR" >&2; return 1; }
    echo "${uri%/}"
}

# Host tools from Debian's packages, installed once.
need_tools() {
    local missing=()
    local pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Run a command at low priority: the machine is shared.
low() { nice -n 15 "$@"; }

# ---- The Debian sid chroot (pythons.sh, freethreaded.sh) ----------------------
SID_ROOT=$PLATFORM_CACHE/sid-amd64
# CPython 3.13-3.15 from sid, a compiler, and what building CPython from
# Debian's source package needs (freethreaded.sh).
SID_PACKAGES="ca-certificates gcc libc6-dev make dpkg-dev
python3.13 python3.13-dev python3.13-venv
python3.14 python3.14-dev python3.14-venv
python3.15 python3.15-dev python3.15-venv
libffi-dev libssl-dev zlib1g-dev libbz2-dev liblzma-dev libzstd-dev libsqlite3-dev
libreadline-dev libexpat1-dev libmpdec-dev pkg-config"

# A command inside the chroot, with a clean environment.
in_sid() {
    chroot "$SID_ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive \
        PIP_CERT=/etc/wsfast-host-ca.crt SSL_CERT_FILE=/etc/wsfast-host-ca.crt "$@"
}

# /proc and /dev inside the chroot, for as long as the calling script runs;
# the host's CA certificates (pip inside trusts what the host trusts).
mount_sid() {
    cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$SID_ROOT/etc/wsfast-host-ca.crt"
    mountpoint -q "$SID_ROOT/proc" || mount -t proc proc "$SID_ROOT/proc"
    mountpoint -q "$SID_ROOT/dev" || mount --bind /dev "$SID_ROOT/dev"
    trap 'umount_sid' EXIT
}
umount_sid() {
    umount "$SID_ROOT/dev" 2>/dev/null || true
    umount "$SID_ROOT/proc" 2>/dev/null || true
}

ensure_sid() {
    if [ -f "$SID_ROOT/.wsfast-ready" ]; then
        mount_sid
        return
    fi
    need_tools debootstrap:debootstrap
    local mirror
    mirror=$(debian_mirror)
    umount_sid
    if [ ! -f "$SID_ROOT/.wsfast-debootstrapped" ]; then
        log "debootstrap Debian sid into $SID_ROOT"
        rm -rf "$SID_ROOT"
        low debootstrap --variant=minbase sid "$SID_ROOT" "$mirror" > "$PLATFORM_CACHE/sid-debootstrap.log" 2>&1 \
            || { tail -30 "$PLATFORM_CACHE/sid-debootstrap.log"; return 1; }
        touch "$SID_ROOT/.wsfast-debootstrapped"
    fi
    printf 'deb %s sid main\ndeb-src %s sid main\n' "$mirror" "$mirror" > "$SID_ROOT/etc/apt/sources.list"
    # A mirror that is a dated snapshot serves a Release file past its
    # Valid-Until: accept it (the signatures are still checked).
    echo 'Acquire::Check-Valid-Until "false";' > "$SID_ROOT/etc/apt/apt.conf.d/99wsfast"
    cp /etc/resolv.conf "$SID_ROOT/etc/resolv.conf" 2>/dev/null || true
    mount_sid
    in_sid apt-get update -qq
    # shellcheck disable=SC2086
    low chroot "$SID_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $SID_PACKAGES > "$PLATFORM_CACHE/sid-apt.log" 2>&1 \
        || { tail -30 "$PLATFORM_CACHE/sid-apt.log"; return 1; }
    touch "$SID_ROOT/.wsfast-ready"
}

# The project's committed tree at $1 (emptied first), plus uncommitted
# changes when run from a checkout by hand.
copy_source() {
    rm -rf "$1"
    mkdir -p "$1"
    git -C "$PLATFORM_ROOT" archive HEAD | tar -x -C "$1"
    if [ -n "$(git -C "$PLATFORM_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        git -C "$PLATFORM_ROOT" diff HEAD | (cd "$1" && patch -s -p1)
    fi
}
