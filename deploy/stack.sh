#!/usr/bin/env bash
# The local stack: two throwaway PostgreSQL 15 servers (old and new) and cutover in front of
# them, all on loopback. Runs in the foreground; Ctrl-C stops cutover and removes the servers.
# Both legs use TLS and SCRAM, as a production setup should: a throwaway CA signs certificates
# for cutover and the servers, clients authenticate to cutover against a users file, and cutover
# logs in to old and new with verify-full. cutover runs in dual_write: writes go to old and are
# mirrored to new, reads stay on old (ramp 0 %). Not for production all the same: the password
# is "postgres" and the data lives in a temp dir.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${CUTOVER_PORT:-6432}
admin_port=${CUTOVER_ADMIN_PORT:-9187}

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

password=postgres
certs=$state/certs
bash "$root/tests/harness/make_certs.sh" "$certs"
cluster() {
  PGCLUSTER_PASSWORD=$password bash "$root/tests/harness/pgcluster.sh" start "$state/$1" \
    --name "$1" --auth scram-sha-256 --ssl "$certs"
}
old_port=$(cluster old)
new_port=$(cluster new)
(umask 077 && printf '%s\n' "$password" >"$state/backend.password")
verifier=$(printf '%s\n' "$password" | "$root/build/cutover" scram-verifier)
(umask 077 && printf '"postgres" "%s"\n' "$verifier" >"$state/users.txt")
(umask 077 && head -c 24 /dev/urandom | base64 >"$state/admin.token")

cat >"$state/cutover.yaml" <<YAML
listen: { address: 127.0.0.1, port: $port }
tls: { mode: allow, cert_file: $certs/server.crt, key_file: $certs/server.key }
auth: { method: scram-sha-256, users_file: $state/users.txt }
backends:
  old: { host: 127.0.0.1, port: $old_port, user: postgres, password_file: $state/backend.password,
         sslmode: verify-full, sslrootcert: $certs/ca.crt }
  new: { host: 127.0.0.1, port: $new_port, user: postgres, password_file: $state/backend.password,
         sslmode: verify-full, sslrootcert: $certs/ca.crt }
migration: { phase: dual_write, read_ramp_percent: 0 }
verify: { journal_dir: $state/journal, mismatch_log: $state/mismatches.jsonl, divergence_log: $state/divergences.jsonl,
          database: postgres }
admin: { port: $admin_port, token_file: $state/admin.token, audit_log: $state/audit.jsonl }
control: { store: "file:$state/state.json" }
log: { level: info, format: text }
YAML
"$root/build/cutover" check-backends --config "$state/cutover.yaml"

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

    psql "host=127.0.0.1 port=$port user=postgres password=$password dbname=postgres sslmode=verify-full sslrootcert=$certs/ca.crt"

  old database: host=127.0.0.1 port=$old_port   new database: host=127.0.0.1 port=$new_port
  Writes through cutover reach both (dual_write); reads stay on old (read_ramp_percent 0).
  config: $state/cutover.yaml   mismatches: $state/mismatches.jsonl
  Operate it:  $root/build/cutover ctl --admin http://127.0.0.1:$admin_port --token-file $state/admin.token status
               (ramp 25, rollback, resume, readiness ...)
  Ctrl-C stops cutover and removes both databases.

MSG
wait "$cutover_pid"
