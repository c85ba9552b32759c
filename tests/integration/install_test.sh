#!/usr/bin/env bash
# `cmake --install` of the build tree into a temporary DESTDIR with --prefix /usr puts every
# installed file where a Linux system looks for it, and nothing else: the programs (runnable),
# the systemd user unit (ExecStart naming the installed cardvault), the autostart entry, man
# pages that render without warnings and name every command, bash completion that works with
# the installed programs, the docs; never a test, benchmark or fuzzer.
# Usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR TRAY_BUILT(1|0)
set -euo pipefail
cmake=$1 build=$2 source=$3 tray=$4
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

DESTDIR=$dest "$cmake" --install "$build" --prefix /usr >"$dest.log" 2>&1 ||
  { cat "$dest.log" >&2; rm -f "$dest.log"; exit 1; }
rm -f "$dest.log"

programs=(cardvault cardvault-server)
[ "$tray" = 1 ] && programs+=(cardvault-tray)
for p in "${programs[@]}"; do
  if [ ! -x "$dest/usr/bin/$p" ]; then
    fail "usr/bin/$p not installed"
  elif ! "$dest/usr/bin/$p" --help >/dev/null 2>&1; then
    fail "usr/bin/$p --help failed"
  fi
done

# Nothing else executable: no test, benchmark or fuzzer.
expected=$(printf 'usr/bin/%s\n' "${programs[@]}" | sort)
installed=$(cd "$dest" && find . -type f -perm /111 | sed 's|^\./||' | sort)
[ "$installed" = "$expected" ] || fail "executables installed: $(echo $installed), expected: $(echo $expected)"
if (cd "$dest" && find . -name '*test*' -o -name '*bench*' -o -name '*fuzz*' | grep .); then
  fail "a test, benchmark or fuzzer file was installed"
fi

# The units and the server's config, their @PLACEHOLDERS@ filled with the install-time paths.
check_filled() {  # check_filled FILE EXPECTED_LINE
  if [ ! -f "$dest/$1" ]; then
    fail "$1 not installed"
  else
    grep -qxF "$2" "$dest/$1" || fail "$1 has no line '$2'"
    ! grep -qE '@[A-Z_]+@' "$dest/$1" || fail "$1: a placeholder is left: $(grep -E '@[A-Z_]+@' "$dest/$1")"
  fi
}
check_filled usr/lib/systemd/user/cardvault-agent.service 'ExecStart=/usr/bin/cardvault run'
check_filled usr/lib/systemd/system/cardvault-server.service \
  'ExecStart=/usr/bin/cardvault-server --data /var/lib/cardvault-server --config /etc/cardvault-server/config.json serve'
check_filled etc/cardvault-server/config.json '  "cert_file": "/etc/cardvault-server/tls/cert.pem",'
if [ "$tray" = 1 ]; then
  [ -f "$dest/etc/xdg/autostart/cardvault-tray.desktop" ] ||
    fail "etc/xdg/autostart/cardvault-tray.desktop not installed"
elif [ -e "$dest/etc/xdg/autostart/cardvault-tray.desktop" ]; then
  fail "the autostart entry was installed without the tray"
fi
[ -f "$dest/usr/share/doc/cardvault/examples/cardvault.example.json" ] ||
  fail "usr/share/doc/cardvault/examples/cardvault.example.json not installed"
[ -f "$dest/usr/share/doc/cardvault/configuration.md" ] || fail "docs not installed"

# Man pages: rendered by man without a warning, naming every command the program lists.
pages=(man1/cardvault.1 man8/cardvault-server.8 man5/cardvault.json.5)
[ "$tray" = 1 ] && pages+=(man1/cardvault-tray.1)
for page in "${pages[@]}"; do
  file=$dest/usr/share/man/$page
  if [ ! -f "$file" ]; then
    fail "usr/share/man/$page not installed"
    continue
  fi
  text=$(MANWIDTH=80 man -l --warnings "$file" 2>"$dest/warnings") || fail "man -l $page failed"
  [ ! -s "$dest/warnings" ] || fail "man -l $page warns: $(cat "$dest/warnings")"
  grep -q '^NAME' <<<"$text" && grep -q '^SEE ALSO' <<<"$text" || fail "$page: no NAME or SEE ALSO"
  printf '%s\n' "$text" >"$dest/$(basename "$page").txt"
done

# commands PROGRAM WORDS...: "WORDS SUB" for every subcommand, at every level.
commands() {
  local program=$1 sub
  shift
  for sub in $("$program" "$@" --help | awk '$0 == "Subcommands:" {on = 1; next} /^$/ {on = 0}
      on && /^  [^ ]/ {print $1}'); do
    echo "$* $sub"
    commands "$program" "$@" "$sub"
  done
}
for program in cardvault cardvault-server; do
  page=$dest/$program.1.txt
  [ -f "$page" ] || page=$dest/$program.8.txt
  [ -f "$page" ] || continue
  count=0
  while read -r words; do
    count=$((count + 1))
    grep -qx "   $program $words" "$page" || fail "$program's man page has no section '$program $words'"
  done < <(commands "$dest/usr/bin/$program")
  [ "$count" -gt 3 ] || fail "$program lists $count commands"
done
grep -q 'settle_delay_ms' "$dest/cardvault.json.5.txt" 2>/dev/null ||
  fail "cardvault.json(5) lacks the config keys"

# Bash completion, as installed, with the installed programs.
for name in cardvault cardvault-server; do
  [ -f "$dest/usr/share/bash-completion/completions/$name" ] ||
    fail "usr/share/bash-completion/completions/$name not installed"
done
# (completion_test checks every command and option; here: that the installed file works.)
if [ -f "$dest/usr/share/bash-completion/completions/cardvault" ]; then
  offered=$(
    # shellcheck source=/dev/null
    source "$dest/usr/share/bash-completion/completions/cardvault"
    COMP_WORDS=("$dest/usr/bin/cardvault" "") COMP_CWORD=1
    _cardvault
    echo "${COMPREPLY[*]}"
  )
  while read -r words; do
    [[ $words == *" "* ]] && continue
    [[ " $offered " == *" $words "* ]] || fail "completion does not offer '$words': $offered"
  done < <(commands "$dest/usr/bin/cardvault")
fi

echo "install: $failures failed"
[ "$failures" -eq 0 ]
