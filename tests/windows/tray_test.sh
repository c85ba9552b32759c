#!/usr/bin/env bash
# The Win32 tray (cardvault-tray.exe, docs/windows.md "Tray") under Wine on a virtual X
# display: Xvfb with trayer as the tray host (Wine's explorer docks each notification icon
# into an X system tray by XEmbed; Wine 8's virtual desktop taskbar has no notification area,
# docs/windows.md). In checks 1-7 the agent is a stand-in, so that every state can be made on
# demand: tray_test_tool.exe serve, a real ControlServer on a named pipe answering "status"
# from a file the driver writes; check 8 runs the real agent. Run by scripts/test-windows.sh
# (WINEPREFIX, WINEDEBUG, WINEDLLOVERRIDES exported; by hand, lib/driver.sh makes a prefix).
# Skipped when Xvfb or trayer is missing.
# Usage: tray_test.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR
#
#  1. the icon docks inside trayer's panel, green (up to date); the tooltip the tray host
#     shows on hovering has the counts;
#  2. the state follows the agent: 3 pending -> blue "syncing", tooltip "3 pending";
#  3. Pause syncing, picked from the menu a right click on the icon opens, reaches the agent
#     ("pause" on the pipe): orange, tooltip "paused"; Resume syncing the same way;
#  4. a failed file: the tray host shows one balloon with its path and detail; two more
#     within 10 s: no second balloon yet;
#  5. the agent gone -> grey "agent not running";
#  6. a second cardvault-tray.exe for the same user and pipe exits at once;
#  7. Quit, from the menu, removes the icon and ends the tray;
#  8. the real agent (its config and state in $tmp: nothing is left in the prefix, so a second
#     run in the same prefix starts as the first did) syncing to the Linux cardvault-server on
#     127.0.0.1: the tray on the default pipe shows its uploads ("1 uploaded", then "6
#     uploaded" after 5 new files), and Pause syncing from the menu pauses it
#     (`cardvault.exe status`). Skipped, saying so, with a cardvault.exe that has no `run`.
# Screenshots (BMP) stay in WINDOWS_BUILD_DIR/test-artifacts/tray/.
set -euo pipefail
# shellcheck source=tests/windows/lib/driver.sh
. "$(dirname "$0")/lib/driver.sh"
driver_paths "$1" "$2"
# Check 8's agent: this build's, or CARDVAULT_TRAY_TEST_AGENT (another build's cardvault.exe).
agent_exe=${CARDVAULT_TRAY_TEST_AGENT:-$exe}
tray=$windows_build/agent/tray/windows/cardvault-tray.exe
tool=$windows_build/tests/agent/tray/windows/tray_test_tool.exe
driver_need "$tray" "$tool"
for p in Xvfb trayer xwininfo; do
  command -v "$p" >/dev/null || { echo "  skipped: $p is not installed"; exit 0; }
done
artifacts=$windows_build/test-artifacts/tray
rm -rf "$artifacts"
mkdir -p "$artifacts"
driver_start cv-tray
pids=()
tray_cleanup() {
  touch "$tmp/agent/stop" 2>/dev/null || true
  wineserver -k >/dev/null 2>&1 || true  # this driver's Wine session had a display
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  driver_cleanup
}
trap tray_cleanup EXIT

# Waits up to 30 s (and 150 tries) for the command to succeed.
wait_for() {
  local _ end=$((SECONDS + 30))
  for _ in $(seq 1 150); do
    if "$@"; then return 0; fi
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
  return 1
}
in_log() { grep -qF -- "$2" "$1"; }
# Screenshot NAME: saves the screen as $artifacts/NAME.bmp; sets $pixels ("STATE N" lines).
screenshot() {
  pixels=$(wine "$tool" screenshot "$(z "$artifacts/$1.bmp")" 2>/dev/null | tr -d '\r')
}
pixels_of() { echo "$pixels" | awk -v s="pixels $1" 'index($0, s " ") == 1 { print $NF }'; }
# Shows STATE: its colour on screen (at least 40 pixels: the icon) and no other state's.
shows() {
  local s
  screenshot "$2"
  [ "$(pixels_of "$1")" -ge 40 ] || return 1
  for s in "agent not running" "up to date" "syncing" "paused" "error"; do
    [ "$s" = "$1" ] || [ "$(pixels_of "$s")" -eq 0 ] || return 1
  done
}
status() {  # PENDING: the stand-in agent's next status answer
  printf '{"state":"running","pending":%s,"uploaded":41,"failed":0,"last_success_ns":0,"vault_dir":"%s","last_error":""}\n' \
    "$1" "$(z "$tmp/Vault" | sed 's/\\/\\\\/g')" >"$tmp/agent/status.json"
}

mkdir -p "$tmp/agent" "$tmp/Vault"
exec 3>"$tmp/display"
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
exec 3>&-
wait_for test -s "$tmp/display" || fail "Xvfb did not start: $(cat "$tmp/xvfb.log")"
DISPLAY=":$(head -n1 "$tmp/display")"
export DISPLAY
wineserver -k >/dev/null 2>&1 || true  # a session started without a display has no tray
trayer --edge bottom --align right --widthtype pixel --width 120 --heighttype pixel \
  --height 24 >"$tmp/trayer.log" 2>&1 &
pids+=($!)
pipe='\\.\pipe\cv-tray-test-'$RANDOM$RANDOM
status 0
wine "$tool" serve "$pipe" "$(z "$tmp/agent")" >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_for in_log "$tmp/serve.log" "serving" || fail "the stand-in agent did not start: $(cat "$tmp/serve.log")"
wine "$tray" --pipe "$pipe" >"$tmp/tray.log" 2>&1 &
tray_pid=$!
pids+=("$tray_pid")

# 1. Docked, up to date.
wait_for in_log "$tmp/tray.log" "shown in the notification area" ||
  fail "the icon was not shown: $(cat "$tmp/tray.log")"
# Sets icon_x, icon_y: the centre of the explorer.exe window inside trayer's panel.
docked() {
  local at
  at=$(xwininfo -root -tree | awk '/"panel": \("panel" "trayer"\)/ { p = 1; next }
    p && /^     0x/ { p = 0 }
    p && /\("explorer.exe" "explorer.exe"\)/ { print $(NF - 1), $NF; exit }')
  [ -n "$at" ] || return 1
  # "WxH+x+y +X+Y": size, then the absolute position.
  read -r icon_x icon_y < <(echo "$at" | awk '{ split($1, s, /[x+]/); split($2, a, "+");
    print a[2] + int(s[1] / 2), a[3] + int(s[2] / 2) }')
}
wait_for docked || fail "no icon window inside trayer's panel: $(xwininfo -root -tree)"
wait_for in_log "$tmp/tray.log" "state: up to date," || fail "never up to date: $(cat "$tmp/tray.log")"
# The tooltip as the tray host shows it when the mouse is on the icon.
tooltip_is() {
  tip=$(wine "$tool" tooltip "$icon_x" "$icon_y" 2>&1 | tr -d '\r')
  [ "$tip" = "$1" ]
}
wait_for tooltip_is $'cardvault: up to date\n0 pending, 41 uploaded, 0 failed\nLast upload: never' ||
  fail "the tooltip is not the up-to-date one: $tip"
wait_for shows "up to date" 1-up-to-date || fail "no green icon on screen: $pixels"
pass "the icon docks in trayer's panel ($icon_x,$icon_y), green, tooltip '0 pending, 41 uploaded, 0 failed'"

# 2. The state follows the agent.
status 3
wait_for in_log "$tmp/tray.log" "state: syncing," || fail "never syncing: $(cat "$tmp/tray.log")"
wait_for tooltip_is $'cardvault: syncing\n3 pending, 41 uploaded, 0 failed\nLast upload: never' ||
  fail "the tooltip is not the syncing one: $tip"
wait_for shows syncing 2-syncing || fail "no blue icon on screen: $pixels"
pass "3 pending: blue, tooltip '3 pending'"

# 3. The menu: its items are status, Pause/Resume, Sync now, Open folder, Quit (arrow presses
# 1 to 5; the disabled ones count).
run wine "$tool" menu-pick "$icon_x" "$icon_y" 2 "$(z "$artifacts/3-menu.bmp")"
[ "$rc" -eq 0 ] || fail "the menu did not open: $out"
wait_for in_log "$tmp/agent/commands.log" "pause" || fail "pause never reached the agent"
wait_for in_log "$tmp/tray.log" "state: paused," || fail "never paused: $(cat "$tmp/tray.log")"
wait_for tooltip_is $'cardvault: paused\n3 pending, 41 uploaded, 0 failed\nLast upload: never' ||
  fail "the tooltip is not the paused one: $tip"
wait_for shows paused 3-paused || fail "no orange icon on screen: $pixels"
run wine "$tool" menu-pick "$icon_x" "$icon_y" 2
[ "$rc" -eq 0 ] || fail "the menu did not open again: $out"
wait_for in_log "$tmp/agent/commands.log" "resume" || fail "resume never reached the agent"
wait_for shows syncing 3-resumed || fail "not blue again after Resume: $pixels"
pass "Pause syncing from the menu sends 'pause' on the pipe (orange, 'paused'); Resume syncing 'resume'"

# 4. A failed file: one balloon; more within the gap are held back.
echo '{"event":"file_failed","path":"a.txt","detail":"server refused: quota"}' >"$tmp/agent/events.jsonl"
wait_for in_log "$tmp/tray.log" "notice: cardvault: a file could not be protected: a.txt: server refused: quota" ||
  fail "no balloon for the failed file: $(cat "$tmp/tray.log")"
run wine "$tool" balloon "a.txt: server refused: quota"
if [ "$rc" -ne 0 ] || [ "$(echo "$out" | tr -d '\r')" != "a.txt: server refused: quota" ]; then
  fail "the tray host shows no balloon with the failure: $out"
fi
screenshot 4-balloon
printf '%s\n' '{"event":"file_failed","path":"b.txt"}' '{"event":"file_uploaded","path":"c.txt"}' \
  '{"event":"file_failed","path":"d.txt"}' >"$tmp/agent/events.jsonl"
wait_for test ! -e "$tmp/agent/events.jsonl"
sleep 1
[ "$(grep -c "notice:" "$tmp/tray.log")" -eq 1 ] || fail "more than one balloon within 10 s: $(cat "$tmp/tray.log")"
pass "a failed file: the tray host shows a balloon with its path; two more within 10 s none yet"

# 5. The agent gone.
touch "$tmp/agent/stop"
wait_for in_log "$tmp/tray.log" "state: agent not running" || fail "agent not running never shown"
wait_for shows "agent not running" 5-agent-not-running || fail "no grey icon on screen: $pixels"
pass "the agent gone: grey, 'agent not running'"

# 6. One tray per user and pipe.
run wine "$tray" --pipe "$pipe"
if [ "$rc" -ne 0 ] || [[ $out != *"already running for this user"* ]]; then
  fail "a second tray started: $out"
fi
pass "a second cardvault-tray.exe for the same pipe exits at once ($rc)"

# 7. Quit.
run wine "$tool" menu-pick "$icon_x" "$icon_y" 5
[ "$rc" -eq 0 ] || fail "the menu did not open for Quit: $out"
wait_for in_log "$tmp/tray.log" "cardvault-tray: quit" || fail "Quit did not end the tray"
wait "$tray_pid" || fail "the tray exited with $?"
screenshot 7-quit
for s in "agent not running" "up to date" "syncing" "paused" "error"; do
  [ "$(pixels_of "$s")" -eq 0 ] || fail "an icon is still on screen after Quit: $pixels"
done
pass "Quit from the menu removes the icon and ends the tray"

# 8. The real agent, once cardvault.exe runs it.
if ! wine "$agent_exe" --help 2>/dev/null | grep -qE '^  run +'; then
  echo "  skipped: cardvault.exe has no 'run' command in this build (branch winagent): the tray followed the stand-in agent only"
else
  start_linux_server
  run wine "$agent_exe" keygen -o "$(z "$tmp/id.key")"
  recipient=$(echo "$out" | grep -o 'cv-x25519-[0-9a-f]*' | head -n 1)
  [ -n "$recipient" ] || fail "cardvault.exe keygen: $out"
  mkdir -p "$tmp/real"
  echo "first" >"$tmp/real/a.txt"
  # Its config and state in $tmp, removed at the end: a second run in the same Wine prefix
  # starts as afresh as the first (the profile's %APPDATA%\cardvault is left alone).
  A=(--config "$(z "$tmp/agent-config.json")")
  run wine "$agent_exe" "${A[@]}" init --vault "$(z "$tmp/real")" --server "$url" \
    --fingerprint "$fingerprint" --token-file "$(z "$tmp/token")" --recipient "$recipient" \
    --state-dir "$(z "$tmp/agent-state")"
  [ "$rc" -eq 0 ] || fail "cardvault.exe init: $out"
  wine "$agent_exe" "${A[@]}" run >"$tmp/agent.log" 2>&1 &
  pids+=($!)
  wine "$tray" >"$tmp/tray-real.log" 2>&1 &
  pids+=($!)
  wait_for in_log "$tmp/tray-real.log" "shown in the notification area" ||
    fail "the icon was not shown: $(cat "$tmp/tray-real.log")"
  wait_for docked || fail "no icon window inside trayer's panel: $(xwininfo -root -tree)"
  tooltip_has() {
    tip=$(wine "$tool" tooltip "$icon_x" "$icon_y" 2>&1 | tr -d '\r')
    [[ $tip == *"$1"* ]]
  }
  wait_for tooltip_has $'cardvault: up to date\n0 pending, 1 uploaded, 0 failed' ||
    fail "the tooltip does not show the agent's upload: $tip; agent: $(tail -n 5 "$tmp/agent.log")"
  for i in 1 2 3 4 5; do echo "file $i" >"$tmp/real/f$i.txt"; done
  wait_for tooltip_has $'cardvault: up to date\n0 pending, 6 uploaded, 0 failed' ||
    fail "the tooltip does not follow the agent's uploads: $tip"
  run wine "$tool" menu-pick "$icon_x" "$icon_y" 2
  [ "$rc" -eq 0 ] || fail "the menu did not open: $out"
  agent_paused() {
    run wine "$agent_exe" "${A[@]}" status
    [[ $out == *paused* ]]
  }
  wait_for agent_paused || fail "Pause syncing did not pause the agent: $out"
  wait_for shows paused 8-real-agent-paused || fail "no orange icon on screen: $pixels"
  pass "a real cardvault.exe run: the tooltip follows its uploads (1, then 6), Pause syncing pauses it"
fi
echo "  screenshots: $artifacts"
