# shellcheck shell=bash disable=SC2034  # (the variables set here are the drivers')
# Sourced by the drivers in tests/windows/ and bench/windows_agent_bench.sh: what each one needs
# around its checks.
#   driver_paths LINUX_BUILD WINDOWS_BUILD  sets linux_build, windows_build (absolute), src (the
#                          checkout), cv and server (Linux), exe (cardvault.exe), import_key
#                          (capi_import_key.exe), softhsm (the SoftHSM2 module) and provider
#                          (MS_ENH_RSA_AES_PROV: Wine has no smart card provider)
#   driver_need FILE...    exits (1) naming the first FILE that is missing
#   driver_start PREFIX    makes $tmp (removed at exit, after stopping $server_pid if set);
#                          exports WINEDEBUG and WINEDLLOVERRIDES (headless, no Mono/Gecko
#                          prompt) unless set, and, when WINEPREFIX is not set (a driver run by
#                          hand), makes a Wine prefix in $tmp/wine, stopped and removed at exit.
#                          scripts/test-windows.sh exports a fresh prefix for all the drivers.
#   pass TEXT / fail TEXT  count a check / end the driver with a failure
#   wine_run PROGRAM ARGS  a Windows program under Wine; Windows text mode's CR LF line
#                          ends are dropped, so outputs compare with Linux's
#   z PATH                 the Windows view of a Linux path (Wine's drive Z: is the root)
#   run COMMAND ARGS       keeps the exit code in $rc and stdout then stderr in $out
#   card_key_on_both LABEL NAME  one fresh RSA-2048 key as "the card" on both systems
#   keys_of                "KEY_ID RECIPIENT" of each key a `card list` output (stdin) shows
#   same_restore_counts WIN_OUT LINUX_OUT KEY...  the two `restore --json` summaries agree
#   restore_field OUT KEY  prints KEY of a `restore --json` summary
#   start_linux_server     lib/linux_server.sh: cardvault-server on 127.0.0.1 for the checks
# shellcheck source=tests/windows/lib/linux_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/linux_server.sh"
driver_paths() {
  linux_build=$(cd "$1" && pwd)
  windows_build=$(cd "$2" && pwd)
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
  cv=$linux_build/agent/cardvault
  server=$linux_build/api/cardvault-server
  exe=$windows_build/agent/cardvault.exe
  import_key=$windows_build/tests/core/capi/capi_import_key.exe
  softhsm=/usr/lib/softhsm/libsofthsm2.so
  provider="Microsoft Enhanced RSA and AES Cryptographic Provider"
}
driver_need() {
  local f
  for f; do
    [ -f "$f" ] || { echo "$(basename "$0" .sh): $f is missing (build it first)" >&2; exit 1; }
  done
}
driver_start() {
  tmp=$(mktemp -d "/tmp/$1-XXXXXX")
  server_pid=
  checks=0
  own_prefix=
  trap driver_cleanup EXIT
  export WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
  if [ -z "${WINEPREFIX:-}" ]; then
    export WINEPREFIX=$tmp/wine
    own_prefix=1
    wineboot -i >/dev/null 2>&1
    wineserver -w
  fi
}
driver_cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$own_prefix" ]; then wineserver -k >/dev/null 2>&1 || true; fi
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
# Runs a command: its output (stdout and stderr) in $out, its exit code in $rc. A failure with
# no output at all (a process that died before it could print, or a stdout buffer lost in a
# crash) says so, with the code, so that a failure message is never blank.
run() {
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" != 0 ] && [ -z "$out" ]; then out="(no output at all; exit code $rc)"; fi
}
# The same RSA-2048 key on two PCs: a SoftHSM2 token LABEL on Linux (PIN 123456 in $tmp/pin)
# and a CryptoAPI key container under Wine, cv-NAME-<random> (unique per run), imported by
# capi_import_key.exe. Sets and exports SOFTHSM2_CONF; sets container and linux_card (the
# Linux --card flags).
card_key_on_both() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/card.pem" 2>/dev/null
  export SOFTHSM2_CONF=$tmp/softhsm2.conf
  mkdir -p "$tmp/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$tmp/tokens" >"$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label "$1" --pin 123456 --so-pin 12345678 >/dev/null
  softhsm2-util --import "$tmp/card.pem" --token "$1" --label cardvault --id 01 \
    --pin 123456 >/dev/null
  (umask 077 && echo 123456 >"$tmp/pin")
  container=cv-$2-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  run wine_run "$import_key" "$(z "$tmp/card.pem")" "$container"
  [ "$rc" = 0 ] || fail "capi_import_key: exit $rc: $out"
  linux_card=(--card --module "$softhsm" --token "$1" --pin-file "$tmp/pin")
}
keys_of() { awk '/ key id /{sub(/.*key id /, ""); id=$1} /^ *recipient /{print id, $2}'; }
# The summary is the first JSON object of each output (the human line on stderr follows it).
restore_field() {
  python3 -c 'import json, sys
s = sys.argv[1]
print(json.JSONDecoder().raw_decode(s[s.index("{"):])[0].get(sys.argv[2]))' "$1" "$2"
}
same_restore_counts() {
  python3 - "$@" <<'EOF'
import json, sys
win, linux = (json.JSONDecoder().raw_decode(s[s.index("{"):])[0] for s in sys.argv[1:3])
keys = sys.argv[3:]
missing = [k for k in keys if k not in win or k not in linux]
if missing:
    sys.exit(f"restore --json: missing fields: {missing}")
differ = {k: (win[k], linux[k]) for k in keys if win[k] != linux[k]}
if differ:
    sys.exit(f"restore --json: Windows vs Linux: {differ}")
EOF
}
