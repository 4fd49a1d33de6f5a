#!/usr/bin/env bash
# Self-test of pgcluster.sh as shell-driven tests use it: start, query, TLS with make_certs.sh,
# halt/resume, crash/resume, stop.
# Not a test of cutover itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pgcluster=$here/pgcluster.sh
make_certs=$here/make_certs.sh
psql=${PGCLUSTER_BINDIR:-/usr/lib/postgresql/15/bin}/psql
work=$(mktemp -d "${TMPDIR:-/tmp}/cutover-shtest-XXXXXX")
chmod 755 "$work"  # the server's OS user must reach the cluster dirs inside
cleanup() {
  local c
  for c in a b s; do "$pgcluster" stop "$work/$c" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

sql() {
  PGPASSWORD=${3:-} "$psql" -X -A -t -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

port_a=$("$pgcluster" start "$work/a" --name a --conf "work_mem='5MB'")
port_b=$(PGCLUSTER_PASSWORD=secret "$pgcluster" start "$work/b" --name b --auth scram-sha-256)
[[ $port_a != "$port_b" ]] || fail "both clusters got port $port_a"
[[ $(cat "$work/a/port") == "$port_a" ]] || fail "DIR/port does not match stdout"
[[ $(sql "$port_a" 'select 1') == 1 ]] || fail "select 1 on a"
[[ $(sql "$port_a" 'show work_mem') == 5MB ]] || fail "--conf not applied"
[[ $(sql "$port_b" 'select 2' secret) == 2 ]] || fail "scram login with the right password"
if sql "$port_b" 'select 3' wrong 2>/dev/null; then fail "scram accepted a wrong password"; fi

# TLS: verify-full needs the CA and a certificate naming the host we dialled (IP SAN for
# 127.0.0.1); scram-sha-256 over TLS uses channel binding.
"$make_certs" "$work/certs"
[[ $(stat -c %a "$work/certs/server.key") == 600 ]] || fail "make_certs left server.key readable"
if "$make_certs" "$work/certs" 2>/dev/null; then fail "make_certs overwrote a non-empty dir"; fi
port_s=$(PGCLUSTER_PASSWORD=secret "$pgcluster" start "$work/s" --name s \
  --auth scram-sha-256 --ssl "$work/certs")
tls() {
  PGPASSWORD=secret "$psql" -X -A -t -c \
    'select ssl from pg_stat_ssl where pid = pg_backend_pid()' \
    "port=$port_s user=postgres dbname=postgres sslrootcert=$work/certs/ca.crt $1"
}
[[ $(tls 'host=127.0.0.1 sslmode=verify-full') == t ]] || fail "verify-full to 127.0.0.1"
[[ $(tls 'host=localhost sslmode=verify-full') == t ]] || fail "verify-full to localhost"
[[ $(tls 'host=127.0.0.1 sslmode=verify-full channel_binding=require') == t ]] ||
  fail "scram with channel binding over TLS"
[[ $(tls 'host=127.0.0.1 sslmode=disable') == f ]] || fail "plaintext beside TLS"
if tls 'host=wrong.example hostaddr=127.0.0.1 sslmode=verify-full' 2>"$work/err"; then
  fail "verify-full accepted a certificate for another name"
fi
grep -q 'does not match host name' "$work/err" ||
  fail "unexpected verify-full error: $(cat "$work/err")"
"$pgcluster" stop "$work/s"
if "$pgcluster" start "$work/s" --ssl "$work/nowhere" 2>/dev/null; then
  fail "start accepted a missing --ssl dir"
fi

sql "$port_a" 'create table t(x int); insert into t values (42)' >/dev/null
pid=$("$pgcluster" pid "$work/a")
kill -0 "$pid" || fail "pid $pid is not running"
"$pgcluster" halt "$work/a"
"$pgcluster" halt "$work/a"
if "$pgcluster" pid "$work/a" 2>/dev/null; then fail "pid succeeded on a halted cluster"; fi
"$pgcluster" resume "$work/a"
"$pgcluster" resume "$work/a"
[[ $(sql "$port_a" 'select x from t') == 42 ]] || fail "data lost across halt/resume"
sql "$port_a" 'insert into t values (43)' >/dev/null  # committed: survives a crash
"$pgcluster" crash "$work/a"
"$pgcluster" crash "$work/a"
if "$pgcluster" pid "$work/a" 2>/dev/null; then fail "pid succeeded on a crashed cluster"; fi
"$pgcluster" resume "$work/a"
[[ $(sql "$port_a" 'select sum(x) from t') == 85 ]] || fail "data lost across crash/resume"

kill -STOP "$("$pgcluster" pid "$work/a")"  # a fault drill left it paused
"$pgcluster" stop "$work/a"
[[ ! -e "$work/a" ]] || fail "stop left $work/a behind"
"$pgcluster" stop "$work/a"  # idempotent

mkdir "$work/foreign" && touch "$work/foreign/keep"
if "$pgcluster" stop "$work/foreign" 2>/dev/null; then fail "stop accepted a foreign dir"; fi
[[ -e "$work/foreign/keep" ]] || fail "stop deleted a foreign dir"
if "$pgcluster" start "$work/foreign" 2>/dev/null; then fail "start accepted a non-empty dir"; fi
if "$pgcluster" start "$work/c" --conf 'shared_buffers=bogus' 2>"$work/err"; then
  fail "a broken config started"
fi
grep -q 'shared_buffers' "$work/err" || fail "start failure did not show the server log"
"$pgcluster" stop "$work/c"
echo "pgcluster.sh: all checks passed"
