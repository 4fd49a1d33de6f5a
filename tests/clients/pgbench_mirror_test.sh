#!/usr/bin/env bash
# pgbench -i through cutover (its COPY mirrored), then pgbench tpcb-like at -c 16 through
# cutover in dual_write, in the simple protocol and with prepared statements (its
# CURRENT_TIMESTAMP pinned in both), then every pgbench table is
# compared between old and new, row by row, by hash: both must be identical, every
# transaction's history row present, cutover must have logged no mirror failure, and its
# comparator must have found no mismatch.
# Usage: pgbench_mirror_test.sh CUTOVER_BINARY [SECONDS] (default 60)
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: 50
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack "$1"
seconds=${2:-60}

PGBENCH=/usr/lib/postgresql/15/bin/pgbench
# pgbench -i through cutover: its DDL, its COPY FROM STDIN of the accounts and its VACUUM are
# mirrored, so new starts with the same tables and rows as old.
"$PGBENCH" -i -s 2 -q -h 127.0.0.1 -p "$PROXY_PORT" -U postgres postgres >>"$STACK_DIR/init.log" 2>&1 ||
  { cat "$STACK_DIR/init.log"; exit 1; }
compare_pgbench_tables

# Two runs of pgbench's own tpcb-like: in the simple protocol for SECONDS, then through
# prepared statements (extended protocol) for a third of that. Its history insert's
# CURRENT_TIMESTAMP is pinned in both (a literal in the simple protocol, a parameter of
# cutover's own statement in the extended one), so history's mtime must match too.
total=0
for run in "simple -T $seconds" "prepared -T $((seconds / 3 > 0 ? seconds / 3 : 1))"; do
  # shellcheck disable=SC2086  # the run's options are meant to split
  out=$("$PGBENCH" -b tpcb-like -M $run -c 16 -j 2 -n -h 127.0.0.1 -p "$PROXY_PORT" -U postgres postgres 2>&1) ||
    { echo "$out" >&2; exit 1; }
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  echo "pgbench -M $run -c 16 through cutover: $processed transactions, $failed failed"
  if [[ -z "$processed" || "$processed" == 0 || "$failed" != 0 ]]; then
    echo "$out" >&2
    exit 1
  fi
  total=$((total + processed))
done

compare_pgbench_tables
history=$(table_digest "$OLD_PORT" pgbench_history tid)
((${history%% *} == total)) ||
  { echo "history has ${history%% *} rows for $total transactions" >&2; exit 1; }
if grep -Eq 'event=(mirror_failed|mirror_mismatch|mirror_skipped|mirror_nondeterministic)' \
  "$STACK_DIR/cutover.log"; then
  echo "cutover reported mirror trouble:" >&2
  grep -E 'event=mirror_' "$STACK_DIR/cutover.log" | head -20 >&2
  exit 1
fi
# The comparator saw every pair while cutover ran; stopping it lets it finish the queue.
kill "$PROXY_PID"
wait "$PROXY_PID" || true
PROXY_PID=""
if [[ -s "$STACK_DIR/mismatches.jsonl" ]]; then
  echo "the comparator reported mismatches:" >&2
  head -5 "$STACK_DIR/mismatches.jsonl" >&2
  exit 1
fi
check_proxy_log
echo "ok"
