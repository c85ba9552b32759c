#!/usr/bin/env bash
# sync_engine_test.exe (tests/agent/sync_engine_test.cc, the Linux test file built for Windows)
# under Wine against the Linux cardvault-server on 127.0.0.1 (issue 19; docs/windows.md, "The
# sync engine's tests under Wine"). Run by scripts/test-windows.sh, which makes the Wine prefix
# and exports WINEPREFIX, WINEDEBUG and WINEDLLOVERRIDES.
# Usage: sync_engine_test.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR [GTEST_ARGS...]
#
# The server gets one fresh user per test of the file (counted in the source), made before it
# serves; their tokens, the port, the pinned certificate fingerprint and the server's data
# directory (as Wine sees it) go into a 0600 file whose Windows path the .exe reads from
# CARDVAULT_TEST_SERVER (tests/agent/test_server_handle_windows.cc): each test takes the next
# user. Prints GoogleTest's summary, each failure and each skip with its reason.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
linux_build=$(cd "$1" && pwd)
windows_build=$(cd "$2" && pwd)
shift 2
server=$linux_build/api/cardvault-server
exe=$windows_build/tests/agent/sync_engine_test.exe
# shellcheck source=tests/windows/lib/driver.sh
. "$(dirname "$0")/lib/driver.sh"
# shellcheck source=tests/windows/lib/linux_server.sh
. "$(dirname "$0")/lib/linux_server.sh"
for f in "$server" "$exe"; do
  [ -f "$f" ] || { echo "sync_engine_test: $f is missing (build it first)" >&2; exit 1; }
done

driver_start cv-wengine
linux_server_users=$(grep -c '^TEST_F(SyncEngineTest,' "$source_dir/tests/agent/sync_engine_test.cc")
t0=$SECONDS
start_linux_server
[ "$(wc -l <"$tmp/user-tokens")" -eq "$linux_server_users" ] || fail "the server's users: $(cat "$tmp/user-tokens")"
(
  umask 077
  echo "port=$port"
  echo "fingerprint=$fingerprint"
  echo "data_dir=$(z "$tmp/srv")"
  sed 's/^/token=/' "$tmp/user-tokens"
) >"$tmp/server.list"
echo "  the server and $linux_server_users users ready in $((SECONDS - t0)) s"

log=$tmp/test.log
rc=0
CARDVAULT_TEST_SERVER=$(z "$tmp/server.list") wine "$exe" "$@" 2>&1 | tr -d '\r' >"$log" || rc=$?
awk '/^\[  (FAILED|SKIPPED) \]|^\[==========\]|^\[  PASSED  \]/ { print "  " $0; next }
     /: (Failure|Skipped)$/ { print "  " $0; more = 4; next }
     more > 0 && !/^\[/ { print "  " $0; more--; next } { more = 0 }' "$log"
if [ "$rc" -ne 0 ] || ! grep -q '^\[  PASSED  \]' "$log"; then
  tail -n 30 "$log" >&2
  fail "sync_engine_test.exe (exit $rc)"
fi
pass "sync_engine_test.exe under Wine against the Linux server"
