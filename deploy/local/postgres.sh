#!/bin/sh
# PostgreSQL for the test override, as the postgres image does it: a cluster with
# POSTGRES_USER (password POSTGRES_PASSWORD) and POSTGRES_DB on the first start, then the
# server on 127.0.0.1:PORT only.  Usage: local-postgres PORT
set -eu
PORT=${1:-5432}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  "$BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" | "$BIN/postgres" --single -D "$PGDATA" postgres >/dev/null
  echo "initialised $PGDATA: database $POSTGRES_DB, user $POSTGRES_USER"
fi
exec "$BIN/postgres" -D "$PGDATA" -p "$PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp
