#!/usr/bin/env bash
# The agent's uploads as cardvault.exe under Wine beside the Linux agent, against the same Linux
# cardvault-server on 127.0.0.1 in the same run (issue 19; docs/windows.md): `sync --once` of
# FILES files of 1 KiB, then of one file of BIG_MIB MiB, each from a fresh state database and
# a fresh server user, median of 3 runs each, and the ratio Wine / Linux. The Linux agent's
# full benchmark (restore, latency, curl and rclone baselines) is bench/sync_bench.cc.
# Usage: bench/windows_agent_bench.sh [LINUX_BUILD_DIR [WINDOWS_BUILD_DIR [FILES [BIG_MIB]]]]
#        (defaults: build, build-windows, 10000, 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${3:-10000}
big_mib=${4:-1024}
# shellcheck source=tests/windows/lib/driver.sh
. tests/windows/lib/driver.sh
driver_paths "${1:-build}" "${2:-build-windows}"
driver_need "$cv" "$server" "$exe"
driver_start cv-winbench  # a Wine prefix of its own unless WINEPREFIX is set
wine "$exe" --help >/dev/null 2>&1  # a running wineserver: .exe starts take ~0.02 s

start_linux_server
recipient=$("$cv" keygen -o "$tmp/key" 2>/dev/null | head -n 1)
mkdir -p "$tmp/small" "$tmp/big"
for i in $(seq "$files"); do head -c 1024 /dev/urandom >"$tmp/small/f$i"; done
head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$tmp/big/blob.bin"

# Both agents at normal priority: low_priority is nice 9 on Linux and the idle class under Wine,
# which on a loaded machine would measure the scheduler, not the agent.
normal_priority() {
  python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
c["low_priority"] = False
json.dump(c, open(sys.argv[1], "w"), indent=2)' "$1"
}

# Seconds one `sync --once` of the folder $2 takes for the agent $1 (linux or wine), from a
# fresh state and a fresh server user $3 (a vault already on the server would be refused).
timed_sync() {
  local user=$3 dir=$tmp/$3 token
  mkdir -p "$dir"
  "$server" --data "$tmp/srv" user add "$user" >/dev/null 2>&1
  token=$("$server" --data "$tmp/srv" token issue "$user" 2>&1 | grep -o 'cvt_[^ ]*' | head -n 1)
  (umask 077 && echo "$token" >"$dir/token")
  local t0 t1
  if [ "$1" = linux ]; then
    export XDG_CONFIG_HOME=$dir/config XDG_DATA_HOME=$dir/data
    "$cv" init --vault "$2" --server "$url" --fingerprint "$fingerprint" \
      --token-file "$dir/token" --recipient "$recipient" >/dev/null
    normal_priority "$dir/config/cardvault/config.json"
    t0=$(date +%s.%N)
    "$cv" sync --once >/dev/null 2>&1 || fail "Linux sync --once of $2"
    t1=$(date +%s.%N)
  else
    local W=(--config "Z:$dir/config.json")
    wine "$exe" "${W[@]}" init --vault "Z:$2" --server "$url" --fingerprint "$fingerprint" \
      --token-file "Z:$dir/token" --recipient "$recipient" --state-dir "Z:$dir/state" >/dev/null
    normal_priority "$dir/config.json"
    t0=$(date +%s.%N)
    wine "$exe" "${W[@]}" sync --once >/dev/null 2>&1 || fail "cardvault.exe sync --once of $2"
    t1=$(date +%s.%N)
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
# $1 / $2 with `digits` decimals.
divide() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.*f", d, a / b }'; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

echo "windows_agent_bench: $files x 1 KiB and 1 x $big_mib MiB, median of 3, load $(cut -d' ' -f1 /proc/loadavg)"
for what in small big; do
  declare -A secs=()
  for agent in linux wine; do
    runs=()
    for i in 1 2 3; do runs+=("$(timed_sync "$agent" "$tmp/$what" "$what-$agent-$i")"); done
    secs[$agent]=$(median3 "${runs[@]}")
    if [ "$what" = small ]; then
      rate=$(divide "$files" "${secs[$agent]}" 0)
      echo "  $what $agent: ${secs[$agent]} s ($rate files/s; runs ${runs[*]})"
    else
      rate=$(divide "$big_mib" "${secs[$agent]}" 0)
      echo "  $what $agent: ${secs[$agent]} s ($rate MiB/s; runs ${runs[*]})"
    fi
  done
  echo "  $what: Wine / Linux = $(divide "${secs[wine]}" "${secs[linux]}" 2)"
  unset secs
done
