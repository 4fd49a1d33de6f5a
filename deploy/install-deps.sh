#!/usr/bin/env bash
# Installs the Debian packages that building, testing and benchmarking cutover need.
# Idempotent: asks apt only for what is missing, so a second run does nothing.
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
  postgresql-15 postgresql-client-15 pgbouncer openssl procps util-linux iproute2
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
