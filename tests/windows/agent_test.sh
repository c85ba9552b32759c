#!/usr/bin/env bash
# cardvault.exe as the agent under Wine against the Linux cardvault-server on 127.0.0.1
# (issue 19; docs/windows.md, "The agent on Windows"). Run by scripts/test-windows.sh, which
# makes the Wine prefix and exports WINEPREFIX, WINEDEBUG and WINEDLLOVERRIDES.
# Usage: agent_test.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR
#
# One RSA key is "the card" on both systems (a SoftHSM2 token on Linux, a CryptoAPI container
# under Wine, as in cross_os_card_test.sh). Checks:
#  1. `init` writes the config; `status --json` has Linux's fields; `sync` without an agent
#     fails with Linux's exit code and message; install-autostart/remove-autostart write and
#     delete the HKCU Run value, each idempotent;
#  2. `run`: files created, modified, renamed, deleted and a directory tree moved are all
#     uploaded; `status --json` is right; a Linux `cardvault restore --card` (SoftHSM2) gets the
#     folder byte-identical; Ctrl+C (SIGINT, which Wine turns into CTRL_C_EVENT) stops it with
#     exit code 0, and the log is in %LOCALAPPDATA%\cardvault\agent.log, which, found at its
#     4 MiB cap, `status` leaves alone and `run` rotates: the old one is agent.log.1 unchanged,
#     this run's lines in a new agent.log, no third file;
#  3. the agent killed (kill -9) while it syncs 2,000 files, with blobs published by the
#     server and not yet recorded; restarted, it uploads each version exactly once (the
#     server's blobs = the versions the agent recorded as uploaded) and the restore matches;
#  4. the other way round: a Linux agent's folder restored by cardvault.exe, `adopt`ed, a change
#     synced from Windows (one blob more on the server), and a Linux restore gets it.
# Prints one line per check; exits non-zero on the first failure, after cleaning up.
set -euo pipefail
# shellcheck source=tests/windows/lib/driver.sh
. "$(dirname "$0")/lib/driver.sh"
driver_paths "$1" "$2"
driver_need "$cv" "$server" "$exe" "$import_key" "$softhsm"
driver_start cv-wagent
agent_pid=
stop_agent() {  # kill -9: the crash; also the clean-up of a failed run
  if [ -n "$agent_pid" ]; then
    kill -9 "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
    agent_pid=
  fi
}
trap 'stop_agent; driver_cleanup' EXIT
win() { wine_run "$@"; }
# COUNT(*) of an SQL query on an SQLite file another process writes (-1 if unreadable).
count() {
  python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
try:
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=2)
    print(db.execute(sys.argv[2]).fetchone()[0])
except sqlite3.Error:
    print(-1)
EOF
}
pending() { count "$1/state.db" "SELECT COUNT(*) FROM versions WHERE state IN (0, 1)"; }
uploaded() { count "$1/state.db" "SELECT COUNT(*) FROM versions WHERE state = 2"; }
server_blobs() { count "$tmp/srv/index.db" "SELECT COUNT(*) FROM objects WHERE kind = 0 AND user = '$1'"; }
# Waits (up to $2 s) until the agent with state directory $1 has nothing pending and has
# recorded at least $3 uploads.
wait_synced() {
  local i
  for i in $(seq $(($2 * 5))); do
    if [ "$(pending "$1")" = 0 ] && [ "$(uploaded "$1")" -ge "$3" ]; then return 0; fi
    sleep 0.2
  done
  return 1
}
since=$SECONDS
took() { echo "$((SECONDS - since)) s since the start"; }
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

echo "== cardvault.exe as the agent under Wine (tests/windows/agent_test.sh)"

# ---- the card on two PCs: one key, a SoftHSM2 token and a CryptoAPI container
card_key_on_both "agent card" agent
run "$cv" card list --module "$softhsm"
[ "$rc" = 0 ] || fail "cardvault card list: $out"
recipient=$(keys_of <<<"$out" | head -n 1 | cut -d' ' -f2)
win_card=(--card --provider "$provider" --token "$container" --pin-file "$(z "$tmp/pin")")
start_linux_server
remote=(--server "$url" --fingerprint "$fingerprint")

# ---- 1. init, status, sync without an agent, autostart
wvault=$tmp/wvault
wstate=$tmp/wstate
mkdir -p "$wvault" "$tmp/win"
W=(--config "$(z "$tmp/win/config.json")")
run win "$exe" "${W[@]}" init --vault "$(z "$wvault")" "${remote[@]}" \
  --token-file "$(z "$tmp/token")" --recipient "$recipient" --state-dir "$(z "$wstate")"
[ "$rc" = 0 ] || fail "cardvault.exe init: exit $rc: $out"
python3 - "$tmp/win/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["settle_delay_ms"] = 300  # quick settling for the test
# Normal priority: under Wine the idle class the agent takes otherwise (docs/windows.md) lets a
# loaded test machine starve it for minutes.
c["low_priority"] = False
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
export XDG_CONFIG_HOME=$tmp/lconfig XDG_DATA_HOME=$tmp/ldata XDG_RUNTIME_DIR=$tmp/lrun
mkdir -m 700 "$XDG_RUNTIME_DIR"
mkdir -p "$tmp/lvault"
run "$cv" init --vault "$tmp/lvault" "${remote[@]}" --token-file "$tmp/token" \
  --recipient "$recipient"
[ "$rc" = 0 ] || fail "Linux init: $out"
run "$cv" status --json
linux_status=$out
run win "$exe" "${W[@]}" status --json
[ "$rc" = 0 ] || fail "cardvault.exe status --json: exit $rc: $out"
python3 - "$linux_status" "$out" <<'EOF' || fail "status --json differs from Linux's"
import json, sys
linux, win = (json.loads(s) for s in sys.argv[1:3])
if sorted(linux) != sorted(win):
    sys.exit(f"fields: Linux {sorted(linux)}, Windows {sorted(win)}")
if win["agent"] != "not running" or win["server"] != "reachable" or win["pending"] != 0:
    sys.exit(f"Windows status before the agent runs: {win}")
EOF
run "$cv" sync
linux_rc=$rc linux_out=$out
run win "$exe" "${W[@]}" sync
[ "$rc" = "$linux_rc" ] && [ "$rc" != 0 ] || fail "sync without an agent: exit $rc, Linux $linux_rc"
grep -q "cardvault: error: " <<<"$out" || fail "sync without an agent: '$out' (Linux: '$linux_out')"
pass "init; status --json with Linux's fields; sync without an agent: Linux's exit code $rc ($(took))"

run_key='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
for _ in 1 2; do
  run win "$exe" "${W[@]}" install-autostart
  [ "$rc" = 0 ] || fail "install-autostart: exit $rc: $out"
done
run wine reg query "$run_key" /v cardvault
[ "$rc" = 0 ] && grep -q 'cardvault.exe" --config ".*config.json" run --hide-console' <<<"$out" ||
  fail "the Run value after install-autostart: $out"
for _ in 1 2; do
  run win "$exe" "${W[@]}" remove-autostart
  [ "$rc" = 0 ] || fail "remove-autostart: exit $rc: $out"
done
run wine reg query "$run_key" /v cardvault
[ "$rc" != 0 ] || fail "the Run value is still there after remove-autostart: $out"
pass "install-autostart / remove-autostart: the HKCU Run value written and deleted, twice each ($(took))"

# ---- 2. run: create, modify, rename, delete, move a tree
# The log found at its cap (4 MiB, docs/windows.md): `status` leaves it, `run` rotates it.
logdir=$(winepath -u "$(wine cmd /c 'echo %LOCALAPPDATA%' 2>/dev/null | tr -d '\r')")/cardvault
mkdir -p "$logdir"
rm -f "$logdir"/agent.log*
awk 'BEGIN { for (i = 1; i <= 65536; i++) printf "an old line %051d\n", i }' >"$logdir/agent.log"
cp "$logdir/agent.log" "$tmp/old.log"
run win "$exe" "${W[@]}" status
[ "$rc" = 0 ] && [ ! -e "$logdir/agent.log.1" ] && cmp -s "$logdir/agent.log" "$tmp/old.log" ||
  fail "status touched the log: exit $rc: $(ls -l "$logdir")"
start_agent() {
  wine "$exe" "${W[@]}" run >>"$tmp/agent.out" 2>&1 &
  agent_pid=$!
}
start_agent
mkdir -p "$wvault/sub/deep" "$wvault/gone"
echo "first" >"$wvault/a.txt"
echo "deep" >"$wvault/sub/deep/d.txt"
echo "to rename" >"$wvault/sub/b.txt"
echo "to delete" >"$wvault/gone/c.txt"
printf 'ü' >"$wvault/ünïcode.txt"
: >"$wvault/empty"
head -c 300000 /dev/urandom >"$wvault/sub/bin.dat"
wait_synced "$wstate" 60 10 || fail "the first files were not uploaded: $(tr -d '\r' <"$tmp/agent.out")"
echo "second" >>"$wvault/a.txt"
mv "$wvault/sub/b.txt" "$wvault/sub/renamed.txt"
rm -r "$wvault/gone"
mkdir -p "$wvault/moved"
mv "$wvault/sub" "$wvault/moved/sub"
sleep 1
wait_synced "$wstate" 60 18 || fail "the changes were not uploaded: $(tr -d '\r' <"$tmp/agent.out")"
run win "$exe" "${W[@]}" status --json
[ "$rc" = 0 ] || fail "status --json: exit $rc: $out"
[ "$(json_field "$out" agent)" = running ] && [ "$(json_field "$out" pending)" = 0 ] &&
  [ "$(json_field "$out" failed)" = 0 ] && [ "$(json_field "$out" server)" = reachable ] &&
  [ "$(json_field "$out" uploaded)" = "$(uploaded "$wstate")" ] ||
  fail "status --json while the agent runs: $out"
run "$cv" restore "${remote[@]}" --token-file "$tmp/token" "${linux_card[@]}" \
  --target "$tmp/restored"
[ "$rc" = 0 ] || fail "Linux restore --card: exit $rc: $out"
diff -r "$wvault" "$tmp/restored" >"$tmp/diff" 2>&1 || fail "restored tree differs: $(cat "$tmp/diff")"
pass "run: created, modified, renamed, deleted, a tree moved: all uploaded, status --json right, a Linux restore --card byte-identical ($(took))"

kill -INT "$agent_pid"
set +e
wait "$agent_pid"
rc=$?
set -e
agent_pid=
log=$logdir/agent.log
[ "$rc" = 0 ] || fail "Ctrl+C: exit $rc: $(tr -d '\r' <"$tmp/agent.out" | tail -n 3)"
grep -q "stopped; queued work resumes" "$tmp/agent.out" || fail "no clean stop in the output"
grep -q "watching Z:" "$log" && grep -q "stopped; queued work resumes" "$log" ||
  fail "%LOCALAPPDATA%\\cardvault\\agent.log: $(ls -l "$logdir"; tail -n 3 "$log")"
cmp -s "$logdir/agent.log.1" "$tmp/old.log" && ! grep -q "an old line" "$log" &&
  [ "$(cd "$logdir" && echo agent.log*)" = "agent.log agent.log.1" ] ||
  fail "the log at its cap was not rotated to agent.log.1: $(ls -l "$logdir")"
pass "Ctrl+C (SIGINT under Wine): a clean stop, exit 0; the log is in %LOCALAPPDATA%\\cardvault\\agent.log, the one found at 4 MiB rotated to agent.log.1 ($(took))"

# ---- 3. killed during a sync of 2,000 files, restarted: each version uploaded once
mkdir -p "$wvault/many"
for i in $(seq 2000); do echo "file $i" >"$wvault/many/f$i"; done
before_agent=$(uploaded "$wstate")
before_server=$(server_blobs alice)
start_agent
killed=
for _ in $(seq 3000); do  # up to ~5 min under a loaded Wine
  a=$(uploaded "$wstate")
  s=$(server_blobs alice)
  # Published by the server, not yet recorded by the agent: the moment a re-upload would
  # store a second copy.
  if [ "$((s - before_server))" -gt "$((a - before_agent))" ] && [ "$(pending "$wstate")" -gt 0 ]; then
    kill -9 "$agent_pid"
    killed="agent $((a - before_agent)), server $((s - before_server))"
    break
  fi
  sleep 0.05
done
stop_agent
[ -n "$killed" ] || fail "never saw an upload published and not yet recorded"
start_agent
wait_synced "$wstate" 300 "$((before_agent + 2001))" ||
  fail "after the restart, not all uploaded: pending $(pending "$wstate")"
[ "$(server_blobs alice)" = "$(uploaded "$wstate")" ] ||
  fail "server blobs $(server_blobs alice), versions recorded uploaded $(uploaded "$wstate")"
rm -rf "$tmp/restored"
run "$cv" restore "${remote[@]}" --token-file "$tmp/token" "${linux_card[@]}" \
  --target "$tmp/restored"
[ "$rc" = 0 ] || fail "Linux restore --card after the crash: exit $rc: $out"
diff -r "$wvault" "$tmp/restored" >"$tmp/diff" 2>&1 || fail "restored tree differs: $(head "$tmp/diff")"
pass "killed (kill -9) syncing 2,000 files with uploads unrecorded ($killed), restarted: each version once on the server, restore byte-identical ($(took))"
kill -INT "$agent_pid"
wait "$agent_pid" || fail "the restarted agent did not stop cleanly"
agent_pid=

# ---- 4. a Linux agent's folder restored on Windows, adopted, changed there
"$server" --data "$tmp/srv" user add bob >/dev/null 2>&1
bob=$("$server" --data "$tmp/srv" token issue bob 2>&1 | grep -o 'cvt_[^ ]*' | head -n 1)
(umask 077 && echo "$bob" >"$tmp/bob-token")
rm -rf "$XDG_CONFIG_HOME"
mkdir -p "$tmp/lvault/dir"
echo "from linux" >"$tmp/lvault/a.txt"
echo "nested" >"$tmp/lvault/dir/b.txt"
run "$cv" init --vault "$tmp/lvault" "${remote[@]}" --token-file "$tmp/bob-token" \
  --recipient "$recipient"
[ "$rc" = 0 ] || fail "Linux init (bob): $out"
run "$cv" sync --once
[ "$rc" = 0 ] || fail "Linux sync --once (bob): $out"
run win "$exe" restore "${remote[@]}" --token-file "$(z "$tmp/bob-token")" "${win_card[@]}" \
  --target "$(z "$tmp/wvault2")"
[ "$rc" = 0 ] || fail "cardvault.exe restore --card: exit $rc: $out"
W2=(--config "$(z "$tmp/win2/config.json")")
run win "$exe" "${W2[@]}" init --vault "$(z "$tmp/wvault2")" "${remote[@]}" \
  --token-file "$(z "$tmp/bob-token")" --recipient "$recipient" --state-dir "$(z "$tmp/wstate2")"
[ "$rc" = 0 ] || fail "cardvault.exe init (bob): exit $rc: $out; $(ls -lR "$tmp/win2" "$tmp/wstate2" 2>&1 | head -n 12)"
run win "$exe" "${W2[@]}" adopt "${win_card[@]}"
[ "$rc" = 0 ] || fail "cardvault.exe adopt: exit $rc: $out"
bob_before=$(server_blobs bob)
echo "changed on windows" >"$tmp/wvault2/dir/b.txt"
run win "$exe" "${W2[@]}" sync --once
[ "$rc" = 0 ] || fail "cardvault.exe sync --once after adopt: exit $rc: $out"
[ "$(server_blobs bob)" = "$((bob_before + 1))" ] ||
  fail "after adopt, one change made $(($(server_blobs bob) - bob_before)) uploads"
run "$cv" restore "${remote[@]}" --token-file "$tmp/bob-token" "${linux_card[@]}" \
  --target "$tmp/restored2"
[ "$rc" = 0 ] || fail "Linux restore (bob): exit $rc: $out"
diff -r "$tmp/wvault2" "$tmp/restored2" >"$tmp/diff" 2>&1 ||
  fail "the change made on Windows did not reach Linux: $(cat "$tmp/diff")"
pass "a Linux agent's folder restored and adopted by cardvault.exe; one change synced from Windows (one upload) reaches a Linux restore ($(took))"

echo "agent_test: all $checks checks passed"
