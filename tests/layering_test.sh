#!/usr/bin/env bash
# Checks the include rules of docs/architecture.md: every C++ file includes only headers of its
# own folder and of the folders its layer may use, and the pure layers (protocol/, router/,
# verify/) never include Asio, Beast or libpq. A rule broken here is a dependency the CMake
# targets would not show until link time, or not at all. Exit 1 and one line per breach.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# folder: the project folders its files may include (its own always).
declare -A may_use=(
  [protocol]=""
  [router]="protocol"
  [verify]=""
  [proxy/base]="router verify protocol"
  [proxy/net]="proxy/base protocol router verify"
  [proxy/auth]="proxy/net proxy/base protocol router verify"
  [proxy/control]="proxy/base protocol router verify"
  [proxy/migration]="proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy/verification]="proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy/link]="proxy/auth proxy/net proxy/base protocol router verify"
  [proxy/mirror]="proxy/link proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy/session]="proxy/mirror proxy/link proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy/admin]="proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy/server]="proxy/verification proxy/session proxy/mirror proxy/link proxy/admin proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
  [proxy]="proxy/verification proxy/server proxy/session proxy/mirror proxy/link proxy/admin proxy/migration proxy/auth proxy/control proxy/net proxy/base protocol router verify"
)
pure_forbidden='<boost/asio|<boost/beast|<libpq-fe\.h>|<asio'

breaches=0
breach() {
  echo "layering: $1" >&2
  breaches=$((breaches + 1))
}

for folder in "${!may_use[@]}"; do
  allowed=" $folder ${may_use[$folder]} "
  for file in "$folder"/*.h "$folder"/*.cpp; do
    [[ -e $file ]] || continue
    while IFS= read -r line; do
      header=${line#*\"}
      header=${header%\"*}
      dir=${header%/*}
      if [[ $allowed != *" $dir "* ]]; then
        breach "$file includes $header: $folder may use only$allowed"
      fi
    done < <(grep -E '^#include "(protocol|router|verify|proxy)/' "$file" || true)
    case $folder in
      protocol | router | verify)
        if grep -qE "^#include $pure_forbidden" "$file"; then
          breach "$file includes $(grep -oE "$pure_forbidden[^>]*>" "$file" | head -1): $folder is pure"
        fi
        ;;
    esac
  done
done

# Every folder with sources must have a rule, so a new folder cannot slip past.
while IFS= read -r dir; do
  [[ -n ${may_use[$dir]+x} ]] || breach "$dir has C++ files but no rule in $0"
done < <(git ls-files 'protocol/*' 'router/*' 'verify/*' 'proxy/*' | grep -E '\.(h|cpp)$' |
  xargs -n1 dirname | sort -u)

if ((breaches > 0)); then
  echo "layering: $breaches breach(es); the rules are in docs/architecture.md" >&2
  exit 1
fi
echo "layering: every include follows docs/architecture.md"
