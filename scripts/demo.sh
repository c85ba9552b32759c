#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on
# embedded defaults: a local cardvault-server over TLS on 127.0.0.1, a SoftHSM2 soft card,
# and the agent watching a demo folder. It shows a file being encrypted and uploaded, restores
# the folder from the server with the card as another PC would, then leaves server and agent
# running. `bash scripts/demo.sh stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${CARDVAULT_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cardvault-demo}

stop_demo() {
  for p in agent server; do
    if [ -f "$demo/$p.pid" ]; then
      kill "$(cat "$demo/$p.pid")" 2>/dev/null || true
      rm -f "$demo/$p.pid"
    fi
  done
}
if [ "${1:-}" = stop ]; then
  stop_demo
  echo "demo: stopped"
  exit 0
fi

bash scripts/bootstrap.sh
bash scripts/build.sh release
cv=$PWD/build/agent/cardvault
server=$PWD/build/api/cardvault-server

stop_demo
rm -rf "$demo"
mkdir -p "$demo"
chmod 700 "$demo"
export CARDVAULT_CONFIG=$demo/config.json XDG_RUNTIME_DIR=$demo/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# 1. The storage server, on a free port of 127.0.0.1, with a self-signed certificate.
port=18443
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
fingerprint=$("$server" --data "$demo/server" init | sed -n 's/.*fingerprint: //p')
sed -i "s/\"port\": [0-9]*/\"port\": $port/" "$demo/server/config.json"
"$server" --data "$demo/server" user add demo >/dev/null
"$server" --data "$demo/server" token issue demo --device demo-pc 2>/dev/null |
  grep -o 'cvt_[0-9a-z_]*' > "$demo/device-token"
chmod 600 "$demo/device-token"
"$server" --data "$demo/server" serve > "$demo/server.log" 2>&1 &
echo $! > "$demo/server.pid"
for _ in $(seq 100); do
  curl -sk "https://127.0.0.1:$port/v1/health" >/dev/null && break
  sleep 0.1
done
echo "demo: cardvault-server on https://127.0.0.1:$port (certificate $fingerprint)"

# 2. The soft card: a SoftHSM2 token of its own, and a key pair created ON it. Only the
# card's public key (the recipient) is needed to encrypt: no PIN, card may be absent.
export SOFTHSM2_CONF=$demo/softhsm2.conf
mkdir -p "$demo/card"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$demo/card" > "$SOFTHSM2_CONF"
umask 077
echo 123456 > "$demo/card-pin"  # demo only: a real card's PIN is asked through pinentry
umask 022
softhsm2-util --init-token --free --label "demo card" --pin 123456 --so-pin 12345678 >/dev/null
recipient=$("$cv" card init --module /usr/lib/softhsm/libsofthsm2.so --token "demo card" \
  --pin-file "$demo/card-pin" 2>/dev/null)
echo "demo: soft card \"demo card\" created a P-256 key on the card; recipient ${recipient:0:40}..."

# 3. The agent's config, checked against the server before it is written.
mkdir -p "$demo/vault/ssh" "$demo/vault/tokens"
printf 'AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' > "$demo/vault/aws.txt"
printf 'ghp_exampletoken0123456789abcdefghijklmn\n' > "$demo/vault/tokens/github token.txt"
head -c 200000 /dev/urandom > "$demo/vault/ssh/id_demo"
chmod 600 "$demo/vault/aws.txt" "$demo/vault/ssh/id_demo"
"$cv" init --vault "$demo/vault" --server "https://127.0.0.1:$port" --fingerprint "$fingerprint" \
  --token-file "$demo/device-token" --recipient "$recipient" --state-dir "$demo/state" >/dev/null
sed -i 's/"settle_delay_ms": [0-9]*/"settle_delay_ms": 1000/' "$CARDVAULT_CONFIG"

# 4. The agent, watching the folder.
"$cv" run > "$demo/agent.log" 2>&1 &
echo $! > "$demo/agent.pid"

uploaded() {
  local n
  n=$("$cv" status --json 2>/dev/null | sed -n 's/.*"uploaded": \([0-9]*\).*/\1/p')
  echo "${n:-0}"
}
wait_uploaded() {
  for _ in $(seq 200); do
    [ "$(uploaded)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "demo: FAILED: expected $1 uploads; agent log:" >&2
  cat "$demo/agent.log" >&2
  exit 1
}
wait_uploaded 5
echo "demo: the agent uploaded the 3 files already in $demo/vault (and its 2 directories)"

echo "database password: correct horse battery staple" > "$demo/vault/new-secret.txt"
wait_uploaded 6
echo "demo: new-secret.txt was encrypted and uploaded within seconds:"
grep -E "file_(queued|uploaded) new-secret.txt" "$demo/agent.log" | sed 's/^/  /'

if grep -rqs -e AKIAIOSFODNN7EXAMPLE -e 'correct horse' -e 'github token' "$demo/server"; then
  echo "demo: FAILED: plaintext found in the server's data" >&2
  exit 1
fi
echo "demo: the server's data directory holds no file name or content in clear"
"$cv" status

# 5. "Another PC": restore the folder from the server alone, with the card and its PIN.
"$cv" restore --server "https://127.0.0.1:$port" --fingerprint "$fingerprint" \
  --token-file "$demo/device-token" --module /usr/lib/softhsm/libsofthsm2.so \
  --token "demo card" --pin-file "$demo/card-pin" --target "$demo/restored" 2>/dev/null | tail -n 1
diff -r "$demo/vault" "$demo/restored"
echo "demo: restored the folder from the server with the card: identical to the original"

cat <<TXT

The server and the agent keep running. Try:
  echo hello > "$demo/vault/hello.txt"; sleep 2
  CARDVAULT_CONFIG=$CARDVAULT_CONFIG XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR $cv status
  tail "$demo/agent.log"
Stop both with: bash scripts/demo.sh stop
TXT
