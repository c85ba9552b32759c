# Sourced by the drivers in tests/windows/: starts the Linux cardvault-server on 127.0.0.1 for
# the cross-OS checks. Expects $server (the cardvault-server binary), $tmp (the run's
# directory, removed by the driver) and a `fail` function. Sets: fingerprint (the pinned
# certificate), port, url, server_pid, and writes alice's device token to $tmp/token (0600).
# With linux_server_users=N (default 0), also N fresh users u1..uN, made before the server
# starts, their tokens one per line in $tmp/user-tokens (0600).
start_linux_server() {
  "$server" --data "$tmp/srv" init >"$tmp/init.out" 2>&1
  fingerprint=$(sed -n 's/.*fingerprint: \([0-9a-f]\{64\}\).*/\1/p' "$tmp/init.out" | head -n 1)
  [ -n "$fingerprint" ] || fail "cardvault-server init: $(cat "$tmp/init.out")"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 - "$tmp/srv/config.json" "$port" <<'PY'
import json, sys
path, port = sys.argv[1], int(sys.argv[2])
config = json.load(open(path))
config.update({"port": port, "access_log": False})
json.dump(config, open(path, "w"), indent=2)
PY
  "$server" --data "$tmp/srv" user add alice >/dev/null 2>&1
  local token
  token=$("$server" --data "$tmp/srv" token issue alice 2>&1 | grep -o 'cvt_[^ ]*' | head -n 1)
  (umask 077 && echo "$token" >"$tmp/token")
  local i
  if [ "${linux_server_users:-0}" -gt 0 ]; then (umask 077 && : >"$tmp/user-tokens"); fi
  for ((i = 1; i <= ${linux_server_users:-0}; i++)); do
    "$server" --data "$tmp/srv" user add "u$i" >/dev/null 2>&1
    "$server" --data "$tmp/srv" token issue "u$i" 2>&1 | grep -o 'cvt_[^ ]*' | head -n 1 >>"$tmp/user-tokens"
  done
  "$server" --data "$tmp/srv" serve >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do  # up to 10 s
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  url=https://127.0.0.1:$port
}
