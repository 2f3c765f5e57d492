#!/usr/bin/env bash
# What a webhook costs the bookings: book.sh's room reservation (wrk, HTTP/1.1, 64
# connections, one-hour spans of 100 rooms, about one request in ten a conflict) with no
# endpoint and with an endpoint that takes every booking's event, side by side.
#
#     benches/webhook.sh
#
# The server is pinned to CPU 0; wrk and the receiver (the load benchmark's floor,
# `benches/src/bin/floor.rs`, answering each delivery 204 from memory) to CPU 1. Rounds
# alternate which goes first (without, with; then with, without; ...), each on rooms of its
# own; the result is the median over the rounds of each round's ratio of booked per second
# with the endpoint to without. After the runs with it, the report says how many
# deliveries still waited, and how many the receiver took.
#
# With WEBHOOK_DATABASE=1 the server runs on a throwaway PostgreSQL cluster (started as
# pg.sh starts it, on PG_PORT, default 15432, not pinned) instead of the store file: each
# booking's event is then a row of its transaction, and the sender takes events from the
# database.
#
# Settings (environment): WEBHOOK_DURATION seconds per run (default 10), WEBHOOK_ROUNDS
# (default 3), BOOK_ROOMS (default 100), BOOK_CONNECTIONS (default 64), LOAD_PORT (default
# 18443; the receiver takes the next port), WEBHOOK_DATABASE, PG_PORT, LOAD_SERVER_BIN,
# LOAD_KEEP.
#
# Only 127.0.0.1 is ever targeted, and every run is bounded in time.

set -euo pipefail

DURATION=${WEBHOOK_DURATION:-10}
ROUNDS=${WEBHOOK_ROUNDS:-3}
ROOMS=${BOOK_ROOMS:-100}
CONNECTIONS=${BOOK_CONNECTIONS:-64}
SERVER_PORT=${LOAD_PORT:-18443}
RECEIVER_PORT=$((SERVER_PORT + 1))
for n in "$DURATION" "$ROUNDS" "$ROOMS" "$CONNECTIONS" "$SERVER_PORT"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "webhook.sh: expected a positive whole number, not '$n'" >&2; exit 2; }
done
[ "$((2 * ROUNDS * ROOMS))" -le 1000 ] || { echo "webhook.sh: at most 1000 rooms in all" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$TARGET/webhook-report.md
SCRIPT=webhook.sh
# shellcheck source=benches/common.sh
. "$ROOT/benches/common.sh"

build_release floor drive
FLOOR_BIN=$TARGET/release/floor
DRIVE_BIN=$TARGET/release/drive
lift_limits

BACKEND="the store file"
if [ -n "${WEBHOOK_DATABASE:-}" ]; then
    start_pg "${PG_PORT:-15432}"
    LIMIT_FLAGS+=(--database-url "$DB_URL")
    BACKEND="PostgreSQL ($("$PG_BIN/postgres" --version)), synchronous commit on, not pinned"
fi

# A first start makes the certificate, which the receiver then serves and the server trusts.
mkdir -p "$WORK/data" "$WORK/receiver"
start_server
stop
LIMIT_FLAGS+=(--webhook-allow 127.0.0.0/8 --webhook-ca-file "$WORK/data/cert.pem")
start_server
SERVER_PID=$PID
ADMIN=$(admin_key)
URL=https://127.0.0.1:$SERVER_PORT

printf 'HTTP/1.1 204 No Content\r\n\r\n' >"$WORK/receiver/204.http"
printf 'POST\t/hook\t-\t%s\n' "$WORK/receiver/204.http" >"$WORK/receiver/manifest.tsv"
"${CLIENT_CPUS[@]}" "$FLOOR_BIN" --listen "127.0.0.1:$RECEIVER_PORT" --cert "$WORK/data/cert.pem" \
    --key "$WORK/data/key.pem" --manifest "$WORK/receiver/manifest.tsv" 2>>"$WORK/receiver.err" &
FLOOR_PID=$!
PID=$FLOOR_PID
wait_ready "$RECEIVER_PORT" /
PID=$SERVER_PID

say "creating $((2 * ROUNDS * ROOMS)) rooms"
out=$("${CLIENT_CPUS[@]}" "$DRIVE_BIN" "$URL" "$WORK/data/cert.pem" "$ADMIN" rooms "$((2 * ROUNDS * ROOMS))") ||
    die "creating the rooms failed: $out"
cp "$ROOT/benches/rooms.lua" "$WORK/rooms.lua"
export BOOK_ROOMS=$ROOMS BOOK_FIRST=$((($(date -u +%s) / 86400 + 2) * 86400))

# One wrk run on rooms from OFFSET; sets BOOKED (201s a second), RPS, P50, P99.
run() { # OFFSET
    local out line n us status_line
    out=$(BOOK_ROOM_OFFSET=$1 "${CLIENT_CPUS[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        --timeout 10s -s "$WORK/rooms.lua" "$URL/calendars/room-000/bookings" 2>&1) || die "wrk failed: $out"
    line=$(grep '^LOAD_RESULT' <<<"$out") || die "no result from wrk: $out"
    read -r _ n us P50 P99 _ _ <<<"$line"
    RPS=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    status_line=$(grep '^STATUSES' <<<"$out" | cut -d' ' -f2-)
    BOOKED=$(tr ' ' '\n' <<<"$status_line" | awk -F= -v us="$us" '$1 == "201" { n += $2 } END { printf "%.0f", n / (us / 1e6) }')
}

HOOK=""
hook_on() {
    local out
    out=$(api POST /webhooks "$ADMIN" \
        "{\"url\":\"https://127.0.0.1:$RECEIVER_PORT/hook\",\"events\":[\"booking.created\"]}") ||
        die "making the webhook failed: $out"
    HOOK=$(sed -n 's/.*"id":"\(wh-[0-9a-f]*\)".*/\1/p' <<<"$out")
}
hook_off() {
    local waiting
    waiting=$(api GET "/webhooks/$HOOK/deliveries" "$ADMIN" | sed -n 's/.*"waiting":\([0-9]*\).*/\1/p')
    WAITING+=("$waiting")
    api DELETE "/webhooks/$HOOK" "$ADMIN" >/dev/null || die "removing the webhook failed"
}

RATIOS=() ROWS=() WAITING=()
for ((round = 1; round <= ROUNDS; round++)); do
    without=$(((round - 1) * 2 * ROOMS)) with=$((without + ROOMS))
    order="without with"
    [ $((round % 2)) -eq 0 ] && order="with without"
    for which in $order; do
        if [ "$which" = with ]; then
            hook_on
            say "round $round: bookings with a webhook"
            run "$with"
            sleep 2
            hook_off
            W_BOOKED=$BOOKED W_RPS=$RPS W_P50=$P50 W_P99=$P99
        else
            say "round $round: bookings without a webhook"
            run "$without"
            N_BOOKED=$BOOKED N_RPS=$RPS N_P50=$P50 N_P99=$P99
        fi
    done
    ratio=$(awk -v a="$W_BOOKED" -v b="$N_BOOKED" 'BEGIN { printf "%.2f", a / b }')
    RATIOS+=("$ratio")
    ROWS+=("| $round | $N_BOOKED | $N_RPS | $(ms "$N_P50") / $(ms "$N_P99") | $W_BOOKED | $W_RPS | $(ms "$W_P50") / $(ms "$W_P99") | $ratio | ${WAITING[-1]} |")
    say "round $round: $N_BOOKED booked/s without, $W_BOOKED with: $ratio"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
MEDIAN=$(median "${RATIOS[@]}")
METRICS=$(api GET /metrics "$ADMIN" | grep '^availability_webhook_attempts_total' | tr '\n' ' ')

{
    echo "# Webhook benchmark"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- $(nproc) CPUs; the server on CPU 0, wrk and the receiver on CPU 1 (when there are two)"
    echo "- the server on $BACKEND"
    echo "- wrk: $CONNECTIONS connections, ${DURATION}s per run, one-hour spans of $ROOMS rooms (about one request in ten a conflict); the endpoint takes \`booking.created\` of every calendar, and the receiver answers 204"
    echo
    echo "| round | booked/s without | requests/s | p50 / p99 | booked/s with a webhook | requests/s | p50 / p99 | with / without | deliveries waiting 2 s after |"
    echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Median ratio: $MEDIAN ($(awk -v m="$MEDIAN" 'BEGIN { print (m >= 0.9) ? "yes" : "**no**" }') against >= 0.90). Attempts: $METRICS"
} >"$REPORT"
cat "$REPORT"
