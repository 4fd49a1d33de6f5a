#!/usr/bin/env bash
# Installs the Debian packages that building, testing and benchmarking cutover need (PgJDBC
# and a JDK among them), and node-postgres (npm's `pg`) for the driver tests.
# Idempotent: asks apt and npm only for what is missing, so a second run does nothing.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config ccache
  libboost1.81-dev libssl-dev libpq-dev libyaml-cpp-dev
  prometheus-cpp-dev libpg-query-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # sanitizers and libFuzzer
  clang-14 libclang-rt-14-dev
  # real peers for tests and benchmarks
  postgresql-15 postgresql-client-15 pgbouncer pgpool2 openssl procps util-linux iproute2
  # client drivers for tests/clients/drivers_routing_test.sh (run with /usr/bin/python3)
  python3-psycopg2 python3-psycopg python3-asyncpg
  # PgJDBC for tests/clients/drivers_jdbc_test.sh, run as single-file source (java File.java)
  libpostgresql-jdbc-java openjdk-17-jdk-headless
  # the Prometheus text-format parser AdminTest checks /metrics with
  python3-prometheus-client
)
# The machine's Node.js brings npm; only where there is none, Debian's. (Debian's node-pg
# conflicts with the machine's Node.js, hence npm's pg below.)
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# node-postgres, where drivers_routing_test.sh looks for it (its NODE_PATH).
node_dir=/opt/cutover-test-node
node_pg=pg@8.23.1
if [[ ! -f "$node_dir/node_modules/pg/package.json" ]]; then
  echo "install-deps: installing $node_pg into $node_dir" >&2
  "${sudo_cmd[@]}" mkdir -p "$node_dir"
  "${sudo_cmd[@]}" npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error \
    "$node_pg" >&2
fi
