#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the internal/store tests.
#
#   eval "$(bash .ci/postgres.sh)"          # start: prints export lines only
#   bash .ci/postgres.sh start [DIR]         # same; DIR defaults to a new temp dir
#   bash .ci/postgres.sh restart [DIR]       # fast restart (used by the reconnect test)
#   bash .ci/postgres.sh halt [DIR]          # stop, keep the cluster; start DIR resumes it
#   bash .ci/postgres.sh stop [DIR]          # stop and delete the cluster
#
# stdout carries only the lines meant for eval:
#   export PARLEY_TEST_POSTGRES='postgres://parley@127.0.0.1:PORT/parley_test?sslmode=disable'
#   export PARLEY_PG_DIR='DIR'
# Everything else goes to stderr. The server listens on 127.0.0.1 only, on a
# free port, with trust authentication for the local test user (the cluster is
# throwaway and bound to loopback). PostgreSQL refuses to run as root, so when
# this script runs as root the cluster is owned by and run as the "postgres"
# system user (created by the Debian package).
set -euo pipefail

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

cmd="${1:-start}"
dir="${2:-${PARLEY_PG_DIR:-}}"

pgbin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

ensure_installed() {
  if pgbin >/dev/null; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed and we are not root: apt-get install -y postgresql"
    exit 1
  fi
  log "installing PostgreSQL from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq postgresql >&2
  pgbin >/dev/null || { log "postgresql installed but no initdb found"; exit 1; }
}

# as_owner runs a command as the cluster owner: ourselves, or the postgres
# system user when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() {
  ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

start() {
  ensure_installed
  local bin; bin=$(pgbin)
  if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/parley-pg.XXXXXX)
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { log "no postgres system user"; exit 1; }
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U parley -A trust -E UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 \
      || as_owner "$bin/initdb" -D "$dir/data" -U parley -A trust -E UTF8 -N >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  local port try prev=""
  # A cluster started before keeps its port, so that its DSN stays valid.
  [ -f "$dir/port" ] && prev=$(cat "$dir/port")
  for try in 1 2 3 4 5 6 7 8; do
    if [ -n "$prev" ] && [ "$try" -eq 1 ]; then
      port=$prev
    else
      port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    fi
    port_free "$port" || continue
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" start >&2; then
      echo "$port" >"$dir/port"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/port"
      break
    fi
    log "start on port $port failed (try $try)"; tail -5 "$dir/server.log" >&2 || true
    port=""
  done
  [ -n "$port" ] || { log "could not start PostgreSQL"; exit 1; }
  # The test database; ignore "already exists" on a reused directory.
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U parley -d postgres -qAt \
    -c "CREATE DATABASE parley_test" >/dev/null 2>&1 || true
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir"
  printf "export PARLEY_TEST_POSTGRES='postgres://parley@127.0.0.1:%s/parley_test?sslmode=disable'\n" "$port"
  printf "export PARLEY_PG_DIR='%s'\n" "$dir"
}

need_dir() {
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
    log "no cluster directory (pass DIR or set PARLEY_PG_DIR)"; exit 1
  fi
}

case "$cmd" in
  start) start ;;
  restart)
    need_dir
    bin=$(pgbin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast restart >&2
    ;;
  halt)
    # Stop the server but keep the cluster; "start DIR" brings it back on
    # the same port (used by the outage test).
    need_dir
    bin=$(pgbin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >&2
    ;;
  stop)
    need_dir
    bin=$(pgbin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >&2 || true
    case "$dir" in /tmp/parley-pg.*) rm -rf "$dir" ;; esac
    ;;
  *) log "usage: postgres.sh [start|restart|halt|stop] [DIR]"; exit 2 ;;
esac
