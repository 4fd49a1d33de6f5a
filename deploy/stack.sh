#!/usr/bin/env bash
# The local stack: two throwaway PostgreSQL 15 servers (old and new) and cutover in front of
# them, all on loopback. Runs in the foreground; Ctrl-C stops cutover and removes the servers.
# Not for production: the servers trust every local connection and keep data in a temp dir.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${CUTOVER_PORT:-6432}

bash "$root/deploy/build.sh" cutover

state=$(mktemp -d /tmp/cutover-stack.XXXXXX)
chmod 755 "$state"
cutover_pid=""
interrupted=0
cleanup() {
  trap '' INT TERM  # a second Ctrl-C must not cut the clean-up short
  if [[ -n "$cutover_pid" ]]; then
    # Ctrl-C reached cutover too and it is draining; otherwise ask it to stop.
    ((interrupted)) || kill -TERM "$cutover_pid" 2>/dev/null || true
    wait "$cutover_pid" 2>/dev/null || true
  fi
  bash "$root/tests/harness/pgcluster.sh" stop "$state/old" >/dev/null 2>&1 || true
  bash "$root/tests/harness/pgcluster.sh" stop "$state/new" >/dev/null 2>&1 || true
  rm -rf "$state"
  echo "stack: stopped, databases removed" >&2
}
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT
trap 'exit 143' TERM

old_port=$(bash "$root/tests/harness/pgcluster.sh" start "$state/old" --name old)
new_port=$(bash "$root/tests/harness/pgcluster.sh" start "$state/new" --name new)

cat >"$state/cutover.yaml" <<YAML
listen: { address: 127.0.0.1, port: $port }
backends:
  old: { host: 127.0.0.1, port: $old_port }
  new: { host: 127.0.0.1, port: $new_port }
log: { level: info, format: text }
YAML

"$root/build/cutover" run --config "$state/cutover.yaml" &
cutover_pid=$!
# Ready once the port is listening (a probe connection would show up in cutover's log).
for _ in $(seq 100); do
  ss -Hltn "sport = :$port" | grep -q . && break
  kill -0 "$cutover_pid" 2>/dev/null || { echo "stack: cutover failed to start" >&2; exit 1; }
  sleep 0.1
done

cat <<MSG

cutover is up.  Connect with:

    psql "host=127.0.0.1 port=$port user=postgres dbname=postgres"

  old database: host=127.0.0.1 port=$old_port   new database: host=127.0.0.1 port=$new_port
  config: $state/cutover.yaml
  Ctrl-C stops cutover and removes both databases.

MSG
wait "$cutover_pid"
