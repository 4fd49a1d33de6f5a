#!/usr/bin/env bash
# Real drivers through cutover in dual_write at a 50 % read ramp: psycopg2, psycopg 3, asyncpg
# and node-postgres, 20 sessions each, every query answered correctly with zero client-visible
# errors: plain queries, parameterized and prepared ones, and a write read back in the same
# session (a read that may go to new, which must have the row: writes are mirrored there
# before they are acknowledged). Then each Python driver's COPY API loads rows, which must
# reach new too.
# Every driver must have sessions on new and on old, and new's own statistics must show the
# item reads (parameterized and prepared too) of whole sessions only.
# Usage: drivers_routing_test.sh CUTOVER_BINARY
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: 50
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DRIVERS_DIR="$LIB_DIR/drivers"
PYTHON=/usr/bin/python3  # Debian's, which sees python3-psycopg2, -psycopg and -asyncpg
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
# Where deploy/install-deps.sh puts npm's pg (Debian's node-pg conflicts with this Node.js).
NODE_MODULES=${CUTOVER_TEST_NODE_MODULES:-/opt/cutover-test-node/node_modules}

missing() { echo "$1 not found: run deploy/install-deps.sh" >&2; exit 1; }
"$PYTHON" -c 'import psycopg2, psycopg, asyncpg' || missing "a Python driver"
[[ -f "$NODE_MODULES/pg/package.json" ]] || missing "node-postgres in $NODE_MODULES"

start_stack "$1"

sql() { # PORT SQL...: runs SQL directly on one database, bypassing cutover
  psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres "${@:2}"
}
# The same rows on both sides, as the initial copy of a migration would give them; the
# drivers' writes reach both through cutover.
for port in "$OLD_PORT" "$NEW_PORT"; do
  sql "$port" -q -c "create table items (id int primary key, name text)" \
    -c "insert into items select g, 'item ' || g from generate_series(1, 100) g" \
    -c "create table driver_writes (id serial, driver text, session int, token text primary key,
        at timestamptz default now(), u uuid default gen_random_uuid())" \
    -c "create table copied (driver text, n int, text text, primary key (driver, n))"
  # new's sequence ahead, as after any divergence: keys it gave itself would differ.
  [[ "$port" == "$NEW_PORT" ]] && sql "$port" -q -o /dev/null -c "select setval('driver_writes_id_seq', 500)"
  marker=$(sql "$port" -c "select current_setting('port')")
  [[ "$marker" == "$port" ]] || { echo "database on $port says port $marker" >&2; exit 1; }
done

# Scans of items that new ran, once every session new served has gone: a backend flushes its
# statistics before it leaves pg_stat_activity.
scans_of_items_on_new() {
  for _ in $(seq 100); do
    [[ $(sql "$NEW_PORT" -c "select count(*) from pg_stat_activity
           where backend_type = 'client backend' and pid <> pg_backend_pid()") == 0 ]] && break
    sleep 0.05
  done
  sql "$NEW_PORT" -c "select coalesce(seq_scan, 0) + coalesce(idx_scan, 0)
                      from pg_stat_user_tables where relname = 'items'"
}

declare -A on_new items_on_new
run_driver() { # NAME COMMAND...: one driver's 20 sessions; records its count of plain reads on new
  local name=$1 out before
  before=$(scans_of_items_on_new)
  if ! out=$("${@:2}" "$PROXY_PORT" "$OLD_PORT" "$NEW_PORT" 2>&1); then
    echo "$out" >&2
    echo "--- cutover log:" >&2
    cat "$STACK_DIR/cutover.log" >&2
    exit 1
  fi
  echo "$out"
  on_new[$name]=$(sed -n 's/.* plain_on_new=\([0-9]*\) .*/\1/p' <<<"$out")
  [[ -n "${on_new[$name]}" ]] || { echo "$name printed no summary" >&2; exit 1; }
  items_on_new[$name]=$(($(scans_of_items_on_new) - before))
}
run_driver psycopg2 "$PYTHON" "$DRIVERS_DIR/routing_psycopg2.py"
run_driver psycopg "$PYTHON" "$DRIVERS_DIR/routing_psycopg.py"
run_driver asyncpg "$PYTHON" "$DRIVERS_DIR/routing_asyncpg.py"
run_driver pg env NODE_PATH="$NODE_MODULES" node "$DRIVERS_DIR/routing_pg.js"

# Every read-back found its row wherever it ran: nothing fell back, nothing was journaled.
if grep -Eq 'event=(read_fallback|mirror_failed|mirror_skipped|mirror_journaled)' \
  "$STACK_DIR/cutover.log"; then
  echo "cutover fell back or missed a mirrored write:" >&2
  cat "$STACK_DIR/cutover.log" >&2
  exit 1
fi
for name in psycopg2 psycopg asyncpg pg; do
  echo "$name: ${on_new[$name]} of 20 sessions had their plain query answered by new;" \
    "new read items ${items_on_new[$name]} times"
done
# psycopg2's SQL-level EXECUTEs cannot be told from writes (the prepared text is not in the
# message), so they are mirrored: new runs both of each session's, on old's sessions too.
items_on_new[psycopg2]=$((items_on_new[psycopg2] - 2 * 20))
for name in psycopg2 psycopg asyncpg pg; do
  # 20 sessions at 50 %: all on old, or all on new, each has probability 2^-20.
  if ((on_new[$name] < 1 || on_new[$name] > 19)); then
    echo "$name: ${on_new[$name]} of 20 sessions read from new; want 1..19" >&2
    exit 1
  fi
  # Sticky sessions: every session on new read items the same number of times there (what
  # its driver could send there), sessions on old never.
  per_session=$((items_on_new[$name] / on_new[$name]))
  if ((per_session < 1 || items_on_new[$name] != per_session * on_new[$name])); then
    echo "$name: new read items ${items_on_new[$name]} times for ${on_new[$name]} sessions" >&2
    exit 1
  fi
done
# psycopg2 speaks the simple protocol throughout: its five reads of items follow its plain
# query; its EXECUTEs were counted above.
if ((items_on_new[psycopg2] != 5 * on_new[psycopg2])); then
  echo "psycopg2: new read items ${items_on_new[psycopg2]} times; want 5 per session there" >&2
  exit 1
fi

# Every column, the serial key, now() and gen_random_uuid() defaults included: cutover pins
# them for the drivers' extended-protocol inserts as for psycopg2's simple-protocol ones.
rows_of() { sql "$1" -c "select count(*) || ' ' || md5(string_agg(t::text, ',' order by token)) from driver_writes t"; }
on_old=$(rows_of "$OLD_PORT")
on_new=$(rows_of "$NEW_PORT")
echo "driver_writes: old $on_old, new $on_new"
[[ "${on_old%% *}" == 80 ]] || { echo "old has ${on_old%% *} rows in driver_writes; want 80" >&2; exit 1; }
[[ "$on_new" == "$on_old" ]] || {
  echo "new's driver_writes differ from old's:" >&2
  diff <(sql "$OLD_PORT" -c "select * from driver_writes order by token") \
    <(sql "$NEW_PORT" -c "select * from driver_writes order by token") | head -20 >&2
  exit 1
}
# The drivers' COPY APIs: their COPY FROM STDIN is mirrored too (asyncpg's would not be, were
# it sent through the extended protocol: copied would differ then).
"$PYTHON" "$DRIVERS_DIR/copy_drivers.py" "$PROXY_PORT"
copied_of() { sql "$1" -c "select count(*) || ' ' || md5(string_agg(driver || n || text, ',' order by driver, n)) from copied"; }
on_old=$(copied_of "$OLD_PORT")
on_new=$(copied_of "$NEW_PORT")
echo "copied: old $on_old, new $on_new"
[[ "${on_old%% *}" == 1500 ]] || { echo "old has ${on_old%% *} copied rows; want 1500" >&2; exit 1; }
[[ "$on_new" == "$on_old" ]] || { echo "new's copied rows differ from old's" >&2; exit 1; }
# Every driver's writes were mirrored whole and pinned: no COPY left to old alone, no value
# left to each server (asyncpg's first execution of a statement comes in pieces).
if grep -Eq 'event=(mirror_unsupported|mirror_nondeterministic)' "$STACK_DIR/cutover.log"; then
  echo "a driver's write was not mirrored or not pinned:" >&2
  grep -E 'event=(mirror_unsupported|mirror_nondeterministic)' "$STACK_DIR/cutover.log" >&2
  exit 1
fi
check_proxy_log
echo "ok"
