#!/usr/bin/env bash
# The change feed's costs (docs/PERFORMANCE.md, "WatchUsers"), in one run on this machine:
#  - RegisterUser with and without the feed, alternately, on the durable embedded store (SQLite) and
#    on PostgreSQL made durable (fsync, synchronous_commit and full_page_writes on): BEFORE_BIN names
#    a directory with a user-rpc-server built before the feed (for example of commit 4f28cc1);
#  - with the feed, from outside (Benchmarks/feed/watch_bench.py): the memory of 1,000 idle watchers,
#    the delay from a RegisterUser's answer to a watcher's event at 1,000 changes a second, and the
#    events a second one watcher takes.
#
#   BEFORE_BIN=DIR scripts/bench-feed.sh [SECONDS]      (default 5 seconds per RegisterUser run)
#   AFTER_BIN=DIR  measure that build instead of building this tree's
#   ROUNDS=N       RegisterUser rounds (default 3); STORES="sqlite postgres" (the default) or one of them;
#   WATCH=0        skip the WatchUsers measurements
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
: "${BEFORE_BIN:?set BEFORE_BIN to a directory holding a user-rpc-server built before the change feed}"
WORK=$(mktemp -d /tmp/user-rpc-feed-bench.XXXXXX)
chmod 755 "$WORK"   # PostgreSQL runs as user postgres and must reach its data folder
export SERVICES_DIR=$WORK/services PG_PORT=${BENCH_PG_PORT:-15470} REDIS_PORT=${BENCH_REDIS_PORT:-16470}
PORT=${BENCH_PORT:-10470}
SERVER_PID=

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  stop_server || true
  ./scripts/services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

./scripts/install-packages.sh --test
if [ -z "${AFTER_BIN:-}" ]; then
  echo "== building the release server" >&2
  swift build -c release --product user-rpc-server >&2
fi
AFTER_BIN=${AFTER_BIN:-.build/release}
cc -O2 -o "$WORK/loadgen" Benchmarks/loadgen/loadgen.c
eval "$(./scripts/services.sh start)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
export PGPASSWORD=userrpc PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PGBIN/psql" -Xq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U userrpc -d userrpc)
"${PSQL[@]}" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
  -c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null

start_server() {  # binary-dir, then server flags
  stop_server
  "$1/user-rpc-server" --port "$PORT" --log-level warning "${@:2}" 2>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.05; done
  echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1
}
registrations() {  # label: a payload file of unique registrations
  python3 -c '
import sys
label = sys.argv[1]
for i in range(400000):
    print("{\"username\":\"%s%d\",\"email\":\"%s%d@bench.example\"}" % (label, i, label, i))' "$1" > "$WORK/register-$1.txt"
  echo "$WORK/register-$1.txt"
}
register_run() {  # label (the loadgen line is printed with it)
  printf '%-28s ' "$1"
  "$WORK/loadgen" -p "$PORT" -m "user.v1.UserService/RegisterUser" -f "$(registrations "$1")" -c 4 -d 16 -t "$SECONDS_PER_RUN"
}

# The reference: pgbench's one-row insert into a table shaped as users (its unique indexes too), in a
# schema of its own (each PostgreSQL round drops public), prepared, 64 clients, durable like the server.
"${PSQL[@]}" -c "DROP SCHEMA IF EXISTS bench CASCADE" -c "CREATE SCHEMA bench" -c "CREATE SEQUENCE bench.seq" \
  -c "CREATE TABLE bench.users (id uuid PRIMARY KEY, username text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz, version bigint NOT NULL)" \
  -c 'CREATE UNIQUE INDEX ON bench.users ((lower(username) COLLATE "C"))' -c 'CREATE UNIQUE INDEX ON bench.users ((lower(email COLLATE "C")))' >/dev/null
cat > "$WORK/pg-insert.sql" <<'SQL'
INSERT INTO bench.users (id, username, email, created_at, updated_at, version) VALUES (gen_random_uuid(), 'p' || nextval('bench.seq'), 'p' || currval('bench.seq') || '@x.example', now(), now(), 1);
SQL
pgbench_insert() {
  printf '%-28s ' "pgbench-insert-r$1"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U userrpc -n -M prepared -c 64 -j "$(nproc)" -T "$SECONDS_PER_RUN" -f "$WORK/pg-insert.sql" userrpc 2>/dev/null \
    | grep -E "^tps" | sed 's/ (without initial connection time)//'
}

echo "# user-rpc change feed benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo "PostgreSQL: fsync=$("${PSQL[@]}" -tAc 'SHOW fsync') synchronous_commit=$("${PSQL[@]}" -tAc 'SHOW synchronous_commit')"
echo
echo "### RegisterUser, loadgen -c 4 -d 16, ${SECONDS_PER_RUN} s each, before and after alternately"
for round in $(seq "${ROUNDS:-3}"); do
  for build in before after; do
    bin=$BEFORE_BIN; [ "$build" = after ] && bin=$AFTER_BIN
    for store in ${STORES:-sqlite postgres}; do
      if [ "$store" = sqlite ]; then
        DATABASE_URL= REDIS_URL= start_server "$bin" --data-dir "$WORK/data-$build-$round"
      else
        "${PSQL[@]}" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" >/dev/null
        REDIS_URL= start_server "$bin" --database-url "$DATABASE_URL" --db-pool-size 8
      fi
      register_run "$store-$build-r$round"
    done
  done
  case " ${STORES:-sqlite postgres} " in *" postgres "*) pgbench_insert "$round" ;; esac
done
stop_server
[ "${WATCH:-1}" = 0 ] && exit 0

echo
echo "### WatchUsers (the in-memory store; the feed is the same code on every store)"
DATABASE_URL= REDIS_URL= start_server "$AFTER_BIN" --in-memory
python3 Benchmarks/feed/watch_bench.py idle "$PORT" "$SERVER_PID" 1000
python3 Benchmarks/feed/watch_bench.py latency "$PORT" 1000 10
DATABASE_URL= REDIS_URL= start_server "$AFTER_BIN" --in-memory
"$WORK/loadgen" -p "$PORT" -m "user.v1.UserService/RegisterUser" -f "$(registrations fill)" -c 4 -d 16 -t 2 >/dev/null
python3 Benchmarks/feed/watch_bench.py throughput "$PORT" 90000
echo
echo "### WatchUsers on the durable store (SQLite): delay at 1,000 changes a second"
DATABASE_URL= REDIS_URL= start_server "$AFTER_BIN" --data-dir "$WORK/data-watch"
python3 Benchmarks/feed/watch_bench.py latency "$PORT" 1000 10
echo
echo "### WatchUsers on PostgreSQL (durable): delay at 1,000 changes a second"
"${PSQL[@]}" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" >/dev/null
REDIS_URL= start_server "$AFTER_BIN" --database-url "$DATABASE_URL" --db-pool-size 8
python3 Benchmarks/feed/watch_bench.py latency "$PORT" 1000 10
"${PSQL[@]}" -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
