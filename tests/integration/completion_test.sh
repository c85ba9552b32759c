#!/usr/bin/env bash
# The bash completion (config/bash-completion/cardvault) completes what the programs' own
# --help lists: every subcommand at every level, every option of every command, the choices
# of an option that has them, and file names. Usage: completion_test.sh COMPLETION PROGRAM...
set -uo pipefail
completion=$1
shift
# shellcheck source=/dev/null
source "$completion"
failures=0 checks=0

# complete WORD...: what TAB offers after the words (the last one is the word completed).
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _cardvault "$1" "${!#}" ""
  printf '%s\n' "${COMPREPLY[@]}"
}

# expect WANTS WORD...: TAB after WORD... offers each of WANTS (space separated).
expect() {
  local wants=$1 want offered
  shift
  offered=$(complete_words "$@")
  for want in $wants; do
    checks=$((checks + 1))
    if ! grep -qxF -- "$want" <<<"$offered"; then
      echo "FAIL: '$*<TAB>' does not offer '$want'" >&2
      failures=$((failures + 1))
    fi
  done
}

# The test's own reading of CLI11 --help (independent of the completion's): names in a section.
section_names() {  # section_names SECTION COMMAND...
  local section=$1
  shift
  "$@" --help | awk -v s="$section:" '$0 == s {on = 1; next} /^$/ {on = 0}
    on && /^  [^ ]/ {print $1}'
}

check_command() {  # check_command COMMAND...: its options and subcommands, recursively
  local sub subs
  expect "$(section_names Options "$@" | tr ',' '\n' | grep -- '^--')" "$@" "--"
  subs=$(section_names Subcommands "$@")
  [ -n "$subs" ] && expect "$subs" "$@" ""
  for sub in $subs; do
    [ $# -eq 1 ] && expect "$sub" "$@" "${sub:0:2}"  # a prefix completes (top level)
    check_command "$@" "$sub"
  done
}

for program in "$@"; do
  subs=$(section_names Subcommands "$program")
  if [ -z "$subs" ]; then
    echo "FAIL: $program --help lists no subcommands" >&2
    failures=$((failures + 1))
  fi
  check_command "$program"
done

program=$1
expect "p256" "$program" card init --type ""          # an option's choices
expect "/tmp" "$program" encrypt -o /tm               # an option's value: a file name
expect "/tmp" "$program" inspect /tm                  # a positional: a file name
expect "restore" "$program" --config /x/c.json res    # an option's value is skipped

echo "completion: $checks checks, $failures failed"
[ "$failures" -eq 0 ] && [ "$checks" -gt 100 ]
