# Shared set-up for the shell client tests: one throwaway PostgreSQL cluster (old) and the
# cutover binary in front of it, both removed when the calling script exits.
# Usage: source lib.sh; start_stack CUTOVER_BINARY; then use $OLD_PORT and $PROXY_PORT.
# With STACK_MIGRATION set (YAML lines for the migration section), a second cluster (new,
# $NEW_PORT) is started too and cutover runs with that migration section.
# Not for the GoogleTest suites (tests/harness/ has the C++ side).

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HARNESS="$LIB_DIR/../harness/pgcluster.sh"
STACK_DIR=$(mktemp -d /tmp/cutover-clients.XXXXXX)
chmod 755 "$STACK_DIR"
PROXY_PID=""

stop_stack() {
  if [[ -n "$PROXY_PID" ]]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
  fi
  bash "$HARNESS" stop "$STACK_DIR/old" >/dev/null 2>&1 || true
  bash "$HARNESS" stop "$STACK_DIR/new" >/dev/null 2>&1 || true
  # CUTOVER_TEST_KEEP_LOG=FILE keeps cutover's log for a look after the test.
  if [[ -n "${CUTOVER_TEST_KEEP_LOG:-}" && -f "$STACK_DIR/cutover.log" ]]; then
    cp "$STACK_DIR/cutover.log" "$CUTOVER_TEST_KEEP_LOG" || true
  fi
  rm -rf "$STACK_DIR"
}
trap stop_stack EXIT

# A free loopback port, as the kernel hands them out.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_stack() {
  local binary=$1
  OLD_PORT=$(bash "$HARNESS" start "$STACK_DIR/old" --name old)
  NEW_PORT=$OLD_PORT
  if [[ -n "${STACK_MIGRATION:-}" ]]; then
    NEW_PORT=$(bash "$HARNESS" start "$STACK_DIR/new" --name new)
  fi
  PROXY_PORT=$(free_port)
  cat >"$STACK_DIR/cutover.yaml" <<YAML
listen: { address: 127.0.0.1, port: $PROXY_PORT }
auth: { method: trust, trust_addresses: [127.0.0.1/32] }
backends: { old: { host: 127.0.0.1, port: $OLD_PORT }, new: { host: 127.0.0.1, port: $NEW_PORT } }
log: { level: warn, format: text }
verify: { journal_dir: $STACK_DIR/journal, mismatch_log: $STACK_DIR/mismatches.jsonl, divergence_log: $STACK_DIR/divergences.jsonl }
admin: { port: 0 }
control: { store: "file:$STACK_DIR/state.json" }
YAML
  if [[ -n "${STACK_MIGRATION:-}" ]]; then
    printf 'migration:\n%s\n' "$STACK_MIGRATION" >>"$STACK_DIR/cutover.yaml"
  fi
  "$binary" run --config "$STACK_DIR/cutover.yaml" 2>"$STACK_DIR/cutover.log" &
  PROXY_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "cutover did not start:" >&2
  cat "$STACK_DIR/cutover.log" >&2
  return 1
}

# Fails the test if cutover logged an error.
check_proxy_log() {
  if grep -q "level=error" "$STACK_DIR/cutover.log"; then
    echo "cutover logged errors:" >&2
    cat "$STACK_DIR/cutover.log" >&2
    return 1
  fi
}

# Every table of a database, rows sorted: what old and new must agree on completely.
every_row() { # PORT
  local table
  for table in $(psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres -c \
    "select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables
     where schemaname not in ('pg_catalog', 'information_schema') order by 1"); do
    echo "$table:"
    psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres -c \
      "select coalesce(string_agg(r::text, e'\n' order by r::text), '') from $table r"
  done
}

# Fails, with the difference and cutover's last lines, unless every table of old and new holds
# the same rows, every column.
compare_every_row() {
  every_row "$OLD_PORT" >"$STACK_DIR/old.rows"
  every_row "$NEW_PORT" >"$STACK_DIR/new.rows"
  if ! cmp -s "$STACK_DIR/old.rows" "$STACK_DIR/new.rows"; then
    echo "old and new differ:" >&2
    grep -Ev 'event=connection_' "$STACK_DIR/cutover.log" | tail -20 >&2 || true
    diff "$STACK_DIR/old.rows" "$STACK_DIR/new.rows" | head -20 >&2
    return 1
  fi
}

# Fails, with cutover's log, if a write was not mirrored whole: skipped, journaled, refused,
# mismatched, left open as a divergence or not pinned. EXPECTED (an extended regex) lets
# through the lines of refusals the test provoked on purpose and asserted itself.
check_mirror_log() { # [EXPECTED]
  local found
  local events='mirror_skipped|mirror_failed|mirror_journaled|mirror_mismatch|unit_refused'
  events+='|divergence_opened|mirror_nondeterministic'
  found=$(grep -E "event=($events)" "$STACK_DIR/cutover.log" | grep -Ev "${1:-^\$}" || true)
  if [[ -n "$found" ]]; then
    echo "a write was not mirrored whole:" >&2
    cat "$STACK_DIR/cutover.log" >&2
    return 1
  fi
}

# Count and md5 of a table's rows in the given order: "COUNT MD5".
table_digest() { # PORT TABLE ORDER
  psql -h 127.0.0.1 -p "$1" -U postgres -AtX -v ON_ERROR_STOP=1 postgres -c \
    "select count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' order by $3)), '-') from $2 t"
}

# Fails unless each pgbench table holds the same rows on old and new.
compare_pgbench_tables() {
  local spec table order on_old on_new
  for spec in "pgbench_accounts:aid" "pgbench_branches:bid" "pgbench_tellers:tid" \
    "pgbench_history:tid, bid, aid, delta, mtime"; do
    table=${spec%%:*}
    order=${spec#*:}
    on_old=$(table_digest "$OLD_PORT" "$table" "$order")
    on_new=$(table_digest "$NEW_PORT" "$table" "$order")
    echo "$table: old $on_old, new $on_new"
    [[ "$on_old" == "$on_new" ]] || { echo "$table differs between old and new" >&2; return 1; }
  done
}
