#!/usr/bin/env bash
# pgbench through cutover in dual_write at a 50 % read ramp: the tpcb-like and select-only
# scripts in simple, extended and prepared mode, with zero failed transactions; select-only
# really reads from new in every mode, in whole sessions (new's own statistics say so), while
# tpcb-like's reads, inside its write transactions, stay on old (its writes are mirrored to
# new).
# Usage: pgbench_routing_test.sh CUTOVER_BINARY
set -euo pipefail
export STACK_MIGRATION="  phase: dual_write
  read_ramp_percent: 50
  read_your_writes_ms: 0"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack "$1"

PGBENCH=/usr/lib/postgresql/15/bin/pgbench
proxy=(-h 127.0.0.1 -p "$PROXY_PORT" -U postgres postgres)
# pgbench -i through cutover creates the tables on both (DDL is mirrored) but fills them on
# old only (COPY is not mirrored yet); new gets the same data directly, as the initial copy
# of a migration would give it.
"$PGBENCH" -i -s 2 -q "${proxy[@]}" >"$STACK_DIR/init.log" 2>&1 || { cat "$STACK_DIR/init.log"; exit 1; }
"$PGBENCH" -i -s 2 -q -h 127.0.0.1 -p "$NEW_PORT" -U postgres postgres >>"$STACK_DIR/init.log" 2>&1 ||
  { cat "$STACK_DIR/init.log"; exit 1; }

index_scans_on_new() {
  psql -h 127.0.0.1 -p "$NEW_PORT" -U postgres -AtX postgres -c \
    "select pg_stat_force_next_flush(); select coalesce(idx_scan, 0) from pg_stat_user_tables where relname = 'pgbench_accounts'" |
    tail -n 1
}

clients=8
transactions_per_client=100
select_only_on_new=0
for mode in simple extended prepared; do
  for script in tpcb-like select-only; do
    before=$(index_scans_on_new)
    out=$("$PGBENCH" -M "$mode" -b "$script" -c "$clients" -j 2 -t "$transactions_per_client" -n \
      "${proxy[@]}" 2>&1)
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    expected=$((clients * transactions_per_client))
    if [[ "$processed" != "$expected" || "$failed" != "0" ]]; then
      echo "pgbench -M $mode -b $script: processed=$processed (want $expected) failed=$failed" >&2
      echo "$out" >&2
      exit 1
    fi
    on_new=$(($(index_scans_on_new) - before))
    echo "pgbench -M $mode -b $script: $processed transactions, 0 failed, $on_new reads on new"
    # Eight sessions at 50 %: each lands on new with probability 1/2, so all eight on old
    # happens with probability 1/256; the test accepts that rare case only for the count.
    if [[ "$script" == select-only ]]; then
      select_only_on_new=$((select_only_on_new + on_new))
      ((on_new % transactions_per_client == 0)) ||
        { echo "reads on new ($on_new) are not whole sessions: stickiness broken" >&2; exit 1; }
    else
      # Its SELECT, inside the write transaction, stays on old; new scans the index only for
      # the mirrored UPDATE of pgbench_accounts, one per transaction.
      want=$expected
      if ((on_new != want)); then
        echo "pgbench -M $mode -b $script: $on_new index scans on new; want $want" >&2
        exit 1
      fi
    fi
  done
done
# 24 sessions at 50 %: all of them on old has probability 2^-24.
((select_only_on_new > 0)) || { echo "no select-only session read from new" >&2; exit 1; }
check_proxy_log
echo "ok"
