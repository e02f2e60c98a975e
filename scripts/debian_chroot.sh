#!/usr/bin/env bash
# Runs a command in this checkout inside another Debian release, so the plugin is tested on the QGIS
# that release ships: scripts/debian_chroot.sh trixie make test VENV=.venv-trixie
#
# The release is built once with debootstrap from Debian's package registry into
# $CHROOTS/<suite> (default /var/cache/fast3dcnn-chroots/<suite>, outside the checkout) and kept
# there as a cache; the command's own set-up (scripts/setup_system.sh) installs QGIS inside it the
# first time. The checkout is bind-mounted at /src, so give each release its own VENV. Needs root
# (sudo is used when you are not).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 SUITE COMMAND... (e.g. $0 trixie make test VENV=.venv-trixie)" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
SUITE=$1
shift
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd)
SYSTEM=${CHROOTS:-/var/cache/fast3dcnn-chroots}/$SUITE
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# One run at a time per release: every run mounts its checkout at the same /src.
mkdir -p "$(dirname "$SYSTEM")"
exec 9>"$SYSTEM.lock"
flock 9
if [ ! -e "$SYSTEM/.debootstrapped" ]; then
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  echo "Building Debian $SUITE in $SYSTEM with debootstrap (once)..."
  rm -rf "$SYSTEM"
  mkdir -p "$SYSTEM"
  debootstrap --variant=minbase --include=ca-certificates,make "$SUITE" "$SYSTEM" "$MIRROR" >"$SYSTEM.log" 2>&1 \
    || { tail -20 "$SYSTEM.log"; exit 1; }
  # An unstable release's Release file can be past its validity date on a snapshot mirror.
  echo 'Acquire::Check-Valid-Until "false";' >"$SYSTEM/etc/apt/apt.conf.d/99no-check-valid-until"
  touch "$SYSTEM/.debootstrapped"
fi
# Downloads inside need the host's certificates and name resolution.
cp /etc/ssl/certs/ca-certificates.crt "$SYSTEM/etc/ssl/certs/ca-certificates.crt"
cp -L /etc/resolv.conf "$SYSTEM/etc/resolv.conf"

# A run killed before its trap (a CI job stopped, a session ended) leaves its mounts, and a bind mount of
# a checkout since deleted makes the next mount at /src fail with "No such file or directory".
awk -v root="$SYSTEM/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n 1 umount -l

MOUNTS=()
unmount() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
}
trap unmount EXIT
mount_into() {  # mount_into TARGET MOUNT-ARGS...
  mkdir -p "$SYSTEM$1"
  mount "${@:2}" "$SYSTEM$1"
  MOUNTS+=("$SYSTEM$1")
}
mount_into /proc -t proc proc
mount_into /dev --bind /dev
mount_into /dev/pts --bind /dev/pts
mount_into /dev/shm -t tmpfs tmpfs
mount_into /tmp -t tmpfs tmpfs
mount_into /src --bind "$CHECKOUT"

chroot "$SYSTEM" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd /src && "$@"' bash "$@"
