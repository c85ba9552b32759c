#!/usr/bin/env bash
# cardvault.exe under Wine against the Linux programs (docs/windows.md, "Testing"): run by
# scripts/test-windows.sh, which makes the Wine prefix and exports WINEPREFIX, WINEDEBUG and
# WINEDLLOVERRIDES. Usage: cardvault_exe_test.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR
#
#  1. keygen, encrypt, decrypt -i, inspect cross both ways, byte-identical (software identity);
#  2. every committed X25519 vector: cardvault.exe gives Linux's exit code, message and bytes;
#  3. a folder synced by the Linux agent (`sync --once`) to a Linux cardvault-server on
#     127.0.0.1 (pinned fingerprint) is restored by cardvault.exe byte-identical (a
#     subdirectory, an empty file, an empty directory, a UTF-8 name, a streamed large file);
#     `ls` and `versions` print what Linux prints (they have no --json yet); `restore --json`
#     counts agree;
#  4. a restore target holding a reparse point (a Unix symlink to a directory, which Wine shows
#     as one) that points outside receives nothing through it, and the exit code is Linux's;
#  5. a card error's advice names Windows' flags and tools (--provider), not PKCS#11's.
# Prints one line per check; exits non-zero on the first failure, after cleaning up.
set -euo pipefail
# shellcheck source=tests/windows/lib/driver.sh
. "$(dirname "$0")/lib/driver.sh"
driver_paths "$1" "$2"
driver_need "$cv" "$server" "$exe"
driver_start cv-winexe
# cardvault.exe under Wine, with Linux paths seen through Wine's drive Z: (z).
win() { wine_run "$exe" "$@"; }

echo "== cardvault.exe against Linux (tests/windows/cardvault_exe_test.sh)"

# ---- 1. software identities and single files, both ways
recipient=$("$cv" keygen -o "$tmp/linux.key" 2>/dev/null)
win_recipient=$(win keygen -o "$(z "$tmp/win.key")" 2>/dev/null)
[[ $win_recipient == cv-x25519-* ]] || fail "cardvault.exe keygen printed '$win_recipient'"
head -c 300000 /dev/urandom >"$tmp/plain.bin"  # five chunks
: >"$tmp/empty.txt"
for f in plain.bin empty.txt; do
  "$cv" encrypt -r "$recipient" -r "$win_recipient" -o "$tmp/$f.linux.cvb" "$tmp/$f" 2>/dev/null
  win decrypt -i "$(z "$tmp/win.key")" -o "$(z "$tmp/$f.from-linux")" "$(z "$tmp/$f.linux.cvb")" \
    2>/dev/null
  cmp "$tmp/$f" "$tmp/$f.from-linux" || fail "Linux -> Windows: $f differs"
  win encrypt -r "$recipient" -o "$(z "$tmp/$f.win.cvb")" "$(z "$tmp/$f")" 2>/dev/null
  "$cv" decrypt -i "$tmp/linux.key" -o "$tmp/$f.from-win" "$tmp/$f.win.cvb" 2>/dev/null
  cmp "$tmp/$f" "$tmp/$f.from-win" || fail "Windows -> Linux: $f differs"
done
pass "encrypt on one system, decrypt -i on the other, byte-identical (keys from both keygens)"
[ "$(win inspect "$(z "$tmp/plain.bin.linux.cvb")")" = "$("$cv" inspect "$tmp/plain.bin.linux.cvb")" ] ||
  fail "inspect differs"
pass "inspect prints what Linux prints"

# ---- 2. the committed X25519 vectors (the card vectors need --card: core_test.exe opens
# them with the reference identity, capi_test.exe with CryptoAPI)
vectors=$src/tests/vectors
n=0
mkdir "$tmp/linux" "$tmp/win"
while read -r name blob; do
  run "$cv" decrypt -i "$vectors/identity_primary.key" -o "$tmp/linux/out" "$vectors/$blob"
  linux_rc=$rc linux_out=${out//$vectors/V}
  run win decrypt -i "$(z "$vectors/identity_primary.key")" -o "$(z "$tmp/win/out")" \
    "$(z "$vectors/$blob")"
  win_out=${out//Z:$vectors/V}
  [ "$rc" = "$linux_rc" ] || fail "vector $name: exit $rc, Linux $linux_rc: $out"
  [ "${win_out//Z:$tmp\/win/D}" = "${linux_out//$tmp\/linux/D}" ] ||
    fail "vector $name: '$win_out' where Linux says '$linux_out'"
  if [ "$rc" = 0 ]; then
    cmp "$tmp/linux/out" "$tmp/win/out" || fail "vector $name: plaintexts differ"
  fi
  rm -f "$tmp/linux/out" "$tmp/win/out"
  n=$((n + 1))
done < <(awk '/^name: /{n=$2} /^blob: /{b=$2} /^identity: /{print n, b}' "$vectors/vectors.txt")
[ "$n" -ge 30 ] || fail "only $n X25519 vectors found in $vectors/vectors.txt"
pass "$n committed X25519 vectors: same exit code, message and plaintext as Linux"

# ---- 3. a folder synced by the Linux agent, restored by cardvault.exe
start_linux_server

vault=$tmp/vault
mkdir -p "$vault/sub/deeper" "$vault/empty dir"
echo "top level" >"$vault/a.txt"
: >"$vault/empty.txt"
head -c 200000 /dev/urandom >"$vault/sub/b.bin"
echo "two levels down" >"$vault/sub/deeper/c.txt"
echo "ünïcödé" >"$vault/sub/ünï cødé.txt"
head -c $((9 * 1024 * 1024)) /dev/urandom >"$vault/large.bin"  # streamed (format v2)
export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
"$cv" init --vault "$vault" --server "$url" --fingerprint "$fingerprint" \
  --token-file "$tmp/token" --recipient "$recipient" >/dev/null 2>&1
run "$cv" sync --once
[ "$rc" = 0 ] || fail "Linux sync --once: $out"
pass "the Linux agent synced the folder to cardvault-server on 127.0.0.1"

remote_linux=(--server "$url" --fingerprint "$fingerprint" --token-file "$tmp/token"
              -i "$tmp/linux.key")
remote_win=(--server "$url" --fingerprint "$fingerprint" --token-file "$(z "$tmp/token")"
            -i "$(z "$tmp/linux.key")")
run win restore "${remote_win[@]}" --target "$(z "$tmp/restored")" --json
[ "$rc" = 0 ] || fail "cardvault.exe restore: exit $rc: $out"
win_summary=$out
diff -r "$vault" "$tmp/restored" >"$tmp/diff" 2>&1 || fail "restored tree differs: $(cat "$tmp/diff")"
[ -d "$tmp/restored/empty dir" ] || fail "the empty directory was not restored"
[ ! -e "$tmp/restored/.cardvault-restore" ] || fail "the staging directory was left behind"
pass "cardvault.exe restore: byte-identical tree (subdirectories, empty file and directory, UTF-8 name, 9 MiB file)"

run "$cv" restore "${remote_linux[@]}" --target "$tmp/restored-linux" --json
[ "$rc" = 0 ] || fail "Linux restore: $out"
same_restore_counts "$win_summary" "$out" restored directories identical skipped failed renamed \
  damaged unopenable epochs bytes_written card_operations || fail "restore --json summaries differ"
pass "restore --json: the same counts as Linux's restore"

# ls and versions have no --json yet: their text (local times) is compared, in UTC on both.
export TZ=UTC
for args in "ls" "ls --versions --deleted" "versions sub/b.bin"; do
  # shellcheck disable=SC2086
  run "$cv" $args "${remote_linux[@]}"
  [ "$rc" = 0 ] || fail "Linux $args: exit $rc: $out"
  linux_out=$out
  # shellcheck disable=SC2086
  run win $args "${remote_win[@]}"
  [ "$rc" = 0 ] || fail "cardvault.exe $args: exit $rc: $out"
  [ "$out" = "$linux_out" ] || fail "$args: Windows printed '$out', Linux '$linux_out'"
done
pass "ls, ls --versions --deleted, versions FILE: identical to Linux's output"

# ---- 4. a reparse point in the target pointing outside
for side in linux win; do
  mkdir -p "$tmp/trap-$side" "$tmp/outside-$side"
  ln -s "../outside-$side" "$tmp/trap-$side/sub"
done
run "$cv" restore "${remote_linux[@]}" --target "$tmp/trap-linux"
linux_rc=$rc
run win restore "${remote_win[@]}" --target "$(z "$tmp/trap-win")"
[ -z "$(ls -A "$tmp/outside-win")" ] || fail "restore wrote through the reparse point: $(ls -R "$tmp/outside-win")"
[ -L "$tmp/trap-win/sub" ] || fail "the reparse point was replaced"
[ "$rc" = "$linux_rc" ] || fail "exit $rc where Linux exits $linux_rc: $out"
cmp "$vault/a.txt" "$tmp/trap-win/a.txt" || fail "the files beside the reparse point were not restored"
pass "a reparse point to outside the target receives nothing (exit $rc, as on Linux)"

# ---- 5. a card error's advice names Windows' flags and tools, never PKCS#11's
run win card list --provider "No Such Provider"
[ "$rc" = 1 ] || fail "card list with an unknown provider exited $rc: $out"
[[ $out == *module_missing* && $out == *--provider* && $out == *certutil* ]] ||
  fail "no Windows advice for a missing provider: $out"
[[ $out != *PKCS#11* && $out != *--module* && $out != *opensc* ]] ||
  fail "the advice names the Linux backend: $out"
pass "an unknown provider: module_missing with Windows' advice (--provider, certutil), no PKCS#11"

echo "cardvault_exe_test: all $checks checks passed"
