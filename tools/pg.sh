#!/usr/bin/env bash
# Throwaway PostgreSQL 15 servers for memoir's tests and benchmarks.
#
#   bash tools/pg.sh start DIR       initdb in DIR/data and start a server
#                                    that listens only on a unix socket in
#                                    DIR; prints the connection string
#   bash tools/pg.sh standby DIR PRIMARY_DIR NAME
#                                    a streaming standby of the server in
#                                    PRIMARY_DIR (pg_basebackup), named NAME
#                                    for synchronous_standby_names, started
#                                    on a socket in DIR; prints its string
#   bash tools/pg.sh kill DIR        kill -9 every process of the server (a
#                                    crash of its machine, as far as the
#                                    server can tell)
#   bash tools/pg.sh restart DIR     start it again after a kill or a stop
#   bash tools/pg.sh promote DIR     promote a standby to primary
#   bash tools/pg.sh stop DIR        stop it (fast shutdown) and delete DIR
#
# initdb refuses to run as root, so as root the server runs as the
# `postgres` user that Debian's postgresql-15 package creates; as another
# user it runs as that user. The server is set up for throwaway data:
# trust authentication on the socket only (replication included), no TCP,
# fsync left on (the tests measure durable commits).
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
usage="usage: pg.sh start|standby|kill|restart|promote|stop DIR [...]"
cmd=${1:?$usage}
dir=${2:?$usage}

# Runs a server program as the server's owner, from /: the caller's
# directory may be one the postgres user cannot enter.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Starts the server of DIR/data on a socket in DIR, and waits until it
# accepts connections (a standby: until it is consistent).
start_server() {
  # max_connections: every open test store holds a writer, a listener and
  # a few readers, and ctest runs two binaries at once.
  as_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 120 \
    -o "-k $1 -c listen_addresses='' -c max_connections=300" \
    start >/dev/null || {
    tail -n 20 "$1/server.log" >&2
    exit 1
  }
}

new_dir() {
  [ -x "$bin/initdb" ] || {
    echo "pg.sh: $bin/initdb is missing: install postgresql-15" >&2
    exit 1
  }
  mkdir -p "$1"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$1"; fi
}

case "$cmd" in
  start)
    new_dir "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U memoir -E UTF8 \
      --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    start_server "$dir"
    echo "postgresql:///postgres?host=$dir&user=memoir"
    ;;
  standby)
    primary=${3:?$usage}
    name=${4:?$usage}
    new_dir "$dir"
    as_owner "$bin/pg_basebackup" -h "$primary" -U memoir -D "$dir/data" \
      -R -X stream -c fast >"$dir/basebackup.log" 2>&1 || {
      cat "$dir/basebackup.log" >&2
      exit 1
    }
    # -R wrote primary_conninfo; the name is what synchronous_standby_names
    # lists. (The last setting in the file wins.)
    echo "primary_conninfo = 'host=$primary user=memoir application_name=$name'" |
      as_owner tee -a "$dir/data/postgresql.auto.conf" >/dev/null
    start_server "$dir"
    echo "postgresql:///postgres?host=$dir&user=memoir"
    ;;
  kill)
    if [ -f "$dir/data/postmaster.pid" ]; then
      pid=$(head -n 1 "$dir/data/postmaster.pid")
      # Stopped first, so that it forks nothing (a crash-restart, a backend
      # for a reconnecting client) while its children are killed.
      kill -STOP "$pid" 2>/dev/null || true
      pkill -9 -P "$pid" 2>/dev/null || true
      kill -9 "$pid" 2>/dev/null || true
      # Gone, children included, before the caller goes on.
      gone=0
      for _ in $(seq 1 1200); do
        if ! kill -0 "$pid" 2>/dev/null && ! pgrep -P "$pid" >/dev/null; then
          gone=1
          break
        fi
        sleep 0.05
      done
      if [ "$gone" -ne 1 ]; then
        echo "pg.sh: the server in $dir (pid $pid) survived kill -9" >&2
        exit 1
      fi
    fi
    ;;
  restart)
    start_server "$dir"
    ;;
  promote)
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 120 promote >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      pid=$(head -n 1 "$dir/data/postmaster.pid")
      # Only a live postmaster of this directory: after a kill the pid file
      # is stale, and its pid may belong to another process by now.
      if grep -qs postgres "/proc/$pid/cmdline" &&
        grep -qsF "$dir/data" "/proc/$pid/cmdline"; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 120 stop \
          >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
      fi
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
