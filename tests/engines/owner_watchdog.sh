#!/bin/bash
# A watchdog for a throwaway test engine: once process OWNER_PID is gone (a test binary that
# exited or was killed with SIGKILL), runs STOP_COMMAND and removes DIR, so nothing is left
# running or on disk. It exits early, doing nothing, when DIR disappears (the owner stopped
# the engine itself). Checked every second for at most 12 hours.
#
#   owner_watchdog.sh OWNER_PID DIR STOP_COMMAND...
#
# It detaches itself (new session, no terminal, stdio on /dev/null) and returns at once;
# used by radosgw.sh (OWNER_PID) and tests/storage/pg_cluster.cc.
set -euo pipefail

[ $# -ge 3 ] || {
  echo "usage: owner_watchdog.sh OWNER_PID DIR STOP_COMMAND..." >&2
  exit 2
}
if [ -z "${CV_WATCHDOG_DETACHED:-}" ]; then
  # Nothing of the caller's but the arguments: no descriptor of it is held open.
  for fd in "/proc/$$/fd/"*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  CV_WATCHDOG_DETACHED=1 setsid bash "$(realpath "${BASH_SOURCE[0]}")" "$@" \
    </dev/null >/dev/null 2>&1 &
  exit 0
fi

owner=$1
dir=$2
shift 2
for _ in $(seq 1 43200); do
  kill -0 "$owner" 2>/dev/null || break
  [ -d "$dir" ] || exit 0
  sleep 1
done
[ -d "$dir" ] || exit 0
"$@" || true
rm -rf "$dir"
