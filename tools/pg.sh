#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for memoir's tests and benchmarks.
#
#   bash tools/pg.sh start DIR   initdb in DIR/data and start a server that
#                                listens only on a unix socket in DIR; prints
#                                the connection string on stdout
#   bash tools/pg.sh stop DIR    stop it (fast shutdown) and delete DIR
#
# initdb refuses to run as root, so as root the server runs as the
# `postgres` user that Debian's postgresql-15 package creates; as another
# user it runs as that user. The server is set up for throwaway data:
# trust authentication on the socket only, no TCP, fsync left on (the tests
# measure durable commits).
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}

# Runs a server program as the server's owner, from /: the caller's
# directory may be one the postgres user cannot enter.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    [ -x "$bin/initdb" ] || {
      echo "pg.sh: $bin/initdb is missing: install postgresql-15" >&2
      exit 1
    }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U memoir -E UTF8 \
      --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    # max_connections: every open test store holds a writer, a listener and
    # a few readers, and ctest runs two binaries at once.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 \
      -o "-k $dir -c listen_addresses='' -c max_connections=300" \
      start >/dev/null || {
      cat "$dir/server.log" >&2
      exit 1
    }
    echo "postgresql:///postgres?host=$dir&user=memoir"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 120 stop \
        >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg.sh start|stop DIR" >&2
    exit 2
    ;;
esac
