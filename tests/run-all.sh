#!/usr/bin/env bash
# Every test cutover has, from a fresh machine: installs missing Debian packages, then runs
# each stage and stops at the first that fails:
#   layering the include rules of docs/architecture.md (tests/layering_test.sh)
#   release  Release build, the whole CTest suite (unit tests, integration tests against real
#            PostgreSQL 15, real clients, the benchmark's smoke run)
#   asan     the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan     the proxy's integration tests with the proxy built under ThreadSanitizer
#   fuzz     the libFuzzer targets, each for a short fixed budget (clang)
#   tidy     clang-tidy on protocol/ router/ verify/ proxy/ (warnings are errors)
#   format   clang-format check of every C++ file
# Each build stage is a preset of CMakePresets.json (cmake --preset NAME, then
# cmake --build --preset NAME and ctest --preset NAME do the same by hand).
# CUTOVER_TEST_STAGES picks stages, e.g. CUTOVER_TEST_STAGES="release format".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${CUTOVER_TEST_STAGES:-layering release asan tsan fuzz tidy format}
jobs=$(nproc)

bash "$root/deploy/install-deps.sh"
cd "$root"  # where CMakePresets.json is

stage() { printf '\n=== %s (%s) ===\n' "$*" "$(date +%T)"; }

# The build types are CMakePresets.json's: configure, build and test a preset.
build_and_test() {
  local preset=$1
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  # As many tests at once as there are cores: each starts its own servers on ports of its own
  # (tests/harness/pgcluster.sh) and no test holds a timing threshold (docs/testing.md).
  ctest --preset "$preset" -j "$jobs"
}

for s in $stages; do
  case "$s" in
    release)
      stage "Release build, all tests"
      build_and_test release
      ;;
    asan)
      stage "ASan+UBSan build, all tests but the benchmark"
      build_and_test asan
      ;;
    tsan)
      stage "ThreadSanitizer proxy, integration tests"
      build_and_test tsan
      ;;
    fuzz)
      stage "libFuzzer targets, short fixed budget"
      build_and_test fuzz
      ;;
    tidy)
      stage "clang-tidy"
      cmake --preset tidy >/dev/null
      run-clang-tidy-14 -p "$root/build-tidy" -quiet -j "$jobs" \
        "^$root/(protocol|router|verify|proxy)/" >"$root/build-tidy/tidy.log" 2>&1 ||
        { grep -E "warning|error" "$root/build-tidy/tidy.log" | grep -v "generated"; exit 1; }
      echo "clang-tidy clean"
      ;;
    layering)
      stage "layering: no source includes a header above its own layer"
      bash "$root/tests/layering_test.sh"
      ;;
    format)
      stage "clang-format"
      (git ls-files "*.h" "*.cpp" | xargs clang-format --dry-run -Werror)
      echo "formatting clean"
      ;;
    *)
      echo "run-all.sh: unknown stage '$s'" >&2
      exit 2
      ;;
  esac
done
stage "all stages passed: $stages"
