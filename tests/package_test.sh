#!/usr/bin/env bash
# The Debian packages, end to end, as root (CI's "Debian packages" leg, after the release
# build): build them from build/ (scripts/package.sh), lintian (no errors), `apt-get install`
# them, check the installed files, `systemd-analyze verify` every unit, run the installed
# cardvault-server (as its system user, with the packaged config) and cardvault (a SoftHSM2
# card: upload, then restore as another PC would), reload the server's certificate with
# SIGHUP, print `systemd-analyze security` of the server's unit with its score (below 2.0),
# then remove (data kept) and purge (data gone). Cleans up after itself, also on failure.
# Usage: tests/package_test.sh   (from anywhere; needs root and build/ from scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
packages=(cardvault-server cardvault)
data=/var/lib/cardvault-server
conf=/etc/cardvault-server

if [ "$(id -u)" -ne 0 ]; then
  echo "package_test: run as root (it installs and purges the packages)" >&2
  exit 1
fi
for p in cardvault cardvault-tray cardvault-server; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    echo "package_test: $p is installed here; it would be purged: refusing" >&2
    exit 1
  fi
done
if [ -e "$data" ] || [ -e "$conf" ]; then
  echo "package_test: $data or $conf exists; purge would delete it: refusing" >&2
  exit 1
fi
user_existed=0
getent passwd cardvault >/dev/null && user_existed=1

work=$(mktemp -d /tmp/cv-package-test.XXXXXX)
chmod 755 "$work"  # the server runs as `cardvault` and writes its log here
server_pid=
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@"; }
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  apt purge "${packages[@]}" cardvault-tray >/dev/null 2>&1 || true
  [ "$user_existed" = 1 ] || deluser --system --quiet cardvault >/dev/null 2>&1 || true
  [ "$user_existed" = 1 ] || delgroup --system --quiet cardvault >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== packages (scripts/package.sh from build/)"
bash scripts/package.sh "$work/debs"
debs=("$work"/debs/*.deb)
ls "$work"/debs/cardvault-tray_*.deb >/dev/null 2>&1 && packages+=(cardvault-tray)
[ ${#debs[@]} = ${#packages[@]} ] || fail "expected ${#packages[@]} packages, got ${#debs[@]}"
for deb in "${debs[@]}"; do
  echo "-- $(basename "$deb")"
  dpkg-deb -f "$deb" Package Version Depends Recommends | sed 's/^/   /'
done

echo "== lintian (errors fail; warnings listed, docs/packaging.md says why each is kept)"
lintian_out=$(lintian --allow-root --tag-display-limit 0 "${debs[@]}" 2>&1) || true
[ -z "$lintian_out" ] || echo "$lintian_out" | sed 's/^/   /'
if echo "$lintian_out" | grep -q '^E: '; then
  fail "lintian reports errors"
fi

echo "== apt-get install ./*.deb"
apt install "${debs[@]}" >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
grep -i 'fingerprint' "$work/apt.log" | sed 's/^/   /' || fail "postinst printed no fingerprint"

echo "== installed files"
expect_file() {  # expect_file PATH [MODE OWNER:GROUP]
  if [ ! -e "$1" ]; then
    fail "$1 missing"
  elif [ $# -ge 3 ] && [ "$(stat -c '%a %U:%G' "$1")" != "$2 $3" ]; then
    fail "$1 is $(stat -c '%a %U:%G' "$1"), expected $2 $3"
  fi
}
for p in cardvault cardvault-server; do expect_file /usr/bin/$p 755 root:root; done
for f in /usr/lib/systemd/user/cardvault-agent.service \
         /usr/lib/systemd/system/cardvault-server.service \
         /usr/share/man/man1/cardvault.1.gz /usr/share/man/man5/cardvault.json.5.gz \
         /usr/share/man/man8/cardvault-server.8.gz \
         /usr/share/bash-completion/completions/cardvault \
         /usr/share/bash-completion/completions/cardvault-server \
         /usr/share/doc/cardvault/README.md /usr/share/doc/cardvault/examples/cardvault.example.json; do
  expect_file "$f" 644 root:root
done
for p in "${packages[@]}"; do
  expect_file /usr/share/doc/$p/copyright 644 root:root
  expect_file /usr/share/doc/$p/changelog.Debian.gz 644 root:root
done
if [[ " ${packages[*]} " == *" cardvault-tray "* ]]; then
  expect_file /usr/bin/cardvault-tray 755 root:root
  expect_file /etc/xdg/autostart/cardvault-tray.desktop 644 root:root
  expect_file /usr/share/man/man1/cardvault-tray.1.gz 644 root:root
fi
expect_file $conf/config.json 644 root:root
expect_file $conf/tls 750 root:cardvault
expect_file $conf/tls/key.pem 640 root:cardvault
expect_file $conf/tls/cert.pem 644 root:root
expect_file $data 700 cardvault:cardvault
# Debian's hardening flags (CMakeLists.txt): PIE, full RELRO with immediate binding, the
# stack protector, fortified libc calls.
installed_programs=(/usr/bin/cardvault /usr/bin/cardvault-server)
[ -e /usr/bin/cardvault-tray ] && installed_programs+=(/usr/bin/cardvault-tray)
for p in "${installed_programs[@]}"; do
  readelf -hW "$p" | grep -q 'Type: *DYN' || fail "$p is not position-independent"
  readelf -lW "$p" | grep -q GNU_RELRO || fail "$p has no RELRO segment"
  readelf -dW "$p" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || fail "$p is not linked with -z now"
  syms=$(readelf --dyn-syms -W "$p")
  grep -q '__stack_chk_fail' <<<"$syms" || fail "$p has no stack protector"
  grep -Eq '__[a-z_]+_chk@' <<<"$syms" || fail "$p calls no fortified libc function"
done
getent passwd cardvault | grep -q ':/var/lib/cardvault-server:/usr/sbin/nologin$' ||
  fail "system user cardvault: $(getent passwd cardvault)"
grep -qx "ExecStart=/usr/bin/cardvault run" /usr/lib/systemd/user/cardvault-agent.service ||
  fail "the user unit does not start /usr/bin/cardvault"
# A reinstall runs the maintainer scripts again: idempotent, the certificate kept.
fingerprint_before=$(sha256sum $conf/tls/cert.pem)
dpkg -i "$work"/debs/cardvault-server_*.deb >/dev/null || fail "reinstalling cardvault-server"
[ "$(sha256sum $conf/tls/cert.pem)" = "$fingerprint_before" ] || fail "postinst replaced the certificate"

echo "== systemd-analyze verify (every unit)"
verify_runtime=$work/runtime
mkdir -p "$verify_runtime" && chmod 700 "$verify_runtime"
systemd-analyze verify /usr/lib/systemd/system/cardvault-server.service ||
  fail "systemd-analyze verify cardvault-server.service"
XDG_RUNTIME_DIR=$verify_runtime systemd-analyze --user verify \
  /usr/lib/systemd/user/cardvault-agent.service || fail "systemd-analyze verify cardvault-agent.service"

echo "== the installed server and agent, end to end"
as_server() { runuser -u cardvault -- "$@"; }
server=(cardvault-server --data $data --config $conf/config.json)
# root on the server's data directory is refused (it would leave files the server cannot open).
if out=$("${server[@]}" user list 2>&1) || [[ "$out" != *"runuser -u cardvault"* ]]; then
  fail "root ran an admin command on cardvault's data directory: $out"
fi
as_server "${server[@]}" user add e2e >/dev/null
as_server "${server[@]}" token issue e2e --device e2e-pc 2>/dev/null | grep -o 'cvt_[0-9a-z_]*' >"$work/token"
chmod 600 "$work/token"
port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' $conf/config.json)
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && fail "port $port is taken: the installed server cannot listen"
# With systemd as PID 1 the server runs as its unit (sandbox, Type=notify, reload); without,
# the unit's command line runs as its user (no sandbox, no notify socket): setpriv execs it,
# so $! is the server itself.
with_systemd=0
[ "$(ps -p 1 -o comm=)" = systemd ] && with_systemd=1
if [ "$with_systemd" = 1 ]; then
  echo "   systemd is PID 1: systemctl start cardvault-server (the hardened unit)"
  systemctl daemon-reload
  systemctl start cardvault-server || { journalctl -u cardvault-server --no-pager | tail -n 20 >&2; fail "systemctl start"; }
else
  echo "   systemd is not PID 1 here: the unit's ExecStart as user cardvault, without its sandbox"
  exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/cardvault-server.service)
  setpriv --reuid=cardvault --regid=cardvault --init-groups -- $exec_start >"$work/server.log" 2>&1 &
  server_pid=$!
fi
server_log() {
  if [ "$with_systemd" = 1 ]; then journalctl -u cardvault-server --no-pager; else cat "$work/server.log"; fi
}
for _ in $(seq 100); do
  curl -sk "https://127.0.0.1:$port/v1/health" >/dev/null && break
  sleep 0.1
done
fingerprint=$(openssl x509 -in $conf/tls/cert.pem -noout -fingerprint -sha256 | cut -d= -f2)

cv=/usr/bin/cardvault
export CARDVAULT_CONFIG=$work/agent/config.json XDG_RUNTIME_DIR=$work/run SOFTHSM2_CONF=$work/softhsm2.conf
mkdir -p "$work/agent" "$work/card" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/card" >"$SOFTHSM2_CONF"
(umask 077 && echo 123456 >"$work/pin")
softhsm2-util --init-token --free --label "pkg card" --pin 123456 --so-pin 12345678 >/dev/null
recipient=$($cv card init --module /usr/lib/softhsm/libsofthsm2.so --token "pkg card" \
  --pin-file "$work/pin" 2>/dev/null)
mkdir -p "$work/vault/ssh"
echo "database password: correct horse battery staple" >"$work/vault/secret.txt"
head -c 300000 /dev/urandom >"$work/vault/ssh/id_pkg"
$cv init --vault "$work/vault" --server "https://127.0.0.1:$port" --fingerprint "$fingerprint" \
  --token-file "$work/token" --recipient "$recipient" --state-dir "$work/state" >/dev/null
$cv sync --once >"$work/sync.log" 2>&1 || { cat "$work/sync.log" >&2; server_log >&2; fail "cardvault sync --once"; }
if grep -rqs -e 'correct horse' -e secret.txt $data; then
  fail "plaintext in the server's data directory"
fi
$cv restore --server "https://127.0.0.1:$port" --fingerprint "$fingerprint" \
  --token-file "$work/token" --module /usr/lib/softhsm/libsofthsm2.so --token "pkg card" \
  --pin-file "$work/pin" --target "$work/restored" >"$work/restore.log" 2>&1 ||
  { cat "$work/restore.log" >&2; fail "cardvault restore"; }
diff -r "$work/vault" "$work/restored" && echo "   uploaded by /usr/bin/cardvault, restored with the card: identical"

# SIGHUP (systemctl reload): the installed server reads its certificate again (same files).
if [ "$with_systemd" = 1 ]; then systemctl reload cardvault-server; else kill -HUP "$server_pid"; fi
for _ in $(seq 50); do server_log | grep -q 'certificate reloaded' && break; sleep 0.1; done
server_log | grep -q "certificate reloaded, sha256 fingerprint" || fail "no reload on SIGHUP"
if [ "$with_systemd" = 1 ]; then
  systemctl stop cardvault-server
else
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
fi
ls $data/auth.db >/dev/null || fail "the server wrote no auth.db in $data"

echo "== systemd-analyze security cardvault-server.service"
if [ "$with_systemd" = 1 ]; then
  security=$(systemd-analyze security --no-pager cardvault-server.service 2>&1) || true
else
  echo "   (systemd is not PID 1 here: --offline=true on the installed unit file)"
  security=$(systemd-analyze security --offline=true --no-pager \
    /usr/lib/systemd/system/cardvault-server.service 2>&1) || true
fi
echo "$security" | grep -E '✗|Overall' | sed 's/^/   /'
score=$(echo "$security" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'; then
  fail "exposure level '$score' is not below 2.0"
fi

echo "== remove keeps the data, purge deletes it"
apt remove "${packages[@]}" >/dev/null 2>&1 || fail "apt-get remove"
[ ! -e /usr/bin/cardvault-server ] || fail "remove left /usr/bin/cardvault-server"
[ -f $data/auth.db ] || fail "remove deleted $data"
[ -f $conf/tls/key.pem ] || fail "remove deleted $conf/tls/key.pem"
apt purge "${packages[@]}" >/dev/null 2>&1 || fail "apt-get purge"
[ ! -e $data ] || fail "purge left $data"
[ ! -e $conf ] || fail "purge left $conf"
for p in "${packages[@]}"; do
  ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || fail "$p still installed"
done

if [ "$failures" -ne 0 ]; then
  echo "package_test: $failures failure(s)" >&2
  exit 1
fi
echo "package_test: passed"
