#!/usr/bin/env bash
# Throwaway TLS material for cutover's tests: a private CA and two server certificates it signed,
# made with the openssl CLI in well under a second. Not for anything but loopback tests.
#
# Usage:
#   make_certs.sh DIR [--name NAME]...
#       DIR must be absent or empty. Writes there:
#         ca.crt, ca.key          the CA (CN "cutover test CA")
#         server.crt, server.key  CN localhost, subjectAltName DNS:localhost, IP:127.0.0.1 and
#                                 each --name (an IPv4/IPv6 address or a DNS name)
#         wrong.crt, wrong.key    CN wrong.example, subjectAltName DNS:wrong.example only, so
#                                 sslmode=verify-full to localhost/127.0.0.1 must reject it
#       ECDSA P-256 keys (mode 0600), SHA-256 signatures, valid for 2 days from now.
#       Prints nothing on success.
#
# Environment: OPENSSL (default: openssl from PATH).
set -euo pipefail

OPENSSL=${OPENSSL:-openssl}
readonly DAYS=2

die() {
  echo "make_certs.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Runs openssl quietly; on failure shows what it said and gives up.
ssl() {
  if ! "$OPENSSL" "$@" >"$work/openssl.log" 2>&1; then
    cat "$work/openssl.log" >&2
    die "openssl $1 failed"
  fi
}

# The config openssl req needs (a distinguished_name section) without the system openssl.cnf,
# whose default extensions would collide with ours.
write_req_conf() {
  cat >"$work/req.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
}

# Writes an x509v3 extension file for a server certificate with the given subjectAltName.
write_leaf_ext() {
  local file=$1 san=$2
  cat >"$file" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EOF
}

# Makes DIR/NAME.key and DIR/NAME.crt for common name CN, signed by the CA in DIR.
make_leaf() {
  local dir=$1 name=$2 cn=$3 san=$4
  write_leaf_ext "$work/$name.ext" "$san"
  ssl req -new -config "$work/req.cnf" -subj "/CN=$cn" -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name.key" -out "$work/$name.csr"
  local serial
  serial=$(printf '0x%04x%04x%04x' $RANDOM $RANDOM $RANDOM)
  ssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "$serial" -days "$DAYS" -sha256 -extfile "$work/$name.ext" -out "$dir/$name.crt"
}

# "IP:addr" for an address, "DNS:name" for a host name; refuses anything else, since the value
# lands in an openssl config file.
san_entry() {
  local name=$1
  if [[ $name =~ ^[0-9]+(\.[0-9]+){3}$ || ($name == *:* && $name =~ ^[0-9A-Fa-f:.]+$) ]]; then
    echo "IP:$name"
  elif [[ $name =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
    echo "DNS:$name"
  else
    die "--name '$name' is neither an IP address nor a DNS name"
  fi
}

main() {
  (($# >= 1)) || usage
  local dir=$1 san="DNS:localhost, IP:127.0.0.1"
  shift
  [[ $dir != -* ]] || usage
  while (($#)); do
    case $1 in
      --name)
        san+=", $(san_entry "${2:?--name needs a value}")"
        shift 2
        ;;
      *) die "unknown argument '$1'" ;;
    esac
  done
  command -v "$OPENSSL" >/dev/null || die "cannot find $OPENSSL (apt-get install openssl)"

  if [[ -e "$dir" ]]; then
    [[ -d "$dir" ]] || die "$dir exists and is not a directory"
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty; refusing to overwrite it"
  fi
  mkdir -p "$dir"

  work=$(mktemp -d "${TMPDIR:-/tmp}/make_certs-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  umask 077  # keys are born private; certificates are opened up below
  write_req_conf

  ssl req -x509 -new -config "$work/req.cnf" -extensions ca_ext -subj "/CN=cutover test CA" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" \
    -days "$DAYS" -sha256 -out "$dir/ca.crt"
  make_leaf "$dir" server localhost "$san"
  make_leaf "$dir" wrong wrong.example "DNS:wrong.example"

  chmod 0600 "$dir/ca.key" "$dir/server.key" "$dir/wrong.key"
  chmod 0644 "$dir/ca.crt" "$dir/server.crt" "$dir/wrong.crt"
  ssl verify -CAfile "$dir/ca.crt" -purpose sslserver "$dir/server.crt" "$dir/wrong.crt"
}

main "$@"
