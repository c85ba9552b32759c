#!/usr/bin/env bash
# Installs every Debian 12 package cardvault needs to build, test and run. Idempotent:
# when everything is present it only checks (well under a second) and touches nothing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev clang-format
  # libraries
  libssl-dev libsqlite3-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the server's PostgreSQL index (libpq) and the throwaway clusters its tests start
  libpq-dev postgresql
  # the server's S3 byte store (libcurl, SigV4) and the single-node radosgw its tests start
  libcurl4-openssl-dev ceph-mon ceph-osd radosgw uuid-runtime iproute2
  # the server's sd_notify (Type=notify, reloads)
  libsystemd-dev
  # the tray (agent/tray): Qt 6 Widgets, its platform plugins (xcb, offscreen for tests)
  qt6-base-dev qt6-qpa-plugins libgl-dev
  # cards: SoftHSM2 (the soft card) and OpenSC (pkcs11-tool, pkcs11-spy)
  softhsm2 opensc opensc-pkcs11 p11-kit-modules libp11-kit-dev
  # man pages (docs/man: help2man on the built programs)
  help2man
  # Debian packages (scripts/package.sh: CPack's DEB generator, dpkg-shlibdeps) and their check
  dpkg-dev lintian
  # tools used by tests, the demo and the benchmarks
  openssl sqlite3 curl age procps pinentry-curses
  # the second reader of the format, written from docs/format.md (tests/spec/)
  python3 python3-cryptography
  # the tray's desktop test: a virtual X server, a tray host, xwininfo
  xvfb trayer x11-utils
  # the load balancer in front of several server instances (tests/engines, bench/scale_bench)
  haproxy
  # the sync benchmark's comparison: rclone through a crypt remote to WebDAV
  rclone
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root (or: sudo $0) to install them" >&2
  exit 1
fi

echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done" >&2
