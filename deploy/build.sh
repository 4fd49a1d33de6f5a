#!/usr/bin/env bash
# Builds cutover into build/ (Release) after installing any missing Debian packages.
# Not a test runner: tests/run-all.sh builds the test variants too.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$root/build" "$@"
