#!/usr/bin/env bash
# Builds the Debian packages cardvault, cardvault-tray (when the tray was built) and
# cardvault-server from the release build in build/ (scripts/build.sh release, as CI makes it)
# with CPack's DEB generator (cmake/packaging.cmake) into DIR, default build/packages.
# Only the packaged targets are brought up to date (a no-op after a full build).
# Usage: scripts/package.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/packages}")
if [ ! -f build/build.ninja ]; then
  echo "package: no release build in build/ (run scripts/build.sh release first)" >&2
  exit 1
fi
targets=(cardvault cardvault-server man)
if ninja -C build -t targets all 2>/dev/null | grep -q '^cardvault-tray:'; then
  targets+=(cardvault-tray)
fi
ninja -C build "${targets[@]}" >/dev/null
mkdir -p "$out"
rm -f "$out"/*.deb
# cpack stages in $out/_CPack_Packages (removed after) and writes the .deb files to $out.
(cd build && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) ||
  { cat "$out/cpack.log" >&2; exit 1; }
rm -rf "$out/_CPack_Packages"
ls "$out"/*.deb
