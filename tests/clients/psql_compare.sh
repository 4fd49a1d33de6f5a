#!/usr/bin/env bash
# psql scripts give byte-identical output run directly against PostgreSQL and through cutover.
# Each script runs in a fresh database on each path, so both start from the same state.
# Usage: psql_compare.sh CUTOVER_BINARY
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack "$1"

PSQL=(/usr/lib/postgresql/15/bin/psql -X -U postgres -h 127.0.0.1)
status=0
for script in "$LIB_DIR"/psql/*.sql; do
  name=$(basename "$script" .sql)
  for path in direct proxy; do
    "${PSQL[@]}" -p "$OLD_PORT" -qc "create database cmp_${name}_$path" postgres
  done
  "${PSQL[@]}" -a -p "$OLD_PORT" -f "$script" "cmp_${name}_direct" >"$STACK_DIR/$name.direct" 2>&1
  "${PSQL[@]}" -a -p "$PROXY_PORT" -f "$script" "cmp_${name}_proxy" >"$STACK_DIR/$name.proxy" 2>&1
  if diff -u "$STACK_DIR/$name.direct" "$STACK_DIR/$name.proxy"; then
    echo "ok: $name.sql ($(wc -l <"$STACK_DIR/$name.direct") lines identical)"
  else
    echo "FAIL: $name.sql differs through cutover" >&2
    status=1
  fi
  # The output must show the script really ran: errors and results from the server.
  grep -q "ERROR" "$STACK_DIR/$name.direct" || { echo "FAIL: $name.sql produced no errors" >&2; status=1; }
done
check_proxy_log
exit $status
