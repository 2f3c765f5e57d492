#!/usr/bin/env bash
# The PostgreSQL benchmark: two instances of availability-server on one throwaway PostgreSQL
# (synchronous commit on, fsync on), taking durable bookings over HTTPS.
#
#     benches/pg.sh
#
# 1. Room reservation through both instances at once: wrk (HTTP/1.1, keep-alive) books
#    one-hour spans of PG_ROOMS rooms of its own through each instance with PG_CONNECTIONS connections
#    each (benches/rooms.lua, as benches/book.sh: about one in ten asks for a span asked for
#    just before, a conflict). Reports bookings/s and requests/s summed over both, p50/p99 of
#    each, and the split of the answers by status.
# 2. Propagation: bookings through the first instance, one at a time, each timed from its
#    answer to its event on the second instance's stream (benches/src/bin/drive/propagate.rs):
#    200 on quiet instances, then 200 while the room run books through both again.
# 3. Flash sale through the first instance (the driver speaks to one URL): PG_ITEMS items,
#    PG_CLIENTS clients connected first, each with an Idempotency-Key, repeating twice: the
#    driver fails the run unless each item has exactly one winner.
# 4. Startup: the time from starting a third instance to its first answer, with every
#    calendar of the database to load.
#
# Needs PostgreSQL's programs (apt-get install postgresql) and wrk. Run as root, the cluster
# runs as the postgres user. The report goes to target/pg-report.md and to stdout.
#
# Settings (environment): PG_DURATION (10 s), PG_ROOMS (100), PG_CONNECTIONS (8 per
# instance), PG_ITEMS (100), PG_CLIENTS (1000), PG_PORT (the database's, 15432), LOAD_PORT
# (the first instance's, 18443; the second's is one more, the third's two more),
# PG_SERVER_OPTIONS (more of the database's settings, as `-c name=value`), PG_STATEMENTS (1:
# load pg_stat_statements and report what each statement of the room run cost the database).

set -euo pipefail

DURATION=${PG_DURATION:-10}
ROOMS=${PG_ROOMS:-100}
CONNECTIONS=${PG_CONNECTIONS:-8}
ITEMS=${PG_ITEMS:-100}
CLIENTS=${PG_CLIENTS:-1000}
DB_PORT=${PG_PORT:-15432}
SERVER_PORT=${LOAD_PORT:-18443}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$TARGET/pg-report.md
SCRIPT=pg.sh
. "$ROOT/benches/common.sh"

have wrk || die "wrk is needed (apt-get install wrk)"
build_release drive
DRIVE_BIN=$TARGET/release/drive
lift_limits

if [ "${PG_STATEMENTS:-0}" = 1 ]; then
    PG_SERVER_OPTIONS="${PG_SERVER_OPTIONS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
fi
start_pg "$DB_PORT"
psql_q() { as_postgres "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$DB_PORT" -U postgres -c "$1" postgres; }
if [ "${PG_STATEMENTS:-0}" = 1 ]; then
    psql_q "CREATE EXTENSION pg_stat_statements" >/dev/null
fi

PIDS=()
start_instance() { # N PORT
    local dir=$WORK/i$1
    mkdir -p "$dir"
    port_free "$2"
    (cd "$dir" && exec "$SERVER_BIN" --listen "127.0.0.1:$2" --data-dir "$dir" \
        --database-url "$DB_URL" "${LIMIT_FLAGS[@]}" >>"$dir/out" 2>>"$dir/err") &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$2" /readyz
}
finish() {
    for PID in "${PIDS[@]}"; do stop; done
    stop_pg
}
trap 'finish; cleanup' EXIT

start_instance 1 "$SERVER_PORT"
start_instance 2 "$((SERVER_PORT + 1))"
ADMIN=$(grep -o 'avk_[0-9a-zA-Z_]*' "$WORK/i1/out" | head -n 1)
[ -n "$ADMIN" ] || die "the first instance printed no admin key"
URL=https://127.0.0.1:$SERVER_PORT
drive() { "$DRIVE_BIN" "$URL" "$WORK/i1/cert.pem" "$ADMIN" "$@"; }

say "creating $((2 * ROOMS)) rooms"
out=$(drive rooms "$((2 * ROOMS))") || die "creating the rooms failed: $out"
sleep 1
cp "$ROOT/benches/rooms.lua" "$WORK/rooms.lua"
export BOOK_ROOMS=$ROOMS BOOK_FIRST=$((($(date -u +%s) / 86400 + 2) * 86400))

[ "${PG_STATEMENTS:-0}" = 1 ] && psql_q "SELECT pg_stat_statements_reset()" >/dev/null
# CPU time (clock ticks, user + system) of the processes named: what each side spends.
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done | awk '{ n += $1 } END { print n + 0 }'; }
database_ticks() { # shellcheck disable=SC2046
    ticks $(pgrep -u postgres -x postgres); }
before_instances=$(ticks "${PIDS[@]}") before_database=$(database_ticks)
say "room reservation through both instances: $CONNECTIONS connections each, ${DURATION}s"
WRK_PIDS=()
for i in 1 2; do
    port=$((SERVER_PORT + i - 1))
    # Each instance books rooms of its own.
    BOOK_ROOM_OFFSET=$(((i - 1) * ROOMS)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        --timeout 10s -s "$WORK/rooms.lua" "https://127.0.0.1:$port/calendars/room-000/bookings" \
        >"$WORK/wrk$i" 2>&1 &
    WRK_PIDS+=("$!")
done
wait "${WRK_PIDS[@]}" || true
spent_instances=$(($(ticks "${PIDS[@]}") - before_instances))
spent_database=$(($(database_ticks) - before_database))
total_201=0 total_requests=0 lines=""
for i in 1 2; do
    line=$(grep '^LOAD_RESULT' "$WORK/wrk$i") || die "no result from wrk: $(cat "$WORK/wrk$i")"
    read -r _ n us p50 p99 socket _ <<<"$line"
    statuses=$(grep '^STATUSES' "$WORK/wrk$i" | cut -d' ' -f2-)
    created=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 == 201 { n += $2 } END { print n + 0 }')
    total_201=$((total_201 + created))
    total_requests=$((total_requests + n))
    lines+="| instance $i | $(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }') | $(awk -v b="$created" -v d="$DURATION" 'BEGIN { printf "%.0f", b / d }') | $(ms "$p50") | $(ms "$p99") | $statuses | $socket |"$'\n'
done
BOOKED=$(awk -v b="$total_201" -v d="$DURATION" 'BEGIN { printf "%.0f", b / d }')
REQUESTS=$(awk -v b="$total_requests" -v d="$DURATION" 'BEGIN { printf "%.0f", b / d }')
say "room reservation: $BOOKED bookings/s, $REQUESTS requests/s in all"
per_request() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$total_requests" \
    'BEGIN { printf "%.0f", t / hz * 1e6 / n }'; }
CPU_INSTANCES=$(per_request "$spent_instances") CPU_DATABASE=$(per_request "$spent_database")
say "CPU per request: $CPU_INSTANCES us in the instances, $CPU_DATABASE us in the database"
STATEMENTS=""
if [ "${PG_STATEMENTS:-0}" = 1 ]; then
    STATEMENTS=$(psql_q "SELECT '| ' || calls || ' | ' || round(total_exec_time) || ' ms | ' \
        || round(total_plan_time) || ' ms | ' || rows \
        || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 90) || ' |' \
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15")
fi

say "propagation: bookings through the first instance, each followed on the second's stream"
OTHER="https://127.0.0.1:$((SERVER_PORT + 1)) $WORK/i2/cert.pem"
# shellcheck disable=SC2086
PROPAGATE_QUIET=$(drive propagate $OTHER relay-quiet 200 5) || die "propagation failed: $PROPAGATE_QUIET"
WRK_PIDS=()
for i in 1 2; do
    BOOK_ROOM_OFFSET=$(((i - 1) * ROOMS)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        --timeout 10s -s "$WORK/rooms.lua" \
        "https://127.0.0.1:$((SERVER_PORT + i - 1))/calendars/room-000/bookings" \
        >"$WORK/wrk-propagate$i" 2>&1 &
    WRK_PIDS+=("$!")
done
sleep 1
# shellcheck disable=SC2086
PROPAGATE_LOADED=$(drive propagate $OTHER relay-loaded 200 20) || die "propagation failed: $PROPAGATE_LOADED"
wait "${WRK_PIDS[@]}" || true

say "flash sale: $ITEMS items, $CLIENTS clients, through the first instance"
FLASH=$(drive flash "$ITEMS" "$CLIENTS") || die "the flash sale failed: $FLASH"

say "startup of a third instance over the database"
started=$(date +%s%N)
start_instance 3 "$((SERVER_PORT + 2))"
STARTUP_MS=$((($(date +%s%N) - started) / 1000000))
CALENDARS=$(grep -o 'calendars=[0-9]*' "$WORK/i3/err" | head -n 1 | cut -d= -f2)

{
    echo "# PostgreSQL benchmark"
    echo
    echo "Two instances on one PostgreSQL ($("$PG_BIN/postgres" --version)), synchronous commit"
    echo "on; $(nproc) CPUs shared by the database, both instances and the load generators."
    echo
    echo "## Room reservation through both instances (${DURATION}s, $CONNECTIONS connections each)"
    echo
    echo "| | requests/s | bookings/s | p50 | p99 | statuses | socket errors |"
    echo "|---|--:|--:|--:|--:|---|--:|"
    printf '%s' "$lines"
    echo "| both | $REQUESTS | $BOOKED | | | | |"
    echo
    echo "CPU per request (user and system time over the run, divided by every answer): $CPU_INSTANCES us"
    echo "in the two instances, $CPU_DATABASE us in the database's processes."
    echo
    if [ -n "$STATEMENTS" ]; then
        echo "What the room run asked of the database (pg_stat_statements, execution and planning time summed):"
        echo
        echo "| calls | execution | planning | rows | statement |"
        echo "|--:|--:|--:|--:|---|"
        echo "$STATEMENTS"
        echo
    fi
    echo "## Propagation"
    echo
    echo "From a booking's answer through the first instance to its event on the second's stream:"
    echo
    echo "    quiet:                        $PROPAGATE_QUIET"
    echo "    while the room run goes on:   $PROPAGATE_LOADED"
    echo
    echo "## Flash sale through the first instance"
    echo
    echo "    $FLASH"
    echo
    echo "## Startup"
    echo
    echo "A third instance answered $STARTUP_MS ms after it started, with ${CALENDARS:-?} calendars loaded."
} | tee "$REPORT"
