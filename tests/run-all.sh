#!/usr/bin/env bash
# Every test cutover has, from a fresh machine: installs missing Debian packages, then runs
# each stage and stops at the first that fails:
#   release  Release build, the whole CTest suite (unit tests, integration tests against real
#            PostgreSQL 15, real clients, the benchmark's smoke run)
#   asan     the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan     the proxy's integration tests with the proxy built under ThreadSanitizer
#   fuzz     the libFuzzer targets, each for a short fixed budget (clang)
#   tidy     clang-tidy on protocol/ router/ verify/ proxy/ (warnings are errors)
#   format   clang-format check of every C++ file
# CUTOVER_TEST_STAGES picks stages, e.g. CUTOVER_TEST_STAGES="release format".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${CUTOVER_TEST_STAGES:-release asan tsan fuzz tidy format}
jobs=$(nproc)

bash "$root/deploy/install-deps.sh"

stage() { printf '\n=== %s (%s) ===\n' "$*" "$(date +%T)"; }

# configure DIR [cmake args...]
configure() {
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
}

run_ctest() {
  ctest --test-dir "$1" --output-on-failure --timeout 900 "${@:2}"
}

for s in $stages; do
  case "$s" in
    release)
      stage "Release build, all tests"
      configure "$root/build" -DCMAKE_BUILD_TYPE=Release
      ninja -C "$root/build" -j "$jobs"
      run_ctest "$root/build"
      ;;
    asan)
      stage "ASan+UBSan build, all tests but the benchmark"
      configure "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUTOVER_ASAN=ON
      ninja -C "$root/build-asan" -j "$jobs"
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_ctest "$root/build-asan" -LE bench
      ;;
    tsan)
      stage "ThreadSanitizer proxy, integration tests"
      # clang: GCC 12 refuses -fsanitize=thread on the atomic_thread_fence Asio uses.
      configure "$root/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUTOVER_TSAN=ON \
        -DCMAKE_CXX_COMPILER=clang++-14
      ninja -C "$root/build-tsan" -j "$jobs" cutover cutover_proxy_tests
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        run_ctest "$root/build-tsan" -R '^proxy_integration$'
      ;;
    fuzz)
      stage "libFuzzer targets, short fixed budget"
      configure "$root/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER=clang++-14 -DCUTOVER_FUZZ=ON
      ninja -C "$root/build-fuzz" -j "$jobs" fuzz_all
      run_ctest "$root/build-fuzz" -L fuzz
      ;;
    tidy)
      stage "clang-tidy"
      configure "$root/build-tidy" -DCMAKE_CXX_COMPILER=clang++-14 -DCUTOVER_PCH=OFF
      run-clang-tidy-14 -p "$root/build-tidy" -quiet -j "$jobs" \
        "^$root/(protocol|router|verify|proxy)/" >"$root/build-tidy/tidy.log" 2>&1 ||
        { grep -E "warning|error" "$root/build-tidy/tidy.log" | grep -v "generated"; exit 1; }
      echo "clang-tidy clean"
      ;;
    format)
      stage "clang-format"
      (cd "$root" && git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run -Werror)
      echo "formatting clean"
      ;;
    *)
      echo "run-all.sh: unknown stage '$s'" >&2
      exit 2
      ;;
  esac
done
stage "all stages passed: $stages"
