#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for cutover's tests: initdb into a directory, start on a free
# loopback port, stop and remove. Not for anything that must outlive a test run.
#
# Usage:
#   pgcluster.sh start DIR [--name NAME] [--auth trust|scram-sha-256] [--ssl CERTDIR]
#                          [--conf 'key=value']...
#       initdb a fresh cluster into DIR (must be absent or empty), start it on a free
#       127.0.0.1 port, print the port on stdout and write it to DIR/port.
#       --auth scram-sha-256: the superuser "postgres" gets $PGCLUSTER_PASSWORD (default
#       "postgres"). --ssl: ssl = on with copies of CERTDIR/server.crt, server.key and ca.crt
#       (as make_certs.sh writes them); the host lines still accept TLS and plaintext alike.
#       --conf lines go verbatim into the server config, after ours.
#   pgcluster.sh stop DIR     stop at once (-m immediate) and remove DIR; idempotent.
#   pgcluster.sh halt DIR     fast stop, keep the data; idempotent.
#   pgcluster.sh crash DIR    immediate stop (as a crash: no checkpoint, clients cut off), keep
#                             the data; resume then runs crash recovery. Idempotent.
#   pgcluster.sh resume DIR   start a halted cluster again on the same port; idempotent.
#   pgcluster.sh pid DIR      print the postmaster's pid (fails if it is not running).
#
# Layout: DIR/data (PGDATA), DIR/server.log, DIR/initdb.log, DIR/pg_ctl.log, DIR/port,
# DIR/.s.PGSQL.<port> (unix socket), DIR/.pgcluster (marks DIR as ours, so stop only ever
# deletes directories pgcluster.sh made).
#
# Environment: PGCLUSTER_BINDIR (default /usr/lib/postgresql/15/bin), PGCLUSTER_PASSWORD,
# PGCLUSTER_OS_USER (account the server runs as when we are root; default postgres).
set -euo pipefail

readonly MARKER=.pgcluster
BINDIR=${PGCLUSTER_BINDIR:-/usr/lib/postgresql/15/bin}
OS_USER=${PGCLUSTER_OS_USER:-postgres}

die() {
  echo "pgcluster.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Runs a command as the cluster's owner: PostgreSQL refuses to run as root.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$OS_USER" -- "$@")
  else
    "$@"
  fi
}

pg_bin() {
  if [[ -x "$BINDIR/$1" ]]; then
    echo "$BINDIR/$1"
  elif command -v "$1" >/dev/null; then
    command -v "$1"
  else
    die "cannot find $1 (set PGCLUSTER_BINDIR)"
  fi
}

# True if some socket (any state, v4 or v6) already uses local or remote port $1.
port_in_use() {
  local hex
  hex=$(printf ':%04X ' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qi -- "$hex"
}

# A random port below the kernel's ephemeral range, so it never collides with outgoing
# connections or with free_port() in the C++ harness (which gets ephemeral ports).
pick_port() {
  local port tries=0
  while ((tries++ < 200)); do
    port=$((15000 + (RANDOM % 17000)))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found in 15000-31999"
}

server_running() {
  [[ -f "$1/data/postmaster.pid" ]] &&
    as_owner "$(pg_bin pg_ctl)" -D "$1/data" status >/dev/null 2>&1
}

postmaster_pid() {
  head -n 1 "$1/data/postmaster.pid" 2>/dev/null
}

log_tail() {
  local file=$1
  [[ -f "$file" ]] || return 0
  echo "---- last lines of $file ----" >&2
  tail -n 40 "$file" >&2
  echo "----" >&2
}

# Writes our settings (and the caller's --conf lines, which win) to data/pgcluster.conf.
write_conf() {
  local dir=$1 port=$2
  shift 2
  {
    echo "# written by pgcluster.sh; later lines win"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "fsync = off"
    echo "max_connections = 200"
    local line
    for line in "$@"; do echo "$line"; done
  } >"$dir/data/pgcluster.conf"
  chown --reference="$dir/data" "$dir/data/pgcluster.conf"
}

# Copies the server certificate, its key and the CA into the data directory, owned like it:
# the server refuses a key that others can read, and as root we may read what it cannot.
install_certs() {
  local certdir=$1 data=$2 file
  for file in server.crt server.key ca.crt; do
    cp -- "$certdir/$file" "$data/$file"
    chown --reference="$data" "$data/$file"
  done
  chmod 0600 "$data/server.key"
  chmod 0644 "$data/server.crt" "$data/ca.crt"
}

# Starts the server; returns 3 if the port was taken (caller may retry), 1 on other failures.
pg_start() {
  local dir=$1 log_size=0
  [[ -f "$dir/server.log" ]] && log_size=$(stat -c %s "$dir/server.log")
  if as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    >"$dir/pg_ctl.log" 2>&1; then
    return 0
  fi
  if tail -c +$((log_size + 1)) "$dir/server.log" 2>/dev/null |
    grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets'; then
    return 3
  fi
  return 1
}

cmd_start() {
  local dir=$1 name=pg auth=trust certdir=""
  local -a confs=() ssl_confs=()
  shift
  while (($#)); do
    case $1 in
      --name) name=${2:?--name needs a value}; shift 2 ;;
      --auth) auth=${2:?--auth needs a value}; shift 2 ;;
      --ssl) certdir=${2:?--ssl needs a directory}; shift 2 ;;
      --conf)
        [[ ${2:-} == *=* ]] || die "--conf needs 'key=value', got '${2:-}'"
        if [[ ${2%%=*} =~ ^[[:space:]]*port[[:space:]]*$ ]]; then
          die "--conf cannot set port (pgcluster.sh picks it)"
        fi
        confs+=("$2"); shift 2 ;;
      *) die "start: unknown argument '$1'" ;;
    esac
  done
  [[ $auth == trust || $auth == scram-sha-256 ]] || die "--auth must be trust or scram-sha-256"
  if [[ -n $certdir ]]; then
    local file
    for file in server.crt server.key ca.crt; do
      [[ -r "$certdir/$file" ]] || die "--ssl: cannot read $certdir/$file (see make_certs.sh)"
    done
  fi

  if [[ -e "$dir" ]]; then
    [[ -d "$dir" ]] || die "$dir exists and is not a directory"
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty (stop the cluster in it first)"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  [[ ${#dir} -le 90 ]] || die "$dir is too long for a unix socket path (max ~90 chars)"
  touch "$dir/$MARKER"
  if [[ $EUID -eq 0 ]]; then
    id -u "$OS_USER" >/dev/null 2>&1 || die "user $OS_USER does not exist (set PGCLUSTER_OS_USER)"
    chown "$OS_USER:" "$dir"
    as_owner test -w "$dir" ||
      die "$dir is not writable by $OS_USER (is a parent directory private to root?)"
  fi

  local -a initdb_args=(-D "$dir/data" -U postgres -E UTF8 --locale=C --no-sync
    --no-instructions --auth-local="$auth" --auth-host="$auth")
  local pwfile=$dir/.pwfile
  if [[ $auth == scram-sha-256 ]]; then
    (umask 077 && printf '%s\n' "${PGCLUSTER_PASSWORD:-postgres}" >"$pwfile")
    [[ $EUID -eq 0 ]] && chown "$OS_USER:" "$pwfile"
    initdb_args+=(--pwfile="$pwfile")
  fi
  if ! as_owner "$(pg_bin initdb)" "${initdb_args[@]}" >"$dir/initdb.log" 2>&1; then
    rm -f "$pwfile"
    log_tail "$dir/initdb.log"
    die "initdb failed for cluster '$name' in $dir"
  fi
  rm -f "$pwfile"
  echo "include 'pgcluster.conf'" >>"$dir/data/postgresql.conf"
  if [[ -n $certdir ]]; then
    install_certs "$certdir" "$dir/data"
    # Relative paths resolve against the data directory.
    ssl_confs=("ssl = on" "ssl_cert_file = 'server.crt'" "ssl_key_file = 'server.key'"
      "ssl_ca_file = 'ca.crt'")
  fi

  local port attempt rc
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    write_conf "$dir" "$port" "${ssl_confs[@]}" "${confs[@]}"
    rc=0
    pg_start "$dir" || rc=$?
    if ((rc == 0)); then
      echo "$port" >"$dir/port"
      echo "$port"
      return 0
    fi
    ((rc == 3)) || break
    echo "pgcluster.sh: port $port taken, retrying (attempt $attempt)" >&2
  done
  log_tail "$dir/pg_ctl.log"
  log_tail "$dir/server.log"
  die "could not start cluster '$name' in $dir"
}

# Refuses to touch directories pgcluster.sh did not create.
require_ours() {
  [[ -f "$1/$MARKER" ]] || die "$1 was not created by pgcluster.sh; refusing to touch it"
}

cmd_stop() {
  local dir=$1
  [[ -e "$dir" ]] || return 0
  require_ours "$dir"
  local pid
  pid=$(postmaster_pid "$dir" || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    # A fault drill may have left it SIGSTOPped; it must run to hear the stop request.
    kill -CONT -- "-$pid" 2>/dev/null || kill -CONT "$pid" 2>/dev/null || true
    if ! as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -m immediate -t 10 stop >/dev/null 2>&1; then
      # Last resort. pg_ctl puts the postmaster in its own session, so its pid is the group.
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      local shmid
      shmid=$(sed -n '7p' "$dir/data/postmaster.pid" 2>/dev/null | awk '{print $2}')
      if [[ -n "$shmid" ]]; then ipcrm -m "$shmid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf -- "$dir"
}

# Stops the server and keeps the data: fast (halt) or immediate, as a crash would (crash).
stop_keeping_data() { # DIR MODE WHAT
  local dir=$1
  require_ours "$dir"
  server_running "$dir" || return 0
  as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -m "$2" -t 60 stop >/dev/null ||
    { log_tail "$dir/server.log"; die "could not $3 the cluster in $dir"; }
}
cmd_halt() { stop_keeping_data "$1" fast stop; }
cmd_crash() { stop_keeping_data "$1" immediate crash; }

cmd_resume() {
  local dir=$1
  require_ours "$dir"
  [[ -f "$dir/port" ]] || die "$dir has no port file; was it ever started?"
  server_running "$dir" && return 0
  if ! pg_start "$dir"; then
    log_tail "$dir/pg_ctl.log"
    log_tail "$dir/server.log"
    die "could not restart the cluster in $dir"
  fi
}

cmd_pid() {
  local dir=$1 pid
  require_ours "$dir"
  pid=$(postmaster_pid "$dir" || true)
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    die "no postmaster running in $dir"
  fi
  echo "$pid"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1 dir=$2
  shift 2
  case $cmd in
    start) cmd_start "$dir" "$@" ;;
    stop | halt | crash | resume | pid)
      (($# == 0)) || die "$cmd takes only DIR"
      "cmd_$cmd" "$dir"
      ;;
    *) usage ;;
  esac
}

main "$@"
