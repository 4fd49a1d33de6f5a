#!/usr/bin/env bash
# pgbench through cutover: initialise, then simple, extended and prepared protocol runs with
# zero failed transactions, and every transaction's history row present in the database.
# Usage: pgbench_test.sh CUTOVER_BINARY
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack "$1"

PGBENCH=/usr/lib/postgresql/15/bin/pgbench
proxy=(-h 127.0.0.1 -p "$PROXY_PORT" -U postgres postgres)
"$PGBENCH" -i -s 2 -q "${proxy[@]}" >"$STACK_DIR/init.log" 2>&1 ||
  { cat "$STACK_DIR/init.log"; exit 1; }

transactions_per_client=250
clients=4
for mode in simple extended prepared; do
  out=$("$PGBENCH" -M "$mode" -c "$clients" -j 2 -t "$transactions_per_client" -n "${proxy[@]}" 2>&1)
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  expected=$((clients * transactions_per_client))
  if [[ "$processed" != "$expected" || "$failed" != "0" ]]; then
    echo "pgbench -M $mode: processed=$processed (want $expected) failed=$failed" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "pgbench -M $mode: $processed transactions, 0 failed"
done

history=$(psql -h 127.0.0.1 -p "$OLD_PORT" -U postgres -AtX -c "select count(*) from pgbench_history" postgres)
want=$((3 * clients * transactions_per_client))
[[ "$history" == "$want" ]] || { echo "pgbench_history has $history rows, want $want" >&2; exit 1; }
check_proxy_log
echo "ok: $history history rows, every one acknowledged through cutover"
