#!/bin/bash
# A throwaway single-node Ceph radosgw for tests, on loopback only, everything under DIR:
# one monitor, one OSD (bluestore on a sparse file), one radosgw, a user and a bucket.
#
#   radosgw.sh start DIR PORT   start everything (DIR is created; it MUST be empty or absent),
#                               radosgw on http://127.0.0.1:PORT; writes DIR/s3.env (shell
#                               variables) and DIR/credentials.json (0600, for LoadS3Credentials)
#   radosgw.sh rgw-stop DIR     stop radosgw only (the monitor and the OSD keep the data)
#   radosgw.sh rgw-start DIR    start radosgw again on the same port, wait until it answers
#   radosgw.sh stop DIR         stop everything started under DIR and remove DIR
#
# With OWNER_PID=PID in the environment, start also leaves a watchdog (owner_watchdog.sh)
# that runs stop once that process is gone (a test binary that crashed leaves nothing
# running; checked every second for at most 12 hours).
#
# Every wait is bounded (START_TIMEOUT seconds, default 120). Logs: DIR/log/. Needs the
# Debian packages ceph-mon ceph-osd radosgw (scripts/bootstrap.sh) and curl.
set -euo pipefail

readonly ACCESS_KEY=cvtestaccess
readonly SECRET_KEY=cvtestsecret0123456789
readonly BUCKET=cardvault-test
readonly TIMEOUT=${START_TIMEOUT:-120}

die() {
  echo "radosgw.sh: $*" >&2
  exit 1
}

# A TCP port nothing listens on (loopback).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 30000))
    if ! ss -Htln "sport = :$port" | grep -q .; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

# Runs "$@" until it succeeds, at most TIMEOUT seconds.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ -d "$DIR" ] || die "$DIR was removed while waiting for $what"
    ((SECONDS < deadline)) || die "timed out after ${TIMEOUT}s waiting for $what (logs: $DIR/log)"
    sleep 0.2
  done
}

rgw_answers() { curl -sf -o /dev/null "http://127.0.0.1:$(cat "$DIR/rgw.port")/"; }

write_conf() {
  local mon_port=$1 rgw_port=$2
  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $FSID
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc secure
client_mount_timeout = 30
run_dir = $DIR/run
log_file = $DIR/log/\$name.log
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
keyring = /dev/null
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
mon_data_avail_warn = 2
mon_data_avail_crit = 1
[mon]
mon_data = $DIR/mon
mon_cluster_log_file = $DIR/log/mon-cluster.log
[osd]
osd_data = $DIR/osd
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 21474836480
bluestore_cache_autotune = false
bluestore_cache_size = 268435456
osd_memory_target = 939524096
[client.rgw.cv]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw_data = $DIR/rgw
rgw_thread_pool_size = 64
rgw_enable_usage_log = false
EOF
}

start_rgw() {
  radosgw -c "$DIR/ceph.conf" -n client.rgw.cv >>"$DIR/log/daemons.log" 2>&1
  wait_for "radosgw on port $(cat "$DIR/rgw.port")" rgw_answers
}

create_user_and_bucket() {
  local port=$1
  radosgw-admin -c "$DIR/ceph.conf" user create --uid cv --display-name cv \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >"$DIR/log/user.json"
  curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$port/$BUCKET" ||
    die "cannot create bucket $BUCKET (logs: $DIR/log)"
  cat >"$DIR/s3.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$port
S3_REGION=us-east-1
S3_BUCKET=$BUCKET
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_CREDENTIALS=$DIR/credentials.json
EOF
  (
    umask 077
    printf '{"access_key_id": "%s", "secret_access_key": "%s"}\n' "$ACCESS_KEY" "$SECRET_KEY" \
      >"$DIR/credentials.json"
  )
}

start() {
  local port=$1
  local bin
  for bin in ceph-mon ceph-osd radosgw radosgw-admin; do
    command -v "$bin" >/dev/null ||
      die "Ceph is not installed: apt-get install ceph-mon ceph-osd radosgw (scripts/bootstrap.sh)"
  done
  mkdir -p "$DIR"
  [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
  mkdir -p "$DIR"/{run,log,mon,osd,rgw}
  echo "$port" >"$DIR/rgw.port"
  FSID=$(uuidgen)
  local mon_port
  mon_port=$(free_port)
  write_conf "$mon_port" "$port"
  local conf=(-c "$DIR/ceph.conf")
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" \
    >"$DIR/log/mkfs.log" 2>&1
  ceph-mon "${conf[@]}" -i a --mkfs --monmap "$DIR/monmap" >>"$DIR/log/mkfs.log" 2>&1
  ceph-mon "${conf[@]}" -i a >>"$DIR/log/daemons.log" 2>&1
  local uuid
  uuid=$(uuidgen)
  local id
  id=$(timeout "$TIMEOUT" ceph "${conf[@]}" osd new "$uuid")
  [ "$id" = 0 ] || die "unexpected OSD id $id"
  ceph-osd "${conf[@]}" -i 0 --mkfs --osd-uuid "$uuid" >>"$DIR/log/mkfs.log" 2>&1
  ceph-osd "${conf[@]}" -i 0 >>"$DIR/log/daemons.log" 2>&1
  wait_for "the OSD to come up" sh -c \
    "ceph -c '$DIR/ceph.conf' osd dump 2>/dev/null | grep -q '^osd.0 up'"
  start_rgw
  create_user_and_bucket "$port"
  [ -z "${OWNER_PID:-}" ] || start_watchdog "$OWNER_PID"
}

start_watchdog() {
  local owner=$1 here
  here=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
  bash "$here/owner_watchdog.sh" "$owner" "$DIR" bash "$here/radosgw.sh" stop "$DIR"
}

# Sends SIGTERM to the daemon whose pid file is $1 and waits (bounded) until it is gone.
stop_daemon() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop() {
  [ -d "$DIR" ] || return 0
  stop_daemon "$DIR/run/client.rgw.cv.pid"
  stop_daemon "$DIR/run/osd.0.pid"
  stop_daemon "$DIR/run/mon.a.pid"
  rm -rf "$DIR"
}

# The daemons must not inherit the caller's other descriptors (a pipe it reads to the end).
for fd in "/proc/$$/fd/"*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

[ $# -ge 2 ] || die "usage: radosgw.sh start DIR PORT | rgw-stop DIR | rgw-start DIR | stop DIR"
DIR=$(realpath -m "$2")
case $1 in
  start)
    [ $# -eq 3 ] || die "usage: radosgw.sh start DIR PORT"
    start "$3"
    ;;
  rgw-stop) stop_daemon "$DIR/run/client.rgw.cv.pid" ;;
  rgw-start) start_rgw ;;
  stop) stop ;;
  *) die "unknown command $1" ;;
esac
