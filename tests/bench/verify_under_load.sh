#!/usr/bin/env bash
# What cutover's own verification costs under load, and that it stays exact: pgbench tpcb-like
# with 16 clients through cutover in dual_write (ramp 0, strict mirroring), first alone, then
# with verification passes running back to back (POST /verify). Reports both throughputs, how
# many passes ran (each must find old and new equal: pgbench's writes never differ), and how
# long commits were held for each pair of snapshots (p50/p99 from
# cutover_verify_commit_hold_seconds, the longest from the reports). Everything is started here
# on loopback and removed on exit.
#
# Usage: verify_under_load.sh [--quick] [--cutover PATH]
#   --quick  5 s per run at scale 2 (a smoke check); default 30 s at scale 10
# Environment: BENCH_SECONDS, BENCH_SCALE override the run length and pgbench's scale;
# BENCH_LOAD_PERCENT sets verify.checksum.max_load_percent (default 50).
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pgcluster=$repo/tests/harness/pgcluster.sh
cutover_bin=${CUTOVER_BIN:-$repo/build/cutover}
seconds=${BENCH_SECONDS:-30}
scale=${BENCH_SCALE:-10}
while (($#)); do
  case $1 in
    --quick) seconds=5; scale=2; shift ;;
    --cutover) cutover_bin=${2:?--cutover needs a path}; shift 2 ;;
    *) sed -n '10,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
die() { echo "verify_under_load: ERROR: $*" >&2; exit 1; }
[[ -x $cutover_bin ]] || die "cutover binary not found at $cutover_bin"

work=$(mktemp -d /tmp/cutover-verify-bench.XXXXXX)
chmod 755 "$work"
proxy_pid="" watchdog_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # The watchdog's sleep must not outlive the script: it would hold ctest's output pipe open.
  [[ -n $watchdog_pid ]] && kill "$watchdog_pid" 2>/dev/null && wait "$watchdog_pid" 2>/dev/null
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  bash "$pgcluster" stop "$work/old" >/dev/null 2>&1 || true
  bash "$pgcluster" stop "$work/new" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM
# The whole run, setup and both pgbench runs included, stops by itself.
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep $((600 + 4 * seconds)) & sleeper=$!
  wait "$sleeper" && echo "verify_under_load: time budget exceeded" >&2 && kill -TERM $$
) &
watchdog_pid=$!

conf=(--conf "max_connections=100" --conf "shared_buffers=256MB")
old_port=$(bash "$pgcluster" start "$work/old" --name old "${conf[@]}")
new_port=$(bash "$pgcluster" start "$work/new" --name new "${conf[@]}")
for port in "$old_port" "$new_port"; do  # the same rows on both: pgbench -i is deterministic
  pgbench -h 127.0.0.1 -p "$port" -U postgres -i -q -s "$scale" postgres >/dev/null 2>&1
done
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "bench-token" >"$work/token"
cat >"$work/cutover.yaml" <<YAML
listen: { address: 127.0.0.1, port: $port }
auth: { method: trust, trust_addresses: [127.0.0.1/32] }
backends: { old: { host: 127.0.0.1, port: $old_port }, new: { host: 127.0.0.1, port: $new_port } }
migration: { phase: dual_write, read_ramp_percent: 0 }
verify: { journal_dir: $work/journal, mismatch_log: $work/mismatches.jsonl,
          divergence_log: $work/divergences.jsonl, user: postgres, database: postgres,
          checksum: { max_load_percent: ${BENCH_LOAD_PERCENT:-50} } }
admin: { port: $admin, token_file: $work/token, audit_log: $work/audit.jsonl }
control: { store: "file:$work/state.json" }
log: { level: warn, format: text }
YAML
"$cutover_bin" run --config "$work/cutover.yaml" 2>"$work/cutover.log" &
proxy_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

run_pgbench() {  # tps of one tpcb-like run through cutover
  pgbench -h 127.0.0.1 -p "$port" -U postgres -c 16 -j 2 -T "$seconds" -n postgres 2>&1 |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
ctl() { "$cutover_bin" ctl --admin "http://127.0.0.1:$admin" --token-file "$work/token" "$@"; }

alone=$(run_pgbench)
# Passes back to back while pgbench runs; each report is kept.
passes_file=$work/passes
(
  end=$((SECONDS + seconds))
  while ((SECONDS < end)); do
    ctl verify >/dev/null || break
    until ctl verify-report | head -1 | grep -q "running=false"; do sleep 0.05; done
    ctl verify-report | head -1 >>"$passes_file"
  done
) &
looper=$!
verified=$(run_pgbench)
wait "$looper"

passes=$(wc -l <"$passes_file")
unequal=$(grep -vc " equal=true " "$passes_file" || true)
longest=$(sed -n 's/.*longest_hold_us=\([0-9]*\).*/\1/p' "$passes_file" | sort -n | tail -1)
quantiles=$(ADMIN=$admin /usr/bin/python3 -c '
import os, re, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % os.environ["ADMIN"]).read().decode()
buckets = [(float(m.group(1)), float(m.group(2))) for m in
           re.finditer(r"cutover_verify_commit_hold_seconds_bucket\{le=\"([0-9.e+-]+)\"\} ([0-9.e+-]+)", text)]
total = buckets[-1][1] if buckets else 0
def q(p):
    for le, count in buckets:
        if total and count >= p * total: return "<= %g ms" % (le * 1000)
    return "n/a"
print("holds=%d p50 %s p99 %s" % (total, q(0.5), q(0.99)))')
printf '| run | tps |\n|---|---|\n| tpcb-like -c 16, ramp 0 | %s |\n| same, verification passes back to back | %s |\n' "$alone" "$verified"
/usr/bin/python3 -c "print('ratio with/without: %.2f' % ($verified / $alone))"
echo "passes=$passes unequal=$unequal $quantiles longest_hold_us=$longest"
((passes > 0)) || die "no verification pass finished"
((unequal == 0)) || die "a pass found old and new different under pgbench's writes: $(cat "$passes_file")"
