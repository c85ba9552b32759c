#!/usr/bin/env bash
# "The same card on two PCs" (issue 18, item 5; docs/windows.md, "Cross-OS round trips with a
# card"): one fresh RSA-2048 key, imported into a SoftHSM2 token on Linux and into a CryptoAPI
# key container under Wine (MS_ENH_RSA_AES_PROV, Wine having no smart card provider; imported
# by capi_import_key.exe, the capi tests' ImportRsaKey). Run by scripts/test-windows.sh, which
# makes the Wine prefix and exports WINEPREFIX, WINEDEBUG and WINEDLLOVERRIDES.
# Usage: cross_os_card_test.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR
#
#  1. `cardvault.exe card list` prints the same key id and cv-p11-... recipient as
#     `cardvault card list` on Linux for that key;
#  2. a file encrypted by cardvault.exe decrypts with `cardvault decrypt --card` (SoftHSM2), and
#     a file encrypted on Linux with `cardvault.exe decrypt --card`, byte-identical both ways;
#  3. a folder the Linux agent synced to a Linux cardvault-server on 127.0.0.1 (two key epochs:
#     a second recipient added between two syncs) is restored by `cardvault.exe restore --card`,
#     byte-identical, with one card operation per key epoch (`restore --json`), as on Linux.
# Prints one line per check; exits non-zero on the first failure, after cleaning up.
set -euo pipefail
# shellcheck source=tests/windows/lib/driver.sh
. "$(dirname "$0")/lib/driver.sh"
driver_paths "$1" "$2"
driver_need "$cv" "$server" "$exe" "$import_key" "$softhsm"
driver_start cv-xos
win() { wine_run "$@"; }

echo "== the same card key on Linux and Windows (tests/windows/cross_os_card_test.sh)"

# ---- the card on two PCs: one key, a SoftHSM2 token and a CryptoAPI container
card_key_on_both "xos card" xos
win_card=(--card --provider "$provider" --token "$container")

# ---- 1. card list: the same key id and recipient
run "$cv" card list --module "$softhsm"
[ "$rc" = 0 ] || fail "cardvault card list: exit $rc: $out"
linux_keys=$(keys_of <<<"$out")
run win "$exe" card list --provider "$provider"
[ "$rc" = 0 ] || fail "cardvault.exe card list: exit $rc: $out"
win_keys=$(keys_of <<<"$out")
[ "$(wc -l <<<"$linux_keys")" = 1 ] || fail "Linux card list shows keys '$linux_keys'"
[[ $linux_keys == [0-9a-f]*" cv-p11-"* ]] || fail "Linux card list: '$linux_keys'"
grep -qxF "$linux_keys" <<<"$win_keys" ||
  fail "cardvault.exe card list shows '$win_keys', Linux shows '$linux_keys'"
recipient=${linux_keys#* }
pass "card list: key id ${linux_keys%% *} and its cv-p11- recipient, the same on both systems"

# ---- 2. single files, both ways, with the card
head -c 300000 /dev/urandom >"$tmp/plain.bin"  # five chunks
"$cv" encrypt -r "$recipient" -o "$tmp/linux.cvb" "$tmp/plain.bin" 2>/dev/null
run win "$exe" decrypt "${win_card[@]}" -v -o "$(z "$tmp/from-linux")" "$(z "$tmp/linux.cvb")"
[ "$rc" = 0 ] || fail "cardvault.exe decrypt --card of Linux's blob: exit $rc: $out"
cmp "$tmp/plain.bin" "$tmp/from-linux" || fail "Linux -> Windows: the plaintext differs"
pass "encrypted on Linux, decrypted by cardvault.exe decrypt --card: byte-identical"
run win "$exe" encrypt -r "$recipient" -o "$(z "$tmp/win.cvb")" "$(z "$tmp/plain.bin")"
[ "$rc" = 0 ] || fail "cardvault.exe encrypt: exit $rc: $out"
run "$cv" decrypt "${linux_card[@]}" -o "$tmp/from-win" "$tmp/win.cvb"
[ "$rc" = 0 ] || fail "cardvault decrypt --card of cardvault.exe's blob: exit $rc: $out"
cmp "$tmp/plain.bin" "$tmp/from-win" || fail "Windows -> Linux: the plaintext differs"
pass "encrypted by cardvault.exe, decrypted by cardvault decrypt --card (SoftHSM2): byte-identical"

# ---- 3. a folder synced by the Linux agent in two key epochs, restored with the card
start_linux_server

vault=$tmp/vault
mkdir -p "$vault/sub"
echo "first epoch" >"$vault/a.txt"
head -c 200000 /dev/urandom >"$vault/sub/b.bin"
head -c $((9 * 1024 * 1024)) /dev/urandom >"$vault/large.bin"  # streamed (format v2)
export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data XDG_RUNTIME_DIR=$tmp/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
run "$cv" init --vault "$vault" --server "$url" --fingerprint "$fingerprint" \
  --token-file "$tmp/token" --recipient "$recipient"
[ "$rc" = 0 ] || fail "Linux init: $out"
run "$cv" sync --once
[ "$rc" = 0 ] || fail "Linux sync --once (first epoch): $out"
# A second recipient starts a new key epoch (docs/operations.md, "Cards over time").
backup=$("$cv" keygen -o "$tmp/backup.key" 2>/dev/null)
run "$cv" recipients add "$backup"
[ "$rc" = 0 ] || fail "Linux recipients add: $out"
echo "second epoch" >"$vault/a.txt"
echo "new in the second epoch" >"$vault/sub/c.txt"
run "$cv" sync --once
[ "$rc" = 0 ] || fail "Linux sync --once (second epoch): $out"
pass "the Linux agent synced the folder to cardvault-server on 127.0.0.1 in two key epochs"

remote=(--server "$url" --fingerprint "$fingerprint")
run win "$exe" restore "${remote[@]}" --token-file "$(z "$tmp/token")" "${win_card[@]}" \
  --pin-file "$(z "$tmp/pin")" --target "$(z "$tmp/restored")" --json
[ "$rc" = 0 ] || fail "cardvault.exe restore --card: exit $rc: $out"
win_summary=$out
diff -r "$vault" "$tmp/restored" >"$tmp/diff" 2>&1 || fail "restored tree differs: $(cat "$tmp/diff")"
pass "cardvault.exe restore --card: the Linux agent's folder, byte-identical (9 MiB file streamed)"

run "$cv" restore "${remote[@]}" --token-file "$tmp/token" "${linux_card[@]}" \
  --target "$tmp/restored-linux" --json
[ "$rc" = 0 ] || fail "Linux restore --card: exit $rc: $out"
same_restore_counts "$win_summary" "$out" restored directories bytes_written failed damaged \
  unopenable epochs card_operations || fail "restore --json: Windows vs Linux"
[ "$(restore_field "$win_summary" epochs)" = 2 ] &&
  [ "$(restore_field "$win_summary" card_operations)" = 2 ] ||
  fail "restore --json: expected 2 key epochs, one card operation each: $win_summary"
pass "restore --json: 2 card operations for 2 key epochs, the same counts as Linux's restore --card"

echo "cross_os_card_test: all $checks checks passed"
