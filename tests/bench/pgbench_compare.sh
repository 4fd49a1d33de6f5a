#!/usr/bin/env bash
# Compares pgbench throughput and latency against one PostgreSQL cluster reached three ways:
# directly, through cutover, and through PgBouncer (session pooling), to show what a proxy hop
# costs. Workloads: select-only (-S) and tpcb-like, 1 and 16 clients, simple and prepared
# protocol. Everything (cluster, cutover, pgbouncer) is started here on loopback and torn down
# on exit.
#
# Why interleaved: a shared machine drifts (other builds, cache warm-up, table bloat from
# tpcb-like writes). Running all targets back to back within each round, rotating which one
# goes first, spreads that drift over the targets instead of charging it to whichever ran
# last; the median over rounds then damps single noisy runs.
#
# Usage: pgbench_compare.sh [--quick] [--out FILE] [--cutover PATH]
#   --quick        1 round of 3 s per combination (a smoke check that the benchmark runs)
#   --out FILE     also write the result table as markdown to FILE
#   --cutover PATH the proxy binary (default: build/cutover in the repository, or $CUTOVER_BIN)
# Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (default 10), BENCH_COMBOS (a subset,
# e.g. "select-only/16/simple tpcb-like/1/prepared"), BENCH_TARGETS (default "direct cutover
# pgbouncer"; also ramp0 and ramp50: cutover in dual_write with a second cluster as new, the
# read ramp at 0 or 50 %, which mirrors every write to new in strict ordering; parallel: ramp0
# with mirror.ordering parallel; answers: ramp0 comparing answers only, without each row's
# witness (mirror.compare answers, docs/mirroring.md); split: no proxy, half the clients straight to each cluster
# at once, which is what ramp 50 costs the databases alone; and
# pgpool: pgpool-II in native replication mode over the same two clusters, every write sent to
# both, reads to the first, as ramp0 does), BENCH_KEEP=1 keeps the work directory (logs) after
# a successful run; it is always kept after a failure.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) fails the command that uses it

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pgcluster=$repo/tests/harness/pgcluster.sh
cutover_bin=${CUTOVER_BIN:-$repo/build/cutover}
rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-10}
out_file=""
PATH=$PATH:/usr/sbin  # Debian puts pgbouncer there

usage() { sed -n '13,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "pgbench_compare: ERROR: $*" >&2; exit 1; }
note() { echo "pgbench_compare: $*" >&2; }

while (($#)); do
  case $1 in
    --quick) rounds=1; seconds=3; shift ;;
    --out) out_file=${2:?--out needs a file}; shift 2 ;;
    --cutover) cutover_bin=${2:?--cutover needs a path}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $seconds =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_ROUNDS and BENCH_SECONDS must be positive integers"
[[ -x $cutover_bin ]] || die "cutover binary not found at $cutover_bin (build it or use --cutover)"
for tool in pgbench psql pgbouncer pgpool timeout; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see deploy/install-deps.sh)"
done

targets=(direct cutover pgbouncer)
if [[ -n ${BENCH_TARGETS:-} ]]; then read -r -a targets <<<"$BENCH_TARGETS"; fi
for target in "${targets[@]}"; do
  [[ $target =~ ^(direct|cutover|pgbouncer|ramp0|ramp50|parallel|answers|split|pgpool)$ ]] ||
    die "unknown target $target"
done
combos=({select-only,tpcb-like}/{1,16}/{simple,prepared})  # workload/clients/protocol
if [[ -n ${BENCH_COMBOS:-} ]]; then read -r -a combos <<<"$BENCH_COMBOS"; fi
ncombos=${#combos[@]}

# A hard ceiling on the whole run: setup, every pgbench run plus slack, and teardown.
budget=$((300 + ncombos * rounds * ${#targets[@]} * (seconds + 20)))

work=$(mktemp -d /tmp/cutover-bench.XXXXXX)
chmod 755 "$work"  # the cluster and pgbouncer run as postgres and must reach their dirs
cutover_pids=() pgbouncer_pid="" pgpool_pid="" watchdog_pid="" cluster_started=0 new_started=0

stop_pid() {  # TERM, wait up to 10 s, then KILL
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "$watchdog_pid" "${cutover_pids[@]}" "$pgbouncer_pid" "$pgpool_pid"; do
    stop_pid "$pid"
  done
  if ((cluster_started)); then "$pgcluster" stop "$work/pg" || true; fi
  if ((new_started)); then "$pgcluster" stop "$work/new" || true; fi
  if ((rc != 0)) || [[ ${BENCH_KEEP:-} == 1 ]]; then note "kept $work"; else rm -rf -- "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$budget" & sleeper=$!
  wait "$sleeper" && echo "pgbench_compare: time budget of ${budget}s exceeded" >&2 && kill -TERM $$
) &
watchdog_pid=$!

pick_port() {  # a random free loopback port in 15000-31999 (below the ephemeral range)
  local port hex i
  for ((i = 0; i < 200; i++)); do
    port=$((15000 + RANDOM % 17000))
    hex=$(printf ':%04X ' "$port")
    grep -qi -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$port"; return; }
  done
  die "no free port found"
}

wait_ready() {  # wait_ready NAME PORT PID LOG: up to 20 s for PORT to accept a PostgreSQL login
  local name=$1 port=$2 pid=$3 log=$4 i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited during startup"; }
    timeout 5 psql -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'SELECT 1' \
      >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -n 20 "$log" >&2; die "$name did not become ready on port $port"
}

# ---- the cluster, initialised once ----
cluster_started=1  # before start: stop is idempotent, and start may be interrupted midway
pg_port=$("$pgcluster" start "$work/pg" --name bench --conf 'shared_buffers = 256MB')
note "PostgreSQL on 127.0.0.1:$pg_port; initialising pgbench scale 10"
timeout 300 pgbench -i -s 10 -q -h 127.0.0.1 -p "$pg_port" -U postgres postgres \
  >"$work/init.log" 2>&1 || { tail -n 20 "$work/init.log" >&2; die "pgbench -i failed"; }

# ---- new, for the ramp targets: the same data, as replication would give it ----
new_port=""
if [[ " ${targets[*]} " =~ \ (ramp|parallel|answers|split|pgpool) ]]; then
  new_started=1
  new_port=$("$pgcluster" start "$work/new" --name bench-new --conf 'shared_buffers = 256MB')
  note "new PostgreSQL on 127.0.0.1:$new_port; initialising pgbench scale 10"
  timeout 300 pgbench -i -s 10 -q -h 127.0.0.1 -p "$new_port" -U postgres postgres \
    >>"$work/init.log" 2>&1 || { tail -n 20 "$work/init.log" >&2; die "pgbench -i on new failed"; }
fi

# ---- cutover: start_cutover NAME [MIGRATION_YAML]: sets cutover_port ----
start_cutover() {
  local name=$1 migration=${2:-}
  cutover_port=$(pick_port)
  cat >"$work/$name.yaml" <<EOF
listen: { address: 127.0.0.1, port: $cutover_port, max_clients: 1000 }
threads: 0
auth: { method: trust, trust_addresses: [127.0.0.1/32] }  # as PgBouncer's auth_type below
backends:
  old: { host: 127.0.0.1, port: $pg_port }
  new: { host: 127.0.0.1, port: ${new_port:-1} }
log: { level: warn, format: text }
verify: { journal_dir: $work/$name-journal, mismatch_log: $work/$name-mismatches.jsonl, divergence_log: $work/$name-divergences.jsonl }
admin: { port: 0 }
control: { store: "file:$work/$name-state.json" }
$migration
EOF
  "$cutover_bin" run --config "$work/$name.yaml" 2>"$work/$name.log" &
  cutover_pids+=($!)
  wait_ready "$name" "$cutover_port" "$!" "$work/$name.log"
}
declare -A port_of=([direct]=$pg_port)
start_cutover cutover
port_of[cutover]=$cutover_port
for ramp in 0 50; do
  [[ " ${targets[*]} " == *" ramp$ramp "* ]] || continue
  start_cutover "ramp$ramp" \
    "migration: { phase: dual_write, read_ramp_percent: $ramp, read_your_writes_ms: 0 }"
  port_of[ramp$ramp]=$cutover_port
done
for variant in "parallel:ordering: parallel" "answers:compare: answers"; do
  name=${variant%%:*}
  [[ " ${targets[*]} " == *" $name "* ]] || continue
  start_cutover "$name" "migration: { phase: dual_write, read_ramp_percent: 0, \
read_your_writes_ms: 0, mirror: { ${variant#*:} } }"
  port_of[$name]=$cutover_port
done

# ---- pgbouncer (refuses to run as root: -u drops to postgres) ----
bouncer_port=$(pick_port)
mkdir "$work/pgbouncer"
echo '"postgres" ""' >"$work/pgbouncer/userlist.txt"
cat >"$work/pgbouncer/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/userlist.txt
pool_mode = session
default_pool_size = 32
max_client_conn = 200
logfile = $work/pgbouncer/pgbouncer.log
EOF
bouncer_user=()
if [[ $EUID -eq 0 ]]; then chown -R postgres: "$work/pgbouncer"; bouncer_user=(-u postgres); fi
pgbouncer "${bouncer_user[@]}" "$work/pgbouncer/pgbouncer.ini" 2>"$work/pgbouncer/stderr.log" &
pgbouncer_pid=$!
wait_ready pgbouncer "$bouncer_port" "$pgbouncer_pid" "$work/pgbouncer/stderr.log"

port_of[pgbouncer]=$bouncer_port

# ---- pgpool-II in native replication mode, for the pgpool target ----
start_pgpool() {
  local port pcp_port dir=$work/pgpool
  port=$(pick_port)
  pcp_port=$(pick_port)
  mkdir "$dir"
  touch "$dir/pcp.conf"
  cat >"$dir/pgpool.conf" <<CONF
backend_clustering_mode = 'native_replication'
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
pcp_listen_addresses = ''
pcp_port = $pcp_port
pcp_socket_dir = '$dir'
pid_file_name = '$dir/pgpool.pid'
logdir = '$dir'
backend_hostname0 = '127.0.0.1'
backend_port0 = $pg_port
backend_weight0 = 1
backend_flag0 = 'DISALLOW_TO_FAILOVER'
backend_hostname1 = '127.0.0.1'
backend_port1 = $new_port
backend_weight1 = 1
backend_flag1 = 'DISALLOW_TO_FAILOVER'
enable_pool_hba = off
num_init_children = 32
max_pool = 1
load_balance_mode = off
replicate_select = off
health_check_period = 0
sr_check_period = 0
failover_on_backend_error = off
log_destination = 'stderr'
CONF
  pgpool -n -f "$dir/pgpool.conf" -F "$dir/pcp.conf" 2>"$dir/stderr.log" &
  pgpool_pid=$!
  wait_ready pgpool "$port" "$pgpool_pid" "$dir/stderr.log"
  port_of[pgpool]=$port
}
if [[ " ${targets[*]} " == *" pgpool "* ]]; then start_pgpool; fi
port_of[split]="$pg_port+${new_port:-none}"  # only shown: run_split uses both
note "kernel.sched_autogroup_enabled=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null ||
  echo unknown) (1: CPU is shared per session first, which starves the database behind a proxy)"
note "targets: $(for t in "${targets[@]}"; do printf '%s :%s ' "$t" "${port_of[$t]}"; done);" \
  "$ncombos combinations x ${#targets[@]} targets x $rounds rounds x ${seconds}s"

# What pgbench does before a run without --no-vacuum, done here over the direct connection so
# every measured run starts from the same state and the proxies never carry that traffic.
reset_tables() {
  timeout 120 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
    -c 'VACUUM pgbench_branches' -c 'VACUUM pgbench_tellers' -c 'TRUNCATE pgbench_history' \
    >/dev/null || die "resetting the pgbench tables failed"
}

# run_pgbench TARGET WORKLOAD CLIENTS PROTOCOL: sets run_tps and run_lat (ms); dies on failure.
run_pgbench() {
  local target=$1 workload=$2 clients=$3 protocol=$4
  if [[ $target == split ]]; then
    run_split "$workload" "$clients" "$protocol"
    return
  fi
  pgbench_on "${port_of[$target]}" "$target" "$workload" "$clients" "$((clients > 1 ? 2 : 1))" \
    "$protocol"
  read_run "$work/run-$target.log" "$target ($workload, -c $clients, -M $protocol)"
}

# run_split WORKLOAD CLIENTS PROTOCOL: half the clients to old, half to new, one pgbench
# thread each (two in all, as for the other targets); run_tps is the sum, run_lat the
# transaction-weighted mean.
run_split() {
  local workload=$1 clients=$2 protocol=$3 old_pid new_pid old_tps old_lat
  ((clients >= 2)) || die "split needs at least 2 clients"
  pgbench_on "$pg_port" split-old "$workload" "$((clients / 2))" 1 "$protocol" &
  old_pid=$!
  pgbench_on "$new_port" split-new "$workload" "$((clients - clients / 2))" 1 "$protocol" &
  new_pid=$!
  wait "$old_pid" "$new_pid"
  read_run "$work/run-split-old.log" "split to old ($workload, -M $protocol)"
  old_tps=$run_tps old_lat=$run_lat
  read_run "$work/run-split-new.log" "split to new ($workload, -M $protocol)"
  read -r run_tps run_lat < <(awk -v a="$old_tps" -v la="$old_lat" -v b="$run_tps" \
    -v lb="$run_lat" 'BEGIN { printf "%.6f %.3f\n", a + b, (a * la + b * lb) / (a + b) }')
}

# pgbench_on PORT NAME WORKLOAD CLIENTS THREADS PROTOCOL: one run, output in run-NAME.log.
pgbench_on() {
  local port=$1 name=$2 workload=$3 clients=$4 threads=$5 protocol=$6 rc=0
  local -a args=(--no-vacuum -h 127.0.0.1 -p "$port" -U postgres
    -c "$clients" -j "$threads" -M "$protocol" -T "$seconds")
  [[ $workload == select-only ]] && args+=(-S)
  timeout --kill-after=5 $((seconds + 30)) pgbench "${args[@]}" postgres \
    >"$work/run-$name.log" 2>&1 || rc=$?
  echo "$rc" >"$work/run-$name.rc"  # read_run reports a failed run with its log
}

# read_run LOG WHAT: sets run_tps and run_lat from a pgbench log; dies if the run failed.
read_run() {
  local log=$1 what=$2 rc failed processed
  rc=$(cat "${log%.log}.rc")
  failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$log")
  processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$log")
  run_tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$log")
  run_lat=$(sed -nE 's/^latency average = ([0-9.]+) ms/\1/p' "$log")
  if ((rc != 0)) || [[ $failed != 0 || -z $run_tps || -z $run_lat || ${processed:-0} == 0 ]]; then
    cat "$log" >&2
    die "pgbench via $what FAILED:" \
      "exit $rc, failed transactions '${failed:-?}', processed '${processed:-?}'"
  fi
}

# ---- the measurements ----
note "warm-up: a short direct select-only run"
timeout 60 pgbench --no-vacuum -S -T "$((seconds < 5 ? seconds : 5))" -h 127.0.0.1 \
  -p "$pg_port" -U postgres postgres >/dev/null 2>&1 || die "warm-up run failed"

results=$work/results.txt  # lines: combo target round tps latency_ms
for ((c = 0; c < ncombos; c++)); do
  IFS=/ read -r workload clients protocol <<<"${combos[$c]}"
  for ((round = 0; round < rounds; round++)); do
    for ((k = 0; k < ${#targets[@]}; k++)); do
      target=${targets[$(((round + k) % ${#targets[@]}))]}  # rotate who goes first
      for pid in "${cutover_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a cutover exited (see $work/*.log)"
      done
      kill -0 "$pgbouncer_pid" 2>/dev/null || die "pgbouncer exited"
      [[ $workload == tpcb-like ]] && reset_tables
      run_pgbench "$target" "$workload" "$clients" "$protocol"
      echo "${combos[$c]} $target $round $run_tps $run_lat" >>"$results"
      note "[$((c + 1))/$ncombos round $((round + 1))/$rounds] $workload -c $clients" \
        "-M $protocol $target: tps=$run_tps lat=${run_lat}ms"
    done
  done
done

# ---- the table: median over rounds, compared with direct (else the first target given) ----
base=direct
[[ " ${targets[*]} " == *" direct "* ]] || base=${targets[0]}
stats() {  # stats COMBO TARGET FIELD: the median of that column over the rounds, and its spread
  awk -v c="$1" -v t="$2" -v f="$3" '$1 == c && $2 == t { print $f }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0 || v[1] <= 0) exit 1  # parenthesised: ">" redirects
      printf "%s %.1f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2),
        (100 * (v[NR] - v[1]) / v[1]) }' || die "no valid results for $1 via $2"
}
summary=$(for combo in "${combos[@]}"; do
  read -r dtps _ < <(stats "$combo" "$base" 4)
  read -r dlat _ < <(stats "$combo" "$base" 5)
  for target in "${targets[@]}"; do
    read -r tps spread < <(stats "$combo" "$target" 4)
    read -r lat _ < <(stats "$combo" "$target" 5)
    awk -v c="$combo" -v t="$target" -v tps="$tps" -v lat="$lat" -v dtps="$dtps" \
      -v dlat="$dlat" -v sp="$spread" 'BEGIN { printf "%s %s %.1f %.3f %.3f %+.0f %s\n",
        c, t, tps, lat, tps / dtps, (lat - dlat) * 1000, sp }'
  done
done)

header="median of $rounds round(s) x ${seconds}s; lat = pgbench 'latency average' (ms);\
 +µs = latency added vs $base; spread = (max-min)/min of the rounds' tps"
row() { printf '%-23s %-10s %10s %8s %8s %7s %7s\n' "$@"; }
echo "$header"
row workload/clients/proto target tps "lat ms" "tps/$base" "+µs " spread%
while read -r c t tps lat ratio added spread; do
  row "$c" "$t" "$tps" "$lat" "$ratio" "$added" "$spread"
done <<<"$summary"
if [[ -n $out_file ]]; then
  {
    echo "<!-- pgbench_compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores -->"
    echo "$header"; echo
    echo "| workload | clients | protocol | target | tps | latency ms | tps / $base | latency added µs | spread % |"
    echo "|---|---:|---|---|---:|---:|---:|---:|---:|"
    while IFS=' /' read -r w n p t tps lat ratio added spread; do
      echo "| $w | $n | $p | $t | $tps | $lat | $ratio | $added | $spread |"
    done <<<"$summary"
  } >"$out_file"
  note "markdown table written to $out_file"
fi

for log in "$work"/cutover.log "$work"/ramp*.log; do
  [[ -s $log ]] || continue
  note "$(basename "$log" .log) logged $(wc -l <"$log") line(s) at warn or above; first ones:"
  head -n 10 "$log" >&2
done
