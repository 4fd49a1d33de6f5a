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
cleanup() {
  [[ -n "$cutover_pid" ]] && kill "$cutover_pid" 2>/dev/null && wait "$cutover_pid" 2>/dev/null
  bash "$root/tests/harness/pgcluster.sh" stop "$state/old" || true
  bash "$root/tests/harness/pgcluster.sh" stop "$state/new" || true
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
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
