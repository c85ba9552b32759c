#!/bin/sh
# fake_pinentry.sh: a pinentry stand-in for tests. Speaks Assuan on stdin/stdout and appends
# every command it receives to $FAKE_PINENTRY_LOG. GETPIN answers "D $FAKE_PINENTRY_PIN"
# (already percent-encoded); $FAKE_PINENTRY_MODE: cancel (ERR with the cancel code),
# exit (exit after the greeting), refuse-options (ERR for every OPTION).
echo "OK Pleased to meet you"
[ "$FAKE_PINENTRY_MODE" = exit ] && exit 0
while IFS= read -r line; do
  printf '%s\n' "$line" >> "${FAKE_PINENTRY_LOG:-/dev/null}"
  case "$line" in
    OPTION*)
      if [ "$FAKE_PINENTRY_MODE" = refuse-options ]; then
        echo "ERR 83886254 Unknown option <Pinentry>"
      else
        echo OK
      fi ;;
    GETPIN)
      if [ "$FAKE_PINENTRY_MODE" = cancel ]; then
        echo "ERR 83886179 Operation cancelled <Pinentry>"
      else
        echo "# a comment line"
        echo "S PIN_REPEATED"
        printf 'D %s\nOK\n' "$FAKE_PINENTRY_PIN"
      fi ;;
    BYE)
      echo "OK closing connection"
      exit 0 ;;
    *) echo OK ;;
  esac
done
