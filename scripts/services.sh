#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL and Redis on loopback for the tests and benchmarks.
#
#   eval "$(scripts/services.sh start)"   # prints export DATABASE_URL=… REDIS_URL=… lines
#   scripts/services.sh stop
#   scripts/services.sh stop-redis | start-redis | stop-postgres | start-postgres   (fault tests)
#
# Ports: PG_PORT (default 15432) and REDIS_PORT (default 16379), below Linux's range of ephemeral
# ports (32768-60999), so that no outgoing connection's local port can be holding them when a
# server (re)starts.
# Installs the Debian packages when missing (needs root). PostgreSQL runs as the `postgres` user
# (it refuses root) from a data folder under /tmp. Both are idempotent.
set -euo pipefail
# Close every descriptor we inherited beyond stdin/out/err: the daemons started below must not keep
# the caller's sockets open (a test process's listening sockets, for instance, would stay alive in
# the postmaster and accept connections that nobody serves).
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
done
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "services: install postgresql and redis-server first" >&2; exit 1; }
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql redis-server >&2
fi
PG_PORT=${PG_PORT:-15432} PG_USER=${PG_USER:-userrpc} PG_PASSWORD=${PG_PASSWORD:-userrpc} PG_DB=${PG_DB:-userrpc}
REDIS_PORT=${REDIS_PORT:-16379}
DIR=${SERVICES_DIR:-/tmp/user-rpc-services}
PGROOT=$DIR/pg PGDATA=$DIR/pg/data REDIS_PID=$DIR/redis.pid
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
pg_running() { [ -f "$PGDATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
redis_ours() { [ -f "$REDIS_PID" ] && kill -0 "$(cat "$REDIS_PID")" 2>/dev/null; }
pong() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
die() { echo "services: $*" >&2; exit 1; }

start_postgres() {
  install -d -m 0755 "$DIR" "$PGROOT" && install -d -m 0700 "$PGDATA"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGROOT" "$PGDATA"; fi
  if ! pg_running; then
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then die "port $PG_PORT is used by another postgres"; fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      (umask 077; echo "$PG_PASSWORD" > "$PGROOT/pw")
      if [ "$(id -u)" = 0 ]; then chown postgres "$PGROOT/pw"; fi
      as_pg "$BIN/initdb" -D "$PGDATA" -U "$PG_USER" --pwfile="$PGROOT/pw" --auth=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die initdb; }
      rm -f "$PGROOT/pw"
      printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\nmax_connections=200\nfsync=off\nsynchronous_commit=off\nfull_page_writes=off\n" \
        "$PG_PORT" "$PGROOT" >>"$PGDATA/postgresql.conf"
    fi
    # The port is given here too, so a data folder made with another port still listens on this one.
    as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$PGROOT/postgres.log" -o "-p $PG_PORT" -w -t 60 start </dev/null >/dev/null 2>&1 \
      || { tail "$PGROOT/postgres.log" >&2; die "postgres start failed"; }
  fi
  for _ in $(seq 120); do "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.25; done
  export PGPASSWORD=$PG_PASSWORD
  local psql=("$BIN/psql" -Xq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres)
  [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'")" = 1 ] \
    || "${psql[@]}" -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\"" >&2
}

start_redis() {
  mkdir -p "$DIR/redis"
  if ! redis_ours && ! pong; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" \
      --pidfile "$REDIS_PID" --logfile "$DIR/redis.log" --save '' --appendonly no </dev/null >/dev/null 2>&1
  fi
  for _ in $(seq 100); do pong && break; sleep 0.1; done
  pong || die "redis not answering"
}

stop_postgres() {
  if pg_running; then as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; fi
}

stop_redis() {
  if redis_ours; then
    local pid; pid=$(cat "$REDIS_PID"); kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$REDIS_PID"
  fi
}

print_env() {
  echo "export DATABASE_URL='postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB'"
  echo "export REDIS_URL='redis://127.0.0.1:$REDIS_PORT'"
}

case "${1:-start}" in
  start) start_postgres; start_redis; print_env ;;
  stop) stop_postgres; stop_redis; echo "services: stopped" >&2 ;;
  start-postgres) start_postgres ;;
  stop-postgres) stop_postgres ;;
  start-redis) start_redis ;;
  stop-redis) stop_redis ;;
  env) print_env ;;
  *) die "usage: $0 start|stop|start-postgres|stop-postgres|start-redis|stop-redis|env" ;;
esac
