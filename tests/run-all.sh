#!/usr/bin/env bash
# Every test cutover has, from a fresh machine: installs missing Debian packages, builds the
# Release tree and runs the whole CTest suite (unit, integration against real PostgreSQL 15,
# real clients, benchmark smoke run), then the same suite under ASan+UBSan, then the libFuzzer
# targets for a short fixed budget. Exits non-zero on the first failing stage.
#
# CUTOVER_TEST_STAGES selects stages (default "release asan fuzz format").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${CUTOVER_TEST_STAGES:-release asan fuzz format}
jobs=$(nproc)

bash "$root/deploy/install-deps.sh"

stage() { printf '\n=== %s ===\n' "$*"; }

build_and_test() {
  local dir=$1 label_filter=$2
  shift 2
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure --timeout 900 ${label_filter:+-L "$label_filter"}
}

for s in $stages; do
  case "$s" in
    release)
      stage "Release build, all tests"
      build_and_test "$root/build" "" -DCMAKE_BUILD_TYPE=Release
      ;;
    asan)
      stage "ASan+UBSan build, all tests except the benchmark smoke run"
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        build_and_test "$root/build-asan" "" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUTOVER_ASAN=ON
      ;;
    fuzz)
      stage "libFuzzer targets, short fixed budget"
      build_and_test "$root/build-fuzz" fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER=clang++-14 -DCUTOVER_FUZZ=ON -DCUTOVER_TESTS=ON
      ;;
    format)
      stage "clang-format"
      cd "$root"
      git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run -Werror
      echo "formatting clean"
      ;;
    *)
      echo "run-all.sh: unknown stage '$s'" >&2
      exit 2
      ;;
  esac
done
stage "all stages passed: $stages"
