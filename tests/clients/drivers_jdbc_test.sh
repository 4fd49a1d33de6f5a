#!/usr/bin/env bash
# PgJDBC's everyday calls through cutover in dual_write at a given read ramp
# (drivers/Everyday.java: executeBatch, also with reWriteBatchedInserts, into a table with a
# bigserial key; a statement past prepareThreshold; a server-side cursor next to writes;
# savepoints; updates and deletes by a range with execute(), executeUpdate() and executeBatch();
# CopyManager; CREATE TABLE AS),
# then old and new compared completely: every table, every column. The two refusals cutover
# documents (a COPY leaving a now() default to each server, a large object's fast-path call)
# must be refused, with the session going on; nothing else may be skipped, journaled, refused,
# mismatched or left open as a divergence.
# Usage: drivers_jdbc_test.sh CUTOVER_BINARY RAMP_PERCENT
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: $2
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
JDBC_JAR=/usr/share/java/postgresql.jar  # Debian's libpostgresql-jdbc-java
if [[ ! -f "$JDBC_JAR" ]] || ! command -v java >/dev/null; then
  echo "PgJDBC or java not found: run deploy/install-deps.sh" >&2
  exit 1
fi

start_stack "$1"
sql() { psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres "${@:2}"; }
for port in "$OLD_PORT" "$NEW_PORT"; do
  sql "$port" -q -c "create table jdbc_rows (flow text, n int, note text,
    at timestamptz default now(), primary key (flow, n))"
  sql "$port" -q -c "create table jdbc_serials (id bigserial primary key, flow text, n int,
    token uuid default gen_random_uuid(), at timestamptz default clock_timestamp())"
done

# Single-file source launch: compiled in memory, nothing written to the source tree.
java -cp "$JDBC_JAR" "$LIB_DIR/drivers/Everyday.java" "$PROXY_PORT" 1000

want() { # WHAT GOT WANT
  echo "$1: $2"
  [[ "$2" == "$3" ]] || { echo "$1: $2; want $3" >&2; exit 1; }
}
# On old (new is compared with it below, every row of every table).
want "jdbc_rows by flow" "$(sql "$OLD_PORT" -c "select string_agg(flow || '=' || count, ' '
  order by flow) from (select flow, count(*) from jdbc_rows group by flow) f")" \
  "after a refusal=2 beside a cursor=10 copy=1000 copy in a transaction=101 executeBatch=988 \
executeUpdate=88 savepoint=2"
want "savepoint rows" "$(sql "$OLD_PORT" -c "select string_agg(n || ' ' || note, ', ' order by n)
  from jdbc_rows where flow = 'savepoint'")" "0 before the savepoint, 2 kept"
want "touched rows" "$(sql "$OLD_PORT" -c "select count(*) from jdbc_rows
  where note like '% touched'")" 81
want "deleted range" "$(sql "$OLD_PORT" -c "select count(*) from jdbc_rows
  where flow = 'executeBatch' and n >= 940 and n % 10 in (0, 1)")" 0
want "copied rows' at" "$(sql "$OLD_PORT" -c "select count(*) from jdbc_rows
  where flow like 'copy%' and at = '2026-12-06 00:00:00+00'")" 1100
want "jdbc_serials by flow (rows/ids/tokens)" "$(sql "$OLD_PORT" -c "select string_agg(flow
  || '=' || count || '/' || ids || '/' || tokens, ' ' order by flow) from (select flow,
  count(*), count(distinct id) ids, count(distinct token) tokens from jdbc_serials
  group by flow) f")" \
  "executeBatch=1000/1000/1000 one by one=20/20/20 reWriteBatchedInserts=1000/1000/1000"
ctas() { sql "$1" -c "select count(*) || ' ' || count(distinct md5) from jdbc_ctas"; }
want "jdbc_ctas on old" "$(ctas "$OLD_PORT")" "300000 300000"
want "jdbc_ctas on new" "$(ctas "$NEW_PORT")" "300000 300000"

# The two refusals the program asserted, each logged once (the COPY's with the default it
# leaves to each server); nothing else may be refused, nor anything else left unmirrored.
refused_copy='event=unit_refused .*reason=unsafe_write message="[^"]*'
refused_copy+='\(defaults of jdbc_rows \(at\)\)'
copy_default='event=mirror_nondeterministic .*calls="defaults of jdbc_rows \(at\)"'
refused_call='event=unit_refused .*reason=fast_path '
logged() { grep -Ec "$1" "$STACK_DIR/cutover.log" || true; }
want "refusals logged (all, the COPY's, its default, the fast-path call's)" "$(
  logged 'event=unit_refused ') $(logged "$refused_copy") $(logged "$copy_default") $(
  logged "$refused_call")" "2 1 1 1"
compare_every_row
check_mirror_log "$refused_copy|$copy_default|$refused_call"
check_proxy_log
echo "ok"
