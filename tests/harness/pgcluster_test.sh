#!/usr/bin/env bash
# Self-test of pgcluster.sh as shell-driven tests use it: start, query, halt/resume, stop.
# Not a test of cutover itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pgcluster=$here/pgcluster.sh
psql=${PGCLUSTER_BINDIR:-/usr/lib/postgresql/15/bin}/psql
work=$(mktemp -d "${TMPDIR:-/tmp}/cutover-shtest-XXXXXX")
chmod 755 "$work"  # the server's OS user must reach the cluster dirs inside
trap '"$pgcluster" stop "$work/a" || true; "$pgcluster" stop "$work/b" || true; rm -rf "$work"' EXIT

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

sql "$port_a" 'create table t(x int); insert into t values (42)' >/dev/null
pid=$("$pgcluster" pid "$work/a")
kill -0 "$pid" || fail "pid $pid is not running"
"$pgcluster" halt "$work/a"
"$pgcluster" halt "$work/a"
if "$pgcluster" pid "$work/a" 2>/dev/null; then fail "pid succeeded on a halted cluster"; fi
"$pgcluster" resume "$work/a"
"$pgcluster" resume "$work/a"
[[ $(sql "$port_a" 'select x from t') == 42 ]] || fail "data lost across halt/resume"

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
