#!/usr/bin/env bash
# Each Python driver's everyday calls through cutover in dual_write at a given read ramp
# (drivers/everyday.py: executemany, also into a table with a bigserial key, psycopg 3 pipelines,
# server-side cursors next to writes, savepoints, COPY), then old and new compared completely: every table, every column. Nothing
# may be skipped, journaled, refused, mismatched or left open as a divergence.
# Usage: drivers_everyday_test.sh CUTOVER_BINARY RAMP_PERCENT
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: $2
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PYTHON=/usr/bin/python3  # Debian's, which sees python3-psycopg2, -psycopg and -asyncpg
export PYTHONDONTWRITEBYTECODE=1
"$PYTHON" -c 'import psycopg2, psycopg, asyncpg' || { echo "run deploy/install-deps.sh" >&2; exit 1; }

start_stack "$1"
sql() { psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres "${@:2}"; }
for port in "$OLD_PORT" "$NEW_PORT"; do
  sql "$port" -q -c "create table everyday (driver text, flow text, n int, note text,
    at timestamptz default now(), primary key (driver, flow, n))"
  sql "$port" -q -c "create table serials (id bigserial primary key, driver text, n int,
    token uuid default gen_random_uuid(), at timestamptz default clock_timestamp())"
done

"$PYTHON" "$LIB_DIR/drivers/everyday.py" "$PROXY_PORT" 1000

rows=$(sql "$OLD_PORT" -c "select count(*) from everyday")
echo "everyday: $rows rows on old"
[[ "$rows" == 5203 ]] || { echo "old has $rows rows in everyday; want 5203" >&2; exit 1; }
serials=$(sql "$OLD_PORT" -c "select count(distinct id) || ' ' || count(distinct token) || ' ' ||
  count(*) filter (where driver = 'psycopg') from serials")
[[ "$serials" == "2000 2000 1000" ]] || { echo "old's serials: $serials; want 2000 2000 1000" >&2; exit 1; }
touched=$(sql "$OLD_PORT" -c "select count(*) from everyday where note like '% touched%'")
[[ "$touched" == 95 ]] || { echo "old has $touched touched rows; want 95" >&2; exit 1; }
compare_every_row
check_mirror_log
check_proxy_log
echo "ok"
