#!/usr/bin/env bash
# new crashes and comes back in the middle of a pgbench tpcb-like run at -c 16 through cutover
# in dual_write: pgbench sees no error, cutover journals what new missed while it was down,
# replays it once new is back and hands over to live mirroring, and old and new end identical,
# table by table, with every transaction's history row.
# Usage: pgbench_outage_test.sh CUTOVER_BINARY [SECONDS] (default 30)
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: 50
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack "$1"
seconds=${2:-30}

PGBENCH=/usr/lib/postgresql/15/bin/pgbench
for port in "$OLD_PORT" "$NEW_PORT"; do
  "$PGBENCH" -i -s 1 -q -h 127.0.0.1 -p "$port" -U postgres postgres >>"$STACK_DIR/init.log" 2>&1 ||
    { cat "$STACK_DIR/init.log"; exit 1; }
done
history_rows() {
  psql -h 127.0.0.1 -p "$OLD_PORT" -U postgres -AtX postgres -c 'select count(*) from pgbench_history'
}
# Waits (up to 60 s) until old's history holds at least $1 rows: pgbench's progress.
wait_for_history() {
  for _ in $(seq 1200); do
    (($(history_rows) >= $1)) && return 0
    sleep 0.05
  done
  echo "pgbench did not reach $1 transactions" >&2
  return 1
}

"$PGBENCH" -M simple -b tpcb-like -c 16 -j 2 -n -T "$seconds" -h 127.0.0.1 -p "$PROXY_PORT" \
  -U postgres postgres >"$STACK_DIR/pgbench.out" 2>&1 &
bench=$!
wait_for_history 300
bash "$HARNESS" crash "$STACK_DIR/new"
down_at=$(history_rows)
wait_for_history $((down_at + 500))  # writes go on while new is down: journaled
bash "$HARNESS" resume "$STACK_DIR/new"
wait "$bench" || { cat "$STACK_DIR/pgbench.out" >&2; exit 1; }
out=$(cat "$STACK_DIR/pgbench.out")
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
echo "pgbench -c 16 through cutover, new crashed at $down_at: $processed transactions, $failed failed"
[[ -n "$processed" && "$failed" == 0 ]] || { echo "$out" >&2; exit 1; }

# The journal is drained once the mirror's last mode change is back to live.
live=""
for _ in $(seq 1200); do
  last=$(grep -oE 'event=(mirror_behind|mirror_live|mirror_handover_postponed)' \
    "$STACK_DIR/cutover.log" | tail -1)
  [[ "$last" == "event=mirror_live" ]] && { live=1; break; }
  sleep 0.05
done
grep -q 'event=mirror_behind' "$STACK_DIR/cutover.log" ||
  { echo "new's crash did not put the mirror behind" >&2; exit 1; }
[[ -n "$live" ]] || { echo "the journal was not replayed:" >&2; tail -20 "$STACK_DIR/cutover.log" >&2; exit 1; }
echo "mirror: $(grep -c 'event=mirror_behind' "$STACK_DIR/cutover.log") time(s) behind, live again"

compare_pgbench_tables
history=$(table_digest "$OLD_PORT" pgbench_history tid)
((${history%% *} == processed)) ||
  { echo "history has ${history%% *} rows for $processed transactions" >&2; exit 1; }
if grep -q '"kind":"journal_' "$STACK_DIR/mismatches.jsonl" 2>/dev/null; then
  echo "replay left records for repair:" >&2
  grep '"kind":"journal_' "$STACK_DIR/mismatches.jsonl" | head -5 >&2
  exit 1
fi
check_proxy_log
echo "ok"
