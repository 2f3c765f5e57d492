#!/usr/bin/env bash
# The booking benchmark: availability-server taking durable bookings over HTTPS.
#
#     benches/book.sh
#
# Builds the server and the load driver (`benches/src/bin/drive/`) in release and runs four
# scenarios against one server pinned to CPU 0, the load generators on CPU 1 (when there are
# two), the data directory under target/:
#
# 1. Room reservation: wrk (HTTP/1.1, keep-alive, one request in flight per connection) books
#    one-hour spans of BOOK_ROOMS rooms on dates up to 700 days ahead, for random users; every
#    tenth request asks again for the span asked for seven requests earlier, so about one in
#    ten is a conflict. Reports requests/s, p50/p99 and the split of the answers by status.
# 2. Flash sale: BOOK_ITEMS items, each one half hour of its own calendar, and BOOK_CLIENTS
#    clients, each on its own connection, all connected before any sends; then every client
#    asks for its item (client c for item c mod BOOK_ITEMS) with its own Idempotency-Key, and
#    repeats the request twice. Exactly one winner per item, every loser a 409, no repeat
#    changes its answer, and each item's calendar holds one booking, or the run fails.
# 3. Reads while bookings stream in: wrk reads a room's week (JSON) flat out, alone and while
#    the driver books that room's hours at BOOK_STREAM_RATE a second; every booking changes
#    the room's version, so each is a fresh render for the next read. BOOK_ROUNDS rounds, each
#    on a room of its own; each run while booking is compared with the mean of the runs alone
#    just before and after it, and the median of the rounds' shares (the lower middle one for
#    an even count) is the result: the machine's speed drifts more from one 10-second run to
#    the next than the shares differ.
# 4. What a booking costs the server's CPU: a CPU-bound probe (`drive spin`) pinned with the
#    server, alone, while BOOK_STREAM_RATE bookings a second stream in, alone, while as many
#    requests a second are refused (409), and alone. Its loss per request, against the runs
#    alone around it, is the request's cost to that CPU, kernel, interrupts and context
#    switches included. BOOK_ROUNDS rounds, medians.
#
# The report goes to target/book-report.md and to stdout.
#
# Settings (environment):
#   BOOK_DURATION      seconds of the room and read runs (default 10)
#   BOOK_ROOMS         rooms of the reservation run (default 100)
#   BOOK_CONNECTIONS   wrk's connections (default 64)
#   BOOK_ITEMS         items of the flash sale (default 100)
#   BOOK_CLIENTS       clients of the flash sale (default 1000)
#   BOOK_STREAM_RATE   bookings a second while reads or the probe run (default 1000)
#   BOOK_ROUNDS        rounds of scenarios 3 and 4 (default 3)
#   BOOK_TYPED_FIRST   when set, the room run by booking type goes before the run by span
#   LOAD_PORT          the server's port (default 18443)
#   LOAD_SERVER_BIN    a server binary to use instead of building one
#   LOAD_KEEP          when set, keep the work directory (under target/) and say where
#
# Only 127.0.0.1 is ever targeted, and every run is bounded in time.

set -euo pipefail

DURATION=${BOOK_DURATION:-10}
ROOMS=${BOOK_ROOMS:-100}
CONNECTIONS=${BOOK_CONNECTIONS:-64}
ITEMS=${BOOK_ITEMS:-100}
CLIENTS=${BOOK_CLIENTS:-1000}
STREAM_RATE=${BOOK_STREAM_RATE:-1000}
ROUNDS=${BOOK_ROUNDS:-3}
SERVER_PORT=${LOAD_PORT:-18443}

for n in "$DURATION" "$ROOMS" "$CONNECTIONS" "$ITEMS" "$CLIENTS" "$STREAM_RATE" "$ROUNDS" "$SERVER_PORT"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "book.sh: expected a positive whole number, not '$n'" >&2; exit 2; }
done
STREAM_ROOMS=$((2 * ROUNDS + 1))
[ "$((ROOMS + STREAM_ROOMS))" -le 1000 ] || { echo "book.sh: at most 1000 rooms, and two for each round" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$TARGET/book-report.md
SCRIPT=book.sh
# shellcheck source=benches/common.sh
. "$ROOT/benches/common.sh"

build_release drive
DRIVE_BIN=$TARGET/release/drive
lift_limits

# --- The server ----------------------------------------------------------------------------

mkdir -p "$WORK/data"
start_server
sleep 1
IDLE_KB=$(memory_kb VmRSS)
ADMIN=$(admin_key)

# The server's memory around each phase: resident before it, the peak while it runs (the
# kernel's peak is reset first), and resident 15 s after its connections closed (the server
# gives freed memory back a second after a wave of connections closes, and again once the
# blocking threads the wave started have ended, 10 s idle later). What a phase leaves behind
# is its data (bookings held: about 0.5 KB each) plus what the allocator kept.
MEMORY_ROWS=() PEAK_KB=0
phase_start() {
    PHASE_BEFORE_KB=$(memory_kb VmRSS)
    echo 5 >"/proc/$PID/clear_refs"
}
phase_end() { # NAME CONNECTIONS
    local peak after
    peak=$(memory_kb VmHWM)
    sleep 15
    after=$(memory_kb VmRSS)
    PEAK_KB=$(max "$PEAK_KB" "$peak")
    MEMORY_ROWS+=("| $1 | $2 | $(mb "$PHASE_BEFORE_KB") | $(mb "$peak") | $(awk -v a="$PHASE_BEFORE_KB" \
        -v b="$peak" -v n="$2" 'BEGIN { printf "%.0f KB", (b - a) / n }') | $(mb "$after") | $(awk \
        -v a="$PHASE_BEFORE_KB" -v b="$after" 'BEGIN { printf "%+.1f MB", (b - a) / 1024 }') |")
}
URL=https://127.0.0.1:$SERVER_PORT

drive() { "${CLIENT_CPUS[@]}" "$DRIVE_BIN" "$URL" "$WORK/data/cert.pem" "$ADMIN" "$@"; }


# --- 1. Room reservation -------------------------------------------------------------------

say "creating $ROOMS rooms and $STREAM_ROOMS more for the streaming runs"
# The rooms of the reservation run, those of the streaming runs, then as many again for the
# reservation run by booking type (fresh rooms, so that both runs meet the same free spans).
TYPED_ROOMS=$((ROOMS + STREAM_ROOMS))
out=$(drive rooms "$((TYPED_ROOMS + ROOMS))") || die "creating the rooms failed: $out"

cp "$ROOT/benches/rooms.lua" "$WORK/rooms.lua"

# Runs wrk with SCRIPT against PATH for DURATION; sets RPS P50 P99 FAILED OUT.
# Also sets SERVER_CPU (the server's share of one core during the run, in percent) and GEN_CPU
# (how busy the load generators' core was, in percent; empty when they are not pinned).
run_wrk() { # SCRIPT PATH
    local ticks0 ticks1 gen0 gen1
    ticks0=$(cpu_ticks) gen0=$(generator_core_ticks)
    OUT=$("${CLIENT_CPUS[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$1" \
        "$URL$2" 2>&1) || die "wrk failed: $OUT"
    local line
    line=$(grep '^LOAD_RESULT' <<<"$OUT") || die "no result from wrk: $OUT"
    read -r _ n us P50 P99 socket status <<<"$line"
    RPS=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    FAILED=$((socket))
    ticks1=$(cpu_ticks) gen1=$(generator_core_ticks)
    SERVER_CPU=$(cpu_percent "$((ticks1 - ticks0))" "$(awk -v us="$us" 'BEGIN { print us / 1e6 }')")
    GEN_CPU=""
    if [ -n "$gen0" ]; then
        GEN_CPU=$(awk -v a="$gen0" -v b="$gen1" 'BEGIN { split(a, x, " "); split(b, y, " ");
            printf "%.0f", 100 * ((y[1] - x[1]) - (y[2] - x[2])) / (y[1] - x[1]) }')
    fi
}

# "total idle" clock ticks of the load generators' core (the one `taskset -c` in CLIENT_CPUS
# names) so far; nothing when unpinned.
generator_core_ticks() {
    [ ${#CLIENT_CPUS[@]} -gt 0 ] || return 0
    awk -v cpu="cpu${CLIENT_CPUS[2]}" \
        '$1 == cpu { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat
}

# Midnight UTC two days from now: every span is in the future and within the 2-year horizon.
export BOOK_ROOMS=$ROOMS BOOK_FIRST=$((($(date -u +%s) / 86400 + 2) * 86400))
# The same walk by booking type: a one-hour type on each of as many fresh rooms, every rule
# checked in the commit; side by side with the walk by span, after it (before it with
# BOOK_TYPED_FIRST set: the second run meets a store that the first has grown).
say "defining a one-hour booking type on $ROOMS more rooms"
for ((i = 0; i < ROOMS; i++)); do
    out=$(api PUT "/calendars/$(printf 'room-%03d' "$((TYPED_ROOMS + i))")/booking-types/hour" \
        "$ADMIN" '{"duration":60,"horizon":730}') || die "PUT the booking type failed: $out"
done
by_span() {
    say "room reservation: $CONNECTIONS connections, $ROOMS rooms, ${DURATION}s"
    phase_start
    run_wrk "$WORK/rooms.lua" /calendars/room-000/bookings
    ROOM_RPS=$RPS ROOM_P50=$P50 ROOM_P99=$P99 ROOM_SOCKET=$FAILED
    ROOM_STATUSES=$(grep '^STATUSES' <<<"$OUT" | cut -d' ' -f2-)
    read -r ROOM_201 ROOM_409 ROOM_5XX ROOM_OTHER ROOM_BOOKED_PER_S <<<"$(tally "$ROOM_STATUSES")"
    say "room reservation: $ROOM_RPS requests/s; statuses $ROOM_STATUSES"
    phase_end "room reservation" "$CONNECTIONS"
}
by_type() {
    say "room reservation by type: $CONNECTIONS connections, $ROOMS rooms, ${DURATION}s"
    phase_start
    BOOK_TYPE=hour BOOK_ROOM_OFFSET=$TYPED_ROOMS run_wrk "$WORK/rooms.lua" /calendars/room-000/bookings
    TYPED_RPS=$RPS TYPED_P50=$P50 TYPED_P99=$P99 TYPED_SOCKET=$FAILED
    TYPED_STATUSES=$(grep '^STATUSES' <<<"$OUT" | cut -d' ' -f2-)
    read -r TYPED_201 TYPED_409 TYPED_5XX TYPED_OTHER TYPED_BOOKED_PER_S <<<"$(tally "$TYPED_STATUSES")"
    say "room reservation by type: $TYPED_RPS requests/s; statuses $TYPED_STATUSES"
    phase_end "room reservation by type" "$CONNECTIONS"
}
# The answers of STATUSES ("201=N 409=M ...") whose status matches PATTERN, summed.
count_status() { tr ' ' '\n' <<<"$1" | awk -F= -v s="$2" '$1 ~ s { n += $2 } END { print n + 0 }'; }
# A room run's STATUSES as "201s 409s 5xxs others bookings-per-second".
tally() {
    local ok conflict
    ok=$(count_status "$1" '^201$') conflict=$(count_status "$1" '^409$')
    echo "$ok $conflict $(count_status "$1" '^5') $(($(count_status "$1" '.') - ok - conflict))" \
        "$(awk -v b="$ok" -v d="$DURATION" 'BEGIN { printf "%.0f", b / d }')"
}
if [ -n "${BOOK_TYPED_FIRST:-}" ]; then by_type; by_span; else by_span; by_type; fi

# --- 2. Flash sale -------------------------------------------------------------------------

say "flash sale: $CLIENTS clients, $ITEMS items"
phase_start
FLASH=$(drive flash "$ITEMS" "$CLIENTS" 2>&1) || die "the flash sale failed: $FLASH"
FLASH=$(grep '^FLASH' <<<"$FLASH")
phase_end "flash sale" "$CLIENTS"
say "$FLASH"


# --- 3. Reads while bookings stream in -----------------------------------------------------

# The rooms of the streaming runs: ROUNDS + 1 for the reads (each alone run reads the room the
# next stream will book, still empty), then ROUNDS for the probe of section 4.
stream_room() { printf 'room-%03d' "$((ROOMS + $1))"; }
READ_WEEK=$(date -u -d "@$(((BOOK_FIRST / 86400 + 28) * 86400))" +%G-W%V)
READ_PATH="/calendars/room-NNN/availability?tz=UTC&week=$READ_WEEK"
ROUND_ROWS=() SHARES=() CPU_SHARES=() READ_FAILED=0
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a + b) / 2 }'; }

# Reads alone, of the room of stream run $1; sets ALONE_* (the run) and keeps the previous.
read_alone() {
    local room path
    room=$(stream_room "$1")
    path=${READ_PATH/room-NNN/$room}
    say "reads alone ($room), $CONNECTIONS connections, ${DURATION}s"
    run_wrk "$WORK/report.lua" "$path"
    PREV_RPS=${ALONE_RPS:-} PREV_CPU=${ALONE_CPU:-} PREV_GEN=${ALONE_GEN:-}
    ALONE_RPS=$RPS ALONE_CPU=$SERVER_CPU ALONE_GEN=$GEN_CPU READ_FAILED=$((READ_FAILED + FAILED + status))
}

# Alone, while booking, alone, while booking, ..., alone: each run while booking is compared
# with the mean of the runs alone just before and just after it, so that the machine's drift
# over a round (it moves more than the shares differ) falls out to first order.
phase_start
read_alone 0
for round in $(seq "$ROUNDS"); do
    room=$(stream_room "$((round - 1))")
    path=${READ_PATH/room-NNN/$room}
    say "round $round: reads while $STREAM_RATE bookings a second stream into $room"
    drive stream "$STREAM_RATE" "$DURATION" "$room" >"$WORK/stream.out" 2>&1 &
    STREAM_PID=$!
    run_wrk "$WORK/report.lua" "$path"
    BUSY_RPS=$RPS BUSY_P50=$P50 BUSY_P99=$P99 BUSY_CPU=$SERVER_CPU BUSY_GEN=$GEN_CPU
    READ_FAILED=$((READ_FAILED + FAILED + status))
    wait "$STREAM_PID" || die "the booking stream failed: $(cat "$WORK/stream.out")"
    STREAM=$(grep '^STREAM' "$WORK/stream.out")
    read_alone "$round"
    # Reads alone: the mean of the runs before and after.
    alone_rps=$(mean "$PREV_RPS" "$ALONE_RPS")
    alone_cpu=$(mean "$PREV_CPU" "$ALONE_CPU")
    share=$(awk -v b="$BUSY_RPS" -v a="$alone_rps" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
    SHARES+=("$share")
    # Reads per second of the server's CPU, while booking over alone: the bookings' own CPU
    # is charged to the reads, so this is the share a server that the reads alone saturate
    # would keep, whichever side limits the run.
    cpu_share=$(awk -v b="$BUSY_RPS" -v bc="$BUSY_CPU" -v a="$alone_rps" -v ac="$alone_cpu" \
        'BEGIN { printf "%.2f", (a > 0 && bc > 0 ? (b / bc) / (a / ac) : 0) }')
    CPU_SHARES+=("$cpu_share")
    ROUND_ROWS+=("| $round | $PREV_RPS / $ALONE_RPS | $BUSY_RPS | $(ms "$BUSY_P50") | $(ms "$BUSY_P99") | $share | $alone_cpu / $BUSY_CPU % | ${PREV_GEN:-?}, ${ALONE_GEN:-?} / ${BUSY_GEN:-?} % | $cpu_share | $(field "$STREAM" as_expected) at $(field "$STREAM" per_second)/s, p50 $(field "$STREAM" p50_ms) ms, p99 $(field "$STREAM" p99_ms) ms |")
    say "round $round: $PREV_RPS and $ALONE_RPS alone, $BUSY_RPS while booking: $share"
done

# --- 4. What a booking costs the server's CPU ----------------------------------------------

# A probe that only computes (`drive spin`) shares the server's CPU: alone, while
# STREAM_RATE bookings a second stream in, alone, while as many requests a second are refused
# (409: a calendar with no available time), which is the request without its commit, and
# alone again. What the probe loses against the mean of the runs alone around it is what the
# server's work costs that CPU, interrupts and context switches included; unlike wrk's reads
# it never waits, so neither the generators' core nor wrk's latency enters the figure.
api POST /calendars "$ADMIN" '{"id":"closed","timezone":"UTC","booking":"public"}' >/dev/null ||
    die "creating the calendar that refuses every booking failed"
PROBE_SECONDS=4
probe() { # prints the probe's turns per second
    local out
    out=$("${SERVER_CPUS[@]}" "$DRIVE_BIN" "$URL" "$WORK/data/cert.pem" "$ADMIN" spin "$PROBE_SECONDS") ||
        die "the probe failed: $out"
    field "$out" turns_per_second
}
# The probe's turns per second while STREAM_RATE requests a second of CALENDAR are answered
# STATUS; the stream starts a second before the probe and ends a second after it.
probe_while() { # CALENDAR STATUS
    local turns
    drive stream "$STREAM_RATE" "$((PROBE_SECONDS + 2))" "$1" "$2" >"$WORK/stream.out" 2>&1 &
    STREAM_PID=$!
    sleep 1
    turns=$(probe)
    wait "$STREAM_PID" || die "the probe's stream failed: $(cat "$WORK/stream.out")"
    echo "$turns"
}
# Microseconds of the CPU per request: the probe's loss against its rate alone (the mean of
# the runs alone before and after), over the requests of a second.
cost_us() { # ALONE DURING
    awk -v a="$1" -v b="$2" -v r="$STREAM_RATE" 'BEGIN { printf "%.0f", (1 - b / a) * 1e6 / r }'
}
PROBE_ROWS=() BOOK_COSTS=() REFUSED_COSTS=() PROBE_KEPT=()
# Alone, while booking, alone, while refusing, alone, while booking, ...: a round's last run
# alone is the next round's first, as in the read scenario.
after_refusing=$(probe)
for round in $(seq "$ROUNDS"); do
    say "round $round: the probe while booking, alone, while refusing, alone"
    before_booking=$after_refusing
    booking=$(probe_while "$(stream_room "$((ROUNDS + round))")" 201)
    between=$(probe)
    refusing=$(probe_while closed 409)
    after_refusing=$(probe)
    around_booking=$(mean "$before_booking" "$between")
    BOOK_COSTS+=("$(cost_us "$around_booking" "$booking")")
    REFUSED_COSTS+=("$(cost_us "$(mean "$between" "$after_refusing")" "$refusing")")
    PROBE_KEPT+=("$(awk -v a="$around_booking" -v b="$booking" 'BEGIN { printf "%.2f", b / a }')")
    PROBE_ROWS+=("| $round | $before_booking / $between / $after_refusing | $booking | $refusing | ${PROBE_KEPT[-1]} | ${BOOK_COSTS[-1]} us | ${REFUSED_COSTS[-1]} us |")
    say "round $round: a booking ${BOOK_COSTS[-1]} us, a refusal ${REFUSED_COSTS[-1]} us of the CPU"
done
phase_end "reads while booking, and the probe" "$CONNECTIONS"
# The store file (one log since format version 3; there is no journal beside it any more).
STORE_BYTES=$(stat -c %s "$WORK/data/availability.store" 2>/dev/null || echo '?')
END_KB=$(memory_kb VmRSS)
stop
# The same data in a server just started: what the run's server holds beyond it is what its
# connections and the allocator left.
say "starting the server again on the same data"
start_server
sleep 1
FRESH_KB=$(memory_kb VmRSS)
stop

# --- The report ----------------------------------------------------------------------------

yes_no() { if awk "BEGIN { exit !($1) }" </dev/null; then echo yes; else echo "**no**"; fi; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
READ_SHARE=$(median "${SHARES[@]}")
CPU_SHARE=$(median "${CPU_SHARES[@]}")

{
    echo "# Booking benchmark"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r); $PINNING"
    echo "- the data directory is on $(stat -f -c %T "$WORK")$(
        [ "$(stat -f -c %T "$WORK")" = tmpfs ] && echo ' (memory: the writes were not durable)'); every" \
        "201 was acknowledged after its journal record was on disk"
    if [ ${#LIMIT_FLAGS[@]} -gt 0 ]; then
        echo "- the server's per-client limits were lifted (all the load comes from 127.0.0.1): ${LIMIT_FLAGS[*]}"
    fi
    echo
    echo "## Room reservation"
    echo
    echo "wrk, HTTP/1.1, $CONNECTIONS connections, ${DURATION} s; $ROOMS rooms; one-hour spans up to 700 days ahead."
    echo
    echo "| booking | requests/s | bookings/s (201) | p50 | p99 | 201 | 409 | other 4xx | 5xx | socket errors | target |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    echo "| by type (\\`{type, start}\\`, every rule in the commit) | $TYPED_RPS | $TYPED_BOOKED_PER_S | $(ms "$TYPED_P50") | $(ms "$TYPED_P99")" \
        "| $TYPED_201 | $TYPED_409 | $((TYPED_OTHER - TYPED_5XX)) | $TYPED_5XX | $TYPED_SOCKET | the same rate as the span |"
    echo "| a span (\\`{start, end}\\`) | $ROOM_RPS | $ROOM_BOOKED_PER_S | $(ms "$ROOM_P50") | $(ms "$ROOM_P99") | $ROOM_201 | $ROOM_409" \
        "| $((ROOM_OTHER - ROOM_5XX)) | $ROOM_5XX | $ROOM_SOCKET" \
        "| $(yes_no "$ROOM_BOOKED_PER_S >= 5000 && $ROOM_P99 < 20000 && $ROOM_5XX == 0 && $ROOM_SOCKET == 0") (>= 5,000 bookings/s, p99 < 20 ms, no 5xx) |"
    echo
    echo "## Flash sale"
    echo
    echo "$CLIENTS clients, each on its own TLS connection, all connected first; $ITEMS items;" \
        "each client sends its request and repeats it twice with the same Idempotency-Key."
    echo
    echo "| winners | items sold once | losers (409) | other answers | repeats that changed their answer | time to sell out | p50 | p99 |"
    echo "|--:|--:|--:|--:|--:|--:|--:|--:|"
    echo "| $(field "$FLASH" winners) | $(field "$FLASH" items_sold_once) | $(field "$FLASH" losers_409)" \
        "| $(field "$FLASH" other) | $(field "$FLASH" repeats_changed) | $(field "$FLASH" sold_out_ms) ms" \
        "| $(field "$FLASH" p50_ms) ms | $(field "$FLASH" p99_ms) ms |"
    echo
    echo "## Reads while bookings stream in"
    echo
    echo "wrk, HTTP/1.1, $CONNECTIONS connections, ${DURATION} s each: \`GET $READ_PATH\` (JSON)," \
        "alone, then while the driver books that room at $STREAM_RATE a second over 8 connections," \
        "then alone again (reading the next round's room); $ROUNDS rounds, each on a room of its own" \
        "(NNN). A round's reads alone are the mean of its runs alone before and after."
    echo
    echo "| round | alone, req/s (before / after) | while booking, req/s | p50 | p99 | share kept | server CPU, alone / while booking | generators' core busy, alone / while booking | reads per server CPU second, share kept | the stream |"
    echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    printf '%s\n' "${ROUND_ROWS[@]}"
    echo
    echo "Share kept, median of the rounds: $READ_SHARE ($(yes_no "$READ_SHARE >= 0.8 && $READ_FAILED == 0") against >= 0.80);" \
        "$READ_FAILED failed reads. Reads per second of the server's CPU, median share kept: $CPU_SHARE." \
        "With the generators' core near 100 % busy, the read rate is the generators' limit (the" \
        "booking driver shares that core with wrk); the per-CPU share charges the bookings' own" \
        "CPU to the reads, so it is what a server saturated by the reads alone would keep."
    echo
    echo "## What a booking costs the server's CPU"
    echo
    echo "A probe that only computes, pinned with the server: its turns per second over" \
        "$PROBE_SECONDS s alone, while $STREAM_RATE bookings a second stream into an empty room, alone," \
        "while $STREAM_RATE requests a second are refused (409, a calendar with no available time)," \
        "and alone (a round's last run alone is the next round's first); each run beside a stream" \
        "is compared with the mean of the runs alone around it."
    echo
    echo "| round | probe alone (three runs) | while booking | while refusing | probe's share kept while booking | a booking | a refused request |"
    echo "|--:|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${PROBE_ROWS[@]}"
    echo
    echo "Medians: a durable booking costs $(median "${BOOK_COSTS[@]}") us of the server's CPU and a" \
        "refused one $(median "${REFUSED_COSTS[@]}") us; at $STREAM_RATE a second, a reader that never" \
        "waits keeps $(median "${PROBE_KEPT[@]}") of the CPU."
    echo
    echo "Server memory, per phase: resident before it, the peak during it, the peak's rise per" \
        "connection (an upper bound: the phase's own data is in it), resident 15 s after its" \
        "connections closed, and the change over the phase (the bookings it made held included):"
    echo
    echo "| phase | connections | before | peak | per connection | after | change |"
    echo "|---|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${MEMORY_ROWS[@]}"
    echo
    echo "Idle at the start $(mb "$IDLE_KB"); peak over the run $(mb "$PEAK_KB"); at the end" \
        "$(mb "$END_KB"), against $(mb "$FRESH_KB") for a server started again on the same data" \
        "($(awk -v a="$FRESH_KB" -v b="$END_KB" 'BEGIN { printf "%+.1f MB", (b - a) / 1024 }'));" \
        "the store file ${STORE_BYTES} bytes at the end."
} >"$REPORT"

say "report written to $REPORT"
cat "$REPORT"
