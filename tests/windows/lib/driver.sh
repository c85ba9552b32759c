# Sourced by the drivers in tests/windows/: what each one needs around its checks.
#   driver_start PREFIX  makes $tmp (removed at exit, after stopping $server_pid if set)
#   pass TEXT / fail TEXT  count a check / end the driver with a failure
#   wine_run PROGRAM ARGS  a Windows program under Wine; Windows text mode's CR LF line
#                          ends are dropped, so outputs compare with Linux's
#   z PATH                 the Windows view of a Linux path (Wine's drive Z: is the root)
#   run COMMAND ARGS       keeps the exit code in $rc and stdout then stderr in $out
driver_start() {
  tmp=$(mktemp -d "/tmp/$1-XXXXXX")
  server_pid=
  checks=0
  trap driver_cleanup EXIT
}
driver_cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
pass() { checks=$((checks + 1)); echo "  ok: $*"; }
fail() { echo "  FAILED: $*" >&2; exit 1; }
wine_run() {
  local rc=0
  wine "$@" >"$tmp/win.stdout" 2>"$tmp/win.stderr" || rc=$?
  tr -d '\r' <"$tmp/win.stdout"
  tr -d '\r' <"$tmp/win.stderr" >&2
  return "$rc"
}
z() { echo "Z:$1"; }
run() {
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
}
