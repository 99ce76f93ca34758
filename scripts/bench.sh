#!/usr/bin/env bash
# Reproduces the figures in docs/PERFORMANCE.md in one run on this machine: it builds release binaries,
# starts its own PostgreSQL, Redis and user-rpc servers on loopback, drives each the same way as
# redis-benchmark / pgbench drive theirs, prints every figure, and stops everything it started.
#
#   scripts/bench.sh [SECONDS]        (default 5 seconds per measurement)
#   BENCH_BIN=DIR scripts/bench.sh    measure the user-rpc-server and user-rpc binaries in DIR instead of
#                                     building this tree's (for example an earlier build, to compare)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
WORK=$(mktemp -d /tmp/user-rpc-bench.XXXXXX)
chmod 755 "$WORK"   # PostgreSQL runs as user postgres and must reach its data folder
export SERVICES_DIR=$WORK/services PG_PORT=${BENCH_PG_PORT:-15460} REDIS_PORT=${BENCH_REDIS_PORT:-16460}
PORT=${BENCH_PORT:-10460}
SERVER_PID=

cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  ./scripts/services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

./scripts/install-packages.sh --test
echo "== building release binaries and the load generator" >&2
if [ -z "${BENCH_BIN:-}" ]; then
  swift build -c release --product user-rpc-server >&2
  swift build -c release --product user-rpc >&2
fi
cc -O2 -o "$WORK/loadgen" Benchmarks/loadgen/loadgen.c
BIN=${BENCH_BIN:-.build/release}
LOADGEN=$WORK/loadgen
eval "$(./scripts/services.sh start)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
export PGPASSWORD=userrpc
PSQL=("$PGBIN/psql" -Xq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U userrpc -d userrpc)

start_server() {  # args: extra server flags
  [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  ${SERVER_PREFIX:-} "$BIN/user-rpc-server" --port "$PORT" --log-level warning "$@" 2>"$WORK/server.log" &
  # (The server reads DATABASE_URL and REDIS_URL; section 1 clears them to get the embedded store.)
  SERVER_PID=$!
  for _ in $(seq 100); do "$BIN/user-rpc" list >/dev/null 2>&1 && (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
}
loadgen() {  # method payload-file connections depth
  "$LOADGEN" -p "$PORT" -m "user.v1.UserService/$1" -f "$2" -c "$3" -d "$4" -t "$SECONDS_PER_RUN"
}
redis_bench() {  # redis-benchmark args; prints requests per second and p50
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n "$1" "${@:2}" --csv 2>/dev/null | tail -n +2
}
server_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$SERVER_PID/stat"; }   # user+system seconds
section() { echo; echo "### $*"; }
# The in-memory store where the binary has the flag (a binary from before the durable default has
# only the in-memory store, and no flag).
IN_MEMORY=()
"$BIN/user-rpc-server" --help 2>&1 | grep -q -- --in-memory && IN_MEMORY=(--in-memory)

cpu_count=$(nproc)
echo "# user-rpc benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $cpu_count cores, $(uname -r)"

section "1. Protocol and dispatch: GetUser on the in-memory store vs Redis GET"
DATABASE_URL= REDIS_URL= start_server "${IN_MEMORY[@]}"
id=$("$BIN/user-rpc" call RegisterUser --address 127.0.0.1:$PORT --username bench --email bench@example.com \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "{\"id\":\"$id\"}" > "$WORK/get-one.txt"
redis-cli -p "$REDIS_PORT" set key:000000000001 value >/dev/null
echo "redis-benchmark -t get -c 4 -P 16 (64 in flight over 4 connections):"
redis_bench 3000000 -t get -c 4 -P 16
echo "user-rpc GetUser, loadgen -c 4 -d 16 (64 in flight over 4 connections):"
before=$(server_cpu); loadgen GetUser "$WORK/get-one.txt" 4 16; echo "server CPU seconds used during the run: $before -> $(server_cpu)"
if "$BIN/user-rpc" list 2>/dev/null | grep -q user.v2; then
  echo "user-rpc user.v2 GetUser (the same user, the v2 message), loadgen -c 4 -d 16:"
  "$LOADGEN" -p "$PORT" -m user.v2.UserService/GetUser -f "$WORK/get-one.txt" -c 4 -d 16 -t "$SECONDS_PER_RUN"
fi
echo "redis-benchmark -t get -c 1 (1 in flight):"
redis_bench 200000 -t get -c 1
echo "user-rpc GetUser, loadgen -c 1 -d 1 (1 in flight):"
loadgen GetUser "$WORK/get-one.txt" 1 1
echo "scaling: user-rpc GetUser with loadgen at several connections x depths (connections, depth, calls/s, p50, p99):"
for shape in "1 1" "1 16" "2 16" "4 1" "4 16" "8 8" "16 4"; do
  set -- $shape
  loadgen GetUser "$WORK/get-one.txt" "$1" "$2" | python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]; print(sys.argv[1], sys.argv[2], r["throughput_per_s"], l["p50"], l["p99"])' "$1" "$2"
done
bench() {  # user-rpc bench GetUser with the given flags; prints its report and the server's CPU per call
  local before after
  before=$(server_cpu)
  "$BIN/user-rpc" bench GetUser --address 127.0.0.1:$PORT --duration "${SECONDS_PER_RUN}s" "$@" | tee "$WORK/bench.txt"
  after=$(server_cpu)
  awk -v before="$before" -v after="$after" '/^calls/ { cpu = after - before; printf "server CPU: %.2f s = %.2f us per call (preparing calls included)\n", cpu, cpu * 1e6 / $2 }' "$WORK/bench.txt"
}
echo "user-rpc bench GetUser --concurrency 64 --connections 4 (the client library drives it, one call per task):"
bench --prepare 1000 --concurrency 64 --connections 4
echo "user-rpc bench GetUser --concurrency 64 --connections 4 --pipeline 16 (16 calls sent together per worker):"
bench --prepare 1000 --concurrency 64 --connections 4 --pipeline 16
echo "the same with --threads 1 (one event loop for the bench's connections):"
bench --prepare 1000 --concurrency 64 --connections 4 --pipeline 16 --threads 1
echo "user-rpc bench GetUser --concurrency 1:"
bench --id "$id" --concurrency 1

section "1b. Is the load generator the bottleneck? The server pinned to core 0, the generator to core 1"
# One core each: whichever reaches 100% of its core first limits the run.
SERVER_PREFIX="taskset -c 0" DATABASE_URL= REDIS_URL= start_server "${IN_MEMORY[@]}"
id=$("$BIN/user-rpc" call RegisterUser --address 127.0.0.1:$PORT --username pinned --email pinned@example.com \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "{\"id\":\"$id\"}" > "$WORK/get-pinned.txt"
echo "loadgen -c 4 -d 16 on core 1 (it measures after a 0.5 s warm-up; the server's CPU includes it):"
before=$(server_cpu); taskset -c 1 "$LOADGEN" -p "$PORT" -m user.v1.UserService/GetUser -f "$WORK/get-pinned.txt" -c 4 -d 16 -t "$SECONDS_PER_RUN"
echo "server CPU seconds: $before -> $(server_cpu) over $SECONDS_PER_RUN.5 s"
echo "user-rpc bench --concurrency 64 --connections 4 --pipeline 16 --threads 1 on core 1:"
before=$(server_cpu)
taskset -c 1 "$BIN/user-rpc" bench GetUser --address 127.0.0.1:$PORT --id "$id" --concurrency 64 --connections 4 --pipeline 16 --threads 1 \
  --duration "${SECONDS_PER_RUN}s"
echo "server CPU seconds: $before -> $(server_cpu) over $SECONDS_PER_RUN s"

section "2. Storage: PostgreSQL + Redis behind the service vs pgbench and redis-benchmark"
"${PSQL[@]}" -c "DROP TABLE IF EXISTS users, schema_migrations, bench_users" >/dev/null
start_server --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" --db-pool-size 8
"${PSQL[@]}" -c "CREATE TABLE bench_users (LIKE users INCLUDING ALL)" >/dev/null
# 1M users to read (enough that every read in a run is a first read); their ids, one GetUser payload per line.
"${PSQL[@]}" -c "INSERT INTO users SELECT gen_random_uuid(), 'seed' || g, 'seed' || g || '@example.com', now() FROM generate_series(1, 1000000) g" >/dev/null
"${PSQL[@]}" -c "ANALYZE users" >/dev/null
"${PSQL[@]}" -tAc "SELECT '{\"id\":\"' || id || '\"}' FROM users ORDER BY random()" > "$WORK/get-many.txt"
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
with open(f"{work}/register.txt", "w") as f:
    for i in range(600000):
        f.write('{"username":"r%d","email":"r%d@bench.example"}\n' % (i, i))
PY
cat > "$WORK/pg-insert.sql" <<'SQL'
INSERT INTO bench_users (id, username, email, created_at) VALUES (gen_random_uuid(), 'p' || :client_id || '_' || nextval('bench_seq'), 'p' || :client_id || '_' || currval('bench_seq') || '@x.example', now());
SQL
"${PSQL[@]}" -c "CREATE SEQUENCE IF NOT EXISTS bench_seq" >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U userrpc -i -q -s 10 userrpc >/dev/null 2>&1
for clients in 1 64; do
  depth=$(( clients == 1 ? 1 : 16 )); conns=$(( clients == 1 ? 1 : 4 ))
  echo "--- $clients call(s) in flight"
  echo "pgbench one-row insert, $clients client(s):"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U userrpc -n -M prepared -c "$clients" -j "$cpu_count" -T "$SECONDS_PER_RUN" -f "$WORK/pg-insert.sql" userrpc 2>/dev/null | grep -E "latency average|tps"
  echo "user-rpc RegisterUser (loadgen -c $conns -d $depth):"
  loadgen RegisterUser "$WORK/register.txt" "$conns" "$depth" || true
  "${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE '%@bench.example'" >/dev/null
  echo "pgbench select by primary key (-S), $clients client(s):"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U userrpc -n -S -M prepared -c "$clients" -j "$cpu_count" -T "$SECONDS_PER_RUN" userrpc 2>/dev/null | grep -E "latency average|tps"
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  echo "user-rpc GetUser, cache miss (each id read once, Redis flushed; loadgen -c $conns -d $depth):"
  loadgen GetUser "$WORK/get-many.txt" "$conns" "$depth" || true
  echo "redis-benchmark -t get,set -c $clients:"
  redis_bench 300000 -t get,set -c "$clients"
  head -2000 "$WORK/get-many.txt" > "$WORK/get-hot.txt"
  loadgen GetUser "$WORK/get-hot.txt" 1 1 >/dev/null   # fill the cache for these ids
  echo "user-rpc GetUser, cache hit (2000 cached ids; loadgen -c $conns -d $depth):"
  loadgen GetUser "$WORK/get-hot.txt" "$conns" "$depth" || true
done

section "3. Server memory: resident size idle and with 1000 idle connections (in-memory store)"
DATABASE_URL= REDIS_URL= start_server "${IN_MEMORY[@]}"
echo "idle: $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2 " kB"}')"
ulimit -n 4096
python3 - "$SERVER_PID" "$PORT" <<'PY'
import json, socket, struct, sys
pid, port = sys.argv[1], int(sys.argv[2])
sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(1000)]
ping = json.dumps({"type": "ping", "id": 1}).encode()
for s in sockets:
    s.sendall(struct.pack(">I", len(ping)) + ping)
for s in sockets:  # every connection answered: all 1000 are live
    n = struct.unpack(">I", s.recv(4))[0]; s.recv(n)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"with 1000 idle connections: {rss} kB")
PY

section "4. Server memory over 60 seconds at full load (GetUser, in-memory store, 64 in flight)"
DATABASE_URL= REDIS_URL= start_server "${IN_MEMORY[@]}"
id=$("$BIN/user-rpc" call RegisterUser --address 127.0.0.1:$PORT --username steady --email steady@example.com \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "{\"id\":\"$id\"}" > "$WORK/get-steady.txt"
"$LOADGEN" -p "$PORT" -m user.v1.UserService/GetUser -f "$WORK/get-steady.txt" -c 4 -d 16 -t 60 > "$WORK/steady.json" &
LOADGEN_PID=$!
for t in 0 10 20 30 40 50 60; do
  echo "t=${t}s rss=$(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}') kB"
  [ "$t" = 60 ] || sleep 10   # sampling interval of the measurement, not synchronisation
done
wait "$LOADGEN_PID" || true
cat "$WORK/steady.json"

section "5. The durable embedded store (SQLite): GetUser against in-memory, RegisterUser against a durable pgbench insert, 1M users"
if [ ${#IN_MEMORY[@]} -eq 0 ]; then
  echo "(this binary has no durable embedded store)"
  exit 0
fi
# PostgreSQL as durable as SQLite here: the test services run with fsync off; these settings reload.
"${PSQL[@]}" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
  -c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null
echo "PostgreSQL: fsync=$("${PSQL[@]}" -tAc 'SHOW fsync') synchronous_commit=$("${PSQL[@]}" -tAc 'SHOW synchronous_commit')"
for mode in in-memory durable; do
  if [ "$mode" = durable ]; then DATABASE_URL= REDIS_URL= start_server --data-dir "$WORK/durable"; else DATABASE_URL= REDIS_URL= start_server --in-memory; fi
  id=$("$BIN/user-rpc" call RegisterUser --address 127.0.0.1:$PORT --username "g$mode" --email "g$mode@example.com" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  echo "{\"id\":\"$id\"}" > "$WORK/get-$mode.txt"
  echo "user-rpc GetUser on the $mode store, loadgen -c 4 -d 16:"
  loadgen GetUser "$WORK/get-$mode.txt" 4 16
done
for clients in 64 1; do
  depth=$(( clients == 1 ? 1 : 16 )); conns=$(( clients == 1 ? 1 : 4 ))
  echo "pgbench one-row insert, durable, $clients client(s):"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U userrpc -n -M prepared -c "$clients" -j "$cpu_count" -T "$SECONDS_PER_RUN" -f "$WORK/pg-insert.sql" userrpc 2>/dev/null | grep -E "latency average|tps"
  echo "user-rpc RegisterUser on the durable store, loadgen -c $conns -d $depth:"
  sed "s/\"r/\"c${clients}r/; s/@bench.example/@c$clients.example/" "$WORK/register.txt" > "$WORK/register-$clients.txt"
  loadgen RegisterUser "$WORK/register-$clients.txt" "$conns" "$depth" || true
done
"${PSQL[@]}" -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null

echo "start-up with 1,000,000 users (written with the sqlite3 shell into a migrated data directory):"
[ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
DATABASE_URL= REDIS_URL= "$BIN/user-rpc-server" migrate --data-dir "$WORK/million" >/dev/null
sqlite3 "$WORK/million/users.sqlite3" "PRAGMA journal_mode=WAL; INSERT INTO users (id, username, email, username_key, email_key, created_at_ms, updated_at_ms, version) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<1000000) SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'user'||i, 'user'||i||'@example.com', 'user'||i, 'user'||i||'@example.com', 1700000000000+i, 1700000000000+i, 1 FROM c; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
echo "database file: $(du -h "$WORK/million/users.sqlite3" | cut -f1)"
for run in 1 2; do
  DATABASE_URL= REDIS_URL= "$BIN/user-rpc-server" --port "$PORT" --log-level info --data-dir "$WORK/million" 2>"$WORK/million.log" &
  SERVER_PID=$!
  for _ in $(seq 600); do grep -q "starting user-rpc-server" "$WORK/million.log" && break; sleep 0.1; done
  echo "run $run: $(grep -o 'took=[^ ]*' "$WORK/million.log") to open and load; RSS after start: $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2 " kB"}')"
  [ "$run" = 2 ] && break
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
done
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
echo "{\"id\":\"00000001-0000-7000-8000-000000000001\"}" > "$WORK/get-million.txt"
echo "user-rpc GetUser with 1M users loaded, loadgen -c 4 -d 16:"
loadgen GetUser "$WORK/get-million.txt" 4 16
echo "user-rpc RegisterUser with 1M users loaded, loadgen -c 4 -d 16:"
loadgen RegisterUser "$WORK/register-64.txt" 4 16 || true
echo "RSS after: $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2 " kB"}')"
