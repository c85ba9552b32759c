#!/usr/bin/env bash
# Runs every Windows test executable of build-windows/ (scripts/build.sh windows) under Wine, in
# a fresh Wine prefix made for this run in a temporary directory (removed at exit), then the
# drivers in tests/windows/*.sh, which run cardvault.exe against the Linux programs of build/
# (built here if missing: cardvault and cardvault-server); sync_engine_test.exe needs that
# server too, so its driver (tests/windows/sync_engine_test.sh) runs it. Prints GoogleTest's
# summary lines of each and the drivers' checks; exits non-zero when any test failed.
# docs/windows.md.
# Usage: scripts/test-windows.sh [WINDOWS_BUILD_DIR [LINUX_BUILD_DIR]]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-windows}
linux_dir=${2:-build}
tests=("$dir"/tests/core/core_test.exe "$dir"/tests/core/card/recipient_parser_test.exe
       "$dir"/tests/core/capi/capi_test.exe "$dir"/tests/agent/watcher_test.exe
       "$dir"/tests/agent/control_test.exe "$dir"/tests/agent/tray_common_test.exe
       "$dir"/tests/agent/state_db_test.exe "$dir"/tests/agent/process_priority_windows_test.exe
       "$dir"/tests/agent/rotating_log_file_windows_test.exe)
for t in "${tests[@]}" "$dir/agent/cardvault.exe" "$dir/tests/agent/sync_engine_test.exe"; do
  [ -f "$t" ] || { echo "test-windows: $t is missing: run scripts/build.sh windows" >&2; exit 1; }
done
# The Linux side of the cross-OS tests: the agent and the server, natively.
if [ ! -f "$linux_dir/build.ninja" ]; then
  cmake -S . -B "$linux_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$linux_dir" cardvault cardvault-server >/dev/null

export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="  # no Mono/Gecko prompt, no X
WINEPREFIX=$(mktemp -d /tmp/cv-wine-XXXXXX)
export WINEPREFIX
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
start=$SECONDS
# wine64 only: the "wine32 is missing" hint and nodrv_CreateWindow lines are harmless.
wineboot -i >"$WINEPREFIX.boot.log" 2>&1 || { cat "$WINEPREFIX.boot.log" >&2; exit 1; }
wineserver -w
rm -f "$WINEPREFIX.boot.log"
echo "test-windows: Wine $(wine --version 2>/dev/null), prefix ready in $((SECONDS - start)) s" >&2

# Unix symlinks, which Wine shows as reparse points (it cannot make junctions): for
# windows_env_test.cc's UnixSymlinksUnderWineAreRefusedAsReparsePoints.
links=$WINEPREFIX/unix-links
mkdir -p "$links/root/a" "$links/outside/b"
ln -s ../outside "$links/root/link"
ln -s ../../outside/b "$links/root/a/blink"
export CARDVAULT_TEST_UNIX_LINKS="Z:$links"

failed=0
for t in "${tests[@]}"; do
  log=$(mktemp)
  t0=$SECONDS
  if wine "$t" 2>&1 | tr -d '\r' >"$log"; then rc=0; else rc=$?; fi
  echo "== $(basename "$t") under Wine ($((SECONDS - t0)) s, exit $rc)"
  # GoogleTest's summary lines, each failure's message, and why a test was skipped.
  awk '/^\[  (FAILED|SKIPPED) \]|^\[==========\]|^\[  PASSED  \]/ { print; next }
       /: (Failure|Skipped)$/ { print; more = 4; next }
       more > 0 && !/^\[/ { print; more--; next } { more = 0 }' "$log"
  if [ "$rc" -ne 0 ] || ! grep -q '^\[  PASSED  \]' "$log"; then
    failed=1
    [ "$rc" -ne 0 ] && tail -n 20 "$log"
  fi
  rm -f "$log"
done
# cardvault.exe against the Linux agent and server (tests/windows/*.sh).
for driver in tests/windows/*.sh; do
  t0=$SECONDS
  if bash "$driver" "$linux_dir" "$dir"; then rc=0; else rc=$?; fi
  echo "== $(basename "$driver") ($((SECONDS - t0)) s, exit $rc)"
  [ "$rc" -eq 0 ] || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "test-windows: FAILED" >&2
  exit 1
fi
echo "test-windows: all passed ($((SECONDS - start)) s)" >&2
