#!/usr/bin/env bash
# The load benchmark: availability-server against its floor, over HTTPS.
#
#     benches/load.sh
#
# Builds the server and the floor (`benches/src/bin/floor.rs`, the same hyper + hyper-util +
# tokio-rustls stack answering from memory with bytes captured from the server) in release,
# then runs them both, pinned to CPU 0 with the load generator on CPU 1 (when there are two),
# and loads them flat out in turn, run by run, so that each figure of the server is measured
# seconds from the floor's, and at a fixed rate both at once (see `read_runs`): wrk for
# HTTP/1.1, h2load for HTTP/2 and for paced runs, keep-alive, 64 connections, one request in
# flight on each. Reads: the week as JSON (plain and compressed), one slot, CSV,
# a group of 100, a booking type's slots for a week.
# Writes (server only): durable PATCH batches with calendar keys, from 1 and from 16 clients
# on one calendar, and from 16 clients on 16 calendars (HTTP/1.1).
# The report (requests/s, p50 and p99 latency, the ratio to the floor, the server's memory)
# goes to target/load-report.md and to stdout.
#
# Settings (environment):
#   LOAD_DURATION      seconds per scenario (default 10)
#   LOAD_ROUNDS        rounds of every run: requests/s and latency are the best round's
#                      (the highest rate), CPU per request the median of the rounds, and
#                      its ratio the median of each round's server / floor (default 1; more
#                      tames a noisy machine)
#   LOAD_FIXED_RATE    the requests/s of the equal-load read runs (default 8000)
#   LOAD_CONNECTIONS   connections for reads (default 64)
#   LOAD_READS         the reads to run, by name (default all: week-json week-json-compressed
#                      slot csv group-100 slots)
#   LOAD_VIEW_TZ       the viewer's zone of the reads (default America/New_York)
#   LOAD_OWNER_TZ      the owner zone of the benchmark's calendar (default Europe/Paris)
#   LOAD_WEEK          the ISO week read (default 2026-W48)
#   LOAD_PORT          the port of the server under test; the floor uses the next one
#                      (default 18443)
#   LOAD_SERVER_BIN    a server binary to use instead of building one
#   LOAD_KEEP          when set, keep the work directory (under target/: the data, logs and
#                      captured responses) and say where
#
# Only 127.0.0.1 is ever targeted, and every load run is bounded by LOAD_DURATION.

set -euo pipefail

DURATION=${LOAD_DURATION:-10}
# Reads are also run at this fixed rate (requests/s, over all connections) on both the server
# and the floor, so that CPU per request is compared at equal load: over loopback the kernel's
# share of a request falls as the rate rises (batched ACKs and wake-ups, softirq work charged to
# whichever process runs), which flatters the faster of two servers run flat out.
FIXED_RATE=${LOAD_FIXED_RATE:-8000}
ROUNDS=${LOAD_ROUNDS:-1}
CONNECTIONS=${LOAD_CONNECTIONS:-64}
VIEW_TZ=${LOAD_VIEW_TZ:-America/New_York}
OWNER_TZ=${LOAD_OWNER_TZ:-Europe/Paris}
WEEK=${LOAD_WEEK:-2026-W48}
SERVER_PORT=${LOAD_PORT:-18443}
FLOOR_PORT=$((SERVER_PORT + 1))
CALENDAR=load
MEMBERS=1000

for n in "$DURATION" "$ROUNDS" "$CONNECTIONS" "$SERVER_PORT"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: expected a positive whole number, not '$n'" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$TARGET/load-report.md

SCRIPT=load.sh
# shellcheck source=benches/common.sh
. "$ROOT/benches/common.sh"

build_release floor drive
FLOOR_BIN=$TARGET/release/floor
DRIVE_BIN=$TARGET/release/drive
lift_limits

# --- Load generators -----------------------------------------------------------------------

# wrk reports through $WORK/report.lua (common.sh). PATCH runs also alternate two batches,
# so that every request changes the week (and no store can skip the write).
cat "$WORK/report.lua" - >"$WORK/patch.lua" <<'LUA'
-- LOAD_WRITE_TARGETS: "path key path key ...", the calendars to write in turn.
local batches = {}
init = function(args)
  local words = {}
  for word in string.gmatch(os.getenv("LOAD_WRITE_TARGETS"), "%S+") do
    table.insert(words, word)
  end
  for _, status in ipairs({ "available", "unavailable" }) do
    local body = '{"updates":[{"day":"saturday","from":"10:00","to":"12:00","status":"'
      .. status .. '"}]}'
    for i = 1, #words, 2 do
      local headers = {
        ["Authorization"] = "Bearer " .. words[i + 1],
        ["Content-Type"] = "application/json",
      }
      table.insert(batches, wrk.format("PATCH", words[i], headers, body))
    end
  end
end
local n = 0
request = function()
  n = n + 1
  return batches[n % #batches + 1]
end
LUA
printf '%s' '{"updates":[{"day":"saturday","from":"10:00","to":"12:00","status":"maybe"}]}' \
    >"$WORK/patch.json"

# Sets RESULT to "req/s p50_us p99_us failed server_cpu% generator_cpu%" for one run against
# the process $PID. CPU is the share of one core used during the run.
#   run_load h1|h2 CONNECTIONS URL [header...]      GET with these headers
#   run_load h1|h2 CONNECTIONS URL --patch          PATCH batches: over HTTP/1.1 to
#                                                   $LOAD_WRITE_TARGETS, over HTTP/2 to URL
run_load() {
    local proto=$1 conns=$2 url=$3
    shift 3
    local patch="" args=() h out ticks0 ticks1
    if [ "${1:-}" = "--patch" ]; then
        patch=1
    else
        for h in "$@"; do args+=(-H "$h"); done
    fi
    ticks0=$(cpu_ticks)
    # `times` prints the CPU time of the shell's children (the generator) on its second line.
    # Two runs may go at once (the equal-load pairs): each has its own h2load log.
    local h2log=$WORK/h2load-$PID.log
    if [ -n "${FIXED:-}" ]; then
        # h2load paces both protocols: --rps per connection.
        local h1_flag=()
        [ "$proto" = h1 ] && h1_flag=(--h1)
        rm -f "$h2log"
        out=$("${CLIENT_CPUS[@]}" h2load -t1 -c"$conns" -m1 -D "$DURATION" "${h1_flag[@]}" \
            --rps="$((FIXED_RATE / conns))" --log-file="$h2log" "${args[@]}" "$url" 2>&1 &&
            times) || die "h2load failed: $out"
    elif [ "$proto" = h1 ]; then
        local script=$WORK/report.lua
        [ -n "$patch" ] && script=$WORK/patch.lua
        out=$("${CLIENT_CPUS[@]}" wrk -t1 -c"$conns" \
            -d"${DURATION}s" --timeout 10s -s "$script" "${args[@]}" "$url" 2>&1 && times) ||
            die "wrk failed: $out"
    else
        if [ -n "$patch" ]; then
            args=(-d "$WORK/patch.json" -H ':method: PATCH' -H 'content-type: application/json'
                -H "authorization: Bearer $LOAD_CALENDAR_KEY")
        fi
        rm -f "$h2log"
        out=$("${CLIENT_CPUS[@]}" h2load -t1 -c"$conns" -m1 -D "$DURATION" \
            --log-file="$h2log" "${args[@]}" "$url" 2>&1 && times) ||
            die "h2load failed: $out"
    fi
    ticks1=$(cpu_ticks)
    local server_cpu generator_cpu
    server_cpu=$(cpu_percent "$((ticks1 - ticks0))" "$DURATION")
    # "0m1.234s 0m0.567s": user and system time.
    generator_cpu=$(tail -n 1 <<<"$out" | awk -v d="$DURATION" '
        function secs(t) { split(t, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
        { printf "%.0f", 100 * (secs($1) + secs($2)) / d }')

    local rps p50 p99 failed
    if [ "$proto" = h1 ] && [ -z "${FIXED:-}" ]; then
        local line
        line=$(grep '^LOAD_RESULT' <<<"$out") || die "no result from wrk: $out"
        read -r _ n us p50 p99 socket status <<<"$line"
        rps=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
        failed=$((socket + status))
    else
        local expected=h2
        [ "$proto" = h1 ] && expected=http/1.1
        grep -q "Application protocol: $expected" <<<"$out" || die "h2load did not speak $expected: $out"
        rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out" |
            awk '{ printf "%.0f", $1 }')
        [ -n "$rps" ] || die "no result from h2load: $out"
        # "failed" counts responses that are not 2xx or 3xx and streams that broke.
        failed=$(sed -n 's/^requests: .* \([0-9]*\) failed, [0-9]* errored, \([0-9]*\) timeout.*/\1 \2/p' \
            <<<"$out" | awk '{ print $1 + $2 }')
        # The log: start time, status, microseconds until the end of the response.
        read -r p50 p99 < <(cut -f3 "$h2log" | sort -n | awk '{ v[NR] = $1 }
            END {
                if (NR == 0) { print 0, 0; exit }
                i = int(NR * 0.50); j = int(NR * 0.99)
                print v[i < 1 ? 1 : i], v[j < 1 ? 1 : j]
            }')
    fi
    RESULT="$rps $p50 $p99 $failed $server_cpu $generator_cpu"
    sleep 1
}

# --- The scenarios -------------------------------------------------------------------------

VIEW="tz=$(urlencode "$VIEW_TZ")&week=$WEEK"
BASE=/calendars/$CALENDAR/availability
READS=(week-json week-json-compressed slot csv group-100 slots)
if [ -n "${LOAD_READS:-}" ]; then
    read -r -a chosen <<<"$LOAD_READS"
    for name in "${chosen[@]}"; do
        [[ " ${READS[*]} " == *" $name "* ]] || die "LOAD_READS: no read '$name' (the reads: ${READS[*]})"
    done
    READS=("${chosen[@]}")
fi
# A week of dates a week from now, always within the type's horizon.
SLOTS_DATES="from=$(date -u -d '+7 days' +%F)&to=$(date -u -d '+13 days' +%F)"
declare -A READ_PATH=(
    [week-json]="$BASE?$VIEW"
    [week-json-compressed]="$BASE?$VIEW"
    [slot]="$BASE/slot?day=tuesday&time=10:00&$VIEW"
    [csv]="$BASE/csv?$VIEW"
    [group-100]="/groups/g100/availability?$VIEW"
    [slots]="/calendars/$CALENDAR/slots?type=call&tz=$(urlencode "$VIEW_TZ")&$SLOTS_DATES"
)
# What browsers send; the server picks brotli or gzip from it.
COMPRESSED="gzip, deflate, br"
declare -A READ_ENCODING=([week-json]=- [week-json-compressed]="$COMPRESSED" [slot]=- [csv]=-
    [group-100]=- [slots]=-)
declare -A LABEL=(
    [week-json]="week, JSON"
    [week-json-compressed]="week, JSON, compressed"
    [slot]="one slot"
    [csv]="week, CSV"
    [group-100]="a group of 100 (20 zones), JSON"
    [slots]="a 30-minute type's slots for a week, JSON"
    [write-1]="PATCH, 1 client"
    [write-16]="PATCH, 16 clients"
    [write-spread]="PATCH, 16 clients on 16 calendars"
)
declare -A RESULTS

encoding_header() {
    if [ "${READ_ENCODING[$1]}" != - ]; then printf 'accept-encoding: %s' "${READ_ENCODING[$1]}"; fi
}

# Runs scenario NAME against the server and the floor, both running.
#
# Flat out, they take turns run by run: each run on one is followed at once by the same run on
# the other, so that the two compared figures are measured seconds apart, not minutes, on a
# machine whose speed drifts; which goes first alternates, so that neither is always the one
# measured after a pause.
#
# At the fixed rate, they are loaded at the same time, each by its own h2load on the
# generator's CPU, and so share CPU 0 (about a third busy at 8,000 requests/s each): whatever
# the machine does during those seconds (another tenant, a change of clock speed) it does to
# both. Taking turns, the floor alone measured 19.9, 23.3 and 26.9 us per request in three
# runs a minute apart, and the server / floor ratio went 1.20, 0.93, 0.83; at the same time,
# six rounds of the same pair gave 1.08-1.12 while each side moved from 15 to 20 us.
#
# Each pair's CPU per request is also kept (COSTS: "server floor" per round, by scenario,
# protocol and rate): the CPU ratios are the median over the rounds of each pair's ratio, so
# that a drift of the machine between rounds, or one run that drew an unusually quiet or busy
# moment, moves one pair and not the figure.
# Microseconds of CPU per request from a share of one core (percent) and requests/s.
per_request() { awk -v cpu="$1" -v rps="$2" 'BEGIN { printf "%.1f", (rps > 0 ? cpu * 1e4 / rps : 0) }'; }

PAIRS=0
declare -A COSTS
read_runs() { # SCENARIO
    local name=$1 proto header who order runs
    local -A cost
    header=$(encoding_header "$name")
    for proto in h1 h2; do
        order="server floor"
        [ $((PAIRS % 2)) -eq 1 ] && order="floor server"
        PAIRS=$((PAIRS + 1))
        for who in $order; do
            say "$who: $name over $proto, $CONNECTIONS connections, ${DURATION}s"
            read_run "$who" "$name" "$proto" "" "$header"
            keep_run "$who" "$name/$proto"
        done
        COSTS[$name/$proto]+=" ${cost[server]} ${cost[floor]}"

        say "server and floor at once: $name over $proto at $FIXED_RATE requests/s each, ${DURATION}s"
        runs=()
        for who in server floor; do
            (read_run "$who" "$name" "$proto" 1 "$header" && printf '%s\n' "$RESULT" >"$WORK/fixed-$who") &
            runs+=($!)
        done
        # (Not a bare `wait`: the server and the floor are children of this shell too.)
        wait "${runs[@]}" || true
        for who in server floor; do
            [ -s "$WORK/fixed-$who" ] || die "the $who's run at $FIXED_RATE requests/s failed"
            RESULT=$(cat "$WORK/fixed-$who")
            rm -f "$WORK/fixed-$who"
            keep_run "$who" "$name/$proto/fixed"
        done
        COSTS[$name/$proto/fixed]+=" ${cost[server]} ${cost[floor]}"
    done
}

# Keeps RESULT, a run of WHO, as the best of KEY's runs so far if it is, and its CPU per
# request in the caller's cost[WHO].
keep_run() { # server|floor KEY
    local run
    keep_best "$1/$2"
    read -r -a run <<<"$RESULT"
    cost[$1]=$(per_request "${run[4]}" "${run[0]}")
}

# One run of SCENARIO on the server or the floor; sets RESULT.
read_run() { # server|floor SCENARIO PROTO FIXED HEADER
    local who=$1 name=$2 proto=$3 fixed=$4 header=$5 port
    if [ "$who" = server ]; then
        PID=$SERVER_PID LOG=$WORK/server.err port=$SERVER_PORT
    else
        PID=$FLOOR_PID LOG=$WORK/floor.err port=$FLOOR_PORT
    fi
    FIXED=$fixed run_load "$proto" "$CONNECTIONS" \
        "https://127.0.0.1:$port${READ_PATH[$name]}" ${header:+"$header"}
}

# "server floor ratio": the medians over the rounds of the server's CPU per request, the
# floor's, and each round's server / floor (the lower middle one of an even count).
paired() { # KEY
    awk -v costs="${COSTS[$1]:-}" 'BEGIN {
        n = split(costs, c, " ") / 2
        for (i = 1; i <= n; i++) { s[i] = c[2 * i - 1]; f[i] = c[2 * i]; r[i] = (f[i] > 0 ? s[i] / f[i] : 0) }
        printf "%.1f %.1f %.2f", median(s, n), median(f, n), median(r, n)
    }
    function median(v, n,    i, j, t) {
        if (n == 0) return 0
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return v[int((n + 1) / 2)]
    }'
}

# --- The server ----------------------------------------------------------------------------

# common.sh's start_server, then (once setup made it) a check that the benchmark's calendar
# survived the restart.
start_server_checked() {
    start_server
    if [ -n "${LOAD_CALENDAR_KEY:-}" ]; then
        curl -ksS --fail -o /dev/null "https://127.0.0.1:$SERVER_PORT/calendars/$CALENDAR" ||
            die "the calendar '$CALENDAR' did not survive the server's restart"
    fi
}


# On the first start: the admin key, the benchmark's calendar and its key, a working week,
# and the responses the floor will serve.
setup() {
    local admin created out name path header status
    admin=$(admin_key)

    say "creating the calendar '$CALENDAR' and its key"
    created=$(api POST /calendars "$admin" "{\"id\":\"$CALENDAR\",\"timezone\":\"$OWNER_TZ\"}") ||
        die "POST /calendars failed: $created"
    LOAD_CALENDAR_KEY=$(grep -o '"key":"avk_[^"]*"' <<<"$created" | cut -d'"' -f4)
    [ -n "$LOAD_CALENDAR_KEY" ] || die "no key in the answer to POST /calendars: $created"
    export LOAD_CALENDAR_KEY
    ONE_CALENDAR="$BASE $LOAD_CALENDAR_KEY"
    # More calendars, each with its key, for writers that do not all edit the same week.
    SPREAD="$ONE_CALENDAR"
    local i key
    for i in $(seq 2 16); do
        created=$(api POST /calendars "$admin" "{\"id\":\"$CALENDAR-$i\",\"timezone\":\"$OWNER_TZ\"}") ||
            die "POST /calendars failed: $created"
        key=$(grep -o '"key":"avk_[^"]*"' <<<"$created" | cut -d'"' -f4)
        SPREAD+=" /calendars/$CALENDAR-$i/availability $key"
    done
    # A working week, so that the bodies are not all one status.
    out=$(api PATCH "$BASE" "$LOAD_CALENDAR_KEY" '{"updates":[
        {"day":"monday","from":"09:00","to":"17:00","status":"available"},
        {"day":"tuesday","from":"09:00","to":"12:00","status":"available"},
        {"day":"tuesday","from":"13:00","to":"18:00","status":"maybe"},
        {"day":"wednesday","from":"08:30","to":"16:30","status":"available"},
        {"day":"thursday","from":"10:00","to":"19:00","status":"available"},
        {"day":"friday","from":"09:00","to":"13:00","status":"maybe"}]}') ||
        die "PATCH failed: $out"
    out=$(api PUT "/calendars/$CALENDAR/booking-types/call" "$LOAD_CALENDAR_KEY" \
        '{"duration":30,"buffer_after":10}') || die "PUT the booking type failed: $out"
    ADMIN=$admin

    say "creating $MEMBERS calendars in 20 zones and the groups g10, g100 and g$MEMBERS"
    out=$(drive members "$MEMBERS") || die "creating the members failed: $out"

    say "capturing the responses the floor will serve"
    mkdir -p "$WORK/floor"
    : >"$WORK/floor/manifest.tsv"
    for name in "${READS[@]}"; do
        path=${READ_PATH[$name]}
        header=$(encoding_header "$name")
        curl -ksS --http1.1 -i ${header:+-H "$header"} -o "$WORK/floor/$name.http" \
            "https://127.0.0.1:$SERVER_PORT$path"
        read -r status <"$WORK/floor/$name.http"
        [[ $status == "HTTP/1.1 200 "* ]] || die "GET $path answered $status"
        printf 'GET\t%s\t%s\t%s\n' "$path" "${READ_ENCODING[$name]}" "$name.http" \
            >>"$WORK/floor/manifest.tsv"
        # (No `exit` in awk: with pipefail, a writer cut short by it fails the script.)
        BODY_BYTES[$name]=$(tr -d '\r' <"$WORK/floor/$name.http" |
            awk 'tolower($1) == "content-length:" && n == "" { n = $2 } END { print n }')
    done
    if [ -f "$WORK/floor/week-json-compressed.http" ]; then
        local coding
        coding=$(tr -d '\r' <"$WORK/floor/week-json-compressed.http" |
            awk 'tolower($1) == "content-encoding:" { c = $2 } END { print c }')
        LABEL[week-json-compressed]="week, JSON, ${coding:-not compressed!}"
    fi
}

# Runs the load driver against the server (its admin key is known once setup has run).
drive() {
    "${CLIENT_CPUS[@]}" "$DRIVE_BIN" "https://127.0.0.1:$SERVER_PORT" "$WORK/data/cert.pem" \
        "${ADMIN:-}" "$@"
}

# Writes once with every key: a server remembers a verified key (bcrypt is slow on purpose),
# and this is what every writer's first request pays, not what its next ones do.
warm_keys() {
    local words out i
    read -r -a words <<<"$SPREAD"
    for ((i = 0; i < ${#words[@]}; i += 2)); do
        out=$(api PATCH "${words[i]}" "${words[i + 1]}" \
            '{"updates":[{"day":"sunday","time":"23:30","status":"unavailable"}]}') ||
            die "PATCH ${words[i]} failed: $out"
    done
}

# Keeps the better of RESULT and what KEY holds: a run without failures over one with them;
# then the higher rate. (CPU per request is taken from every round, by `paired`.)
keep_best() { # KEY
    local new old better
    read -r -a new <<<"$RESULT"
    read -r -a old <<<"${RESULTS[$1]:-0 0 0 1 0 0}"
    better=$((new[0] >= old[0]))
    if { [ "${new[3]}" -eq 0 ] && [ "${old[3]}" -ne 0 ]; } ||
        { [ $((new[3] == 0)) -eq $((old[3] == 0)) ] && [ "$better" -eq 1 ]; }; then
        RESULTS[$1]=$RESULT
    fi
}

write_runs() {
    local proto clients
    for proto in h1 h2; do
        for clients in 1 16; do
            say "server: PATCH over $proto, $clients clients, ${DURATION}s"
            LOAD_WRITE_TARGETS=$ONE_CALENDAR \
                run_load "$proto" "$clients" "https://127.0.0.1:$SERVER_PORT$BASE" --patch
            keep_best "server/write-$clients/$proto"
            phase_peak "PATCH over $proto, $clients clients"
        done
    done
    # h2load sends one set of headers, so only wrk spreads writes over calendars.
    say "server: PATCH over h1, 16 clients on 16 calendars, ${DURATION}s"
    LOAD_WRITE_TARGETS=$SPREAD \
        run_load h1 16 "https://127.0.0.1:$SERVER_PORT$BASE" --patch
    keep_best "server/write-spread/h1"
    phase_peak "PATCH over h1, 16 clients on 16 calendars"
}

# Sets MIXED to "reads/s read_p50 read_p99 writes/s write_p50 write_p99 failed".
mixed_run() {
    local reads writes r w
    "${CLIENT_CPUS[@]}" wrk -t1 -c32 -d"${DURATION}s" --timeout 10s -s "$WORK/report.lua" \
        "https://127.0.0.1:$SERVER_PORT${READ_PATH[week-json]}" >"$WORK/mixed-reads.out" 2>&1 &
    reads=$!
    LOAD_WRITE_TARGETS=$ONE_CALENDAR "${CLIENT_CPUS[@]}" wrk -t1 -c8 -d"${DURATION}s" \
        --timeout 10s -s "$WORK/patch.lua" "https://127.0.0.1:$SERVER_PORT$BASE" \
        >"$WORK/mixed-writes.out" 2>&1 &
    writes=$!
    wait "$reads" || die "wrk (reads) failed: $(cat "$WORK/mixed-reads.out")"
    wait "$writes" || die "wrk (writes) failed: $(cat "$WORK/mixed-writes.out")"
    r=$(grep '^LOAD_RESULT' "$WORK/mixed-reads.out") || die "no result: $(cat "$WORK/mixed-reads.out")"
    w=$(grep '^LOAD_RESULT' "$WORK/mixed-writes.out") || die "no result: $(cat "$WORK/mixed-writes.out")"
    MIXED=$(printf '%s\n%s\n' "$r" "$w" | awk '
        { rps[NR] = $2 / ($3 / 1e6); p50[NR] = $4; p99[NR] = $5; failed += $6 + $7 }
        END { printf "%.0f %.0f %.0f %.0f %.0f %.0f %d", rps[1], p50[1], p99[1], rps[2], p50[2], p99[2], failed }')
    sleep 1
}

# --- The floor -----------------------------------------------------------------------------

start_floor() {
    say "starting the floor on 127.0.0.1:$FLOOR_PORT"
    port_free "$FLOOR_PORT"
    "${SERVER_CPUS[@]}" "$FLOOR_BIN" --listen "127.0.0.1:$FLOOR_PORT" --cert "$WORK/data/cert.pem" \
        --key "$WORK/data/key.pem" --manifest "$WORK/floor/manifest.tsv" 2>>"$WORK/floor.err" &
    PID=$!
    LOG=$WORK/floor.err
    wait_ready "$FLOOR_PORT" "${READ_PATH[slot]}"
}

# The server's peak memory by phase: the most VmHWM reached in each (over rounds), each
# phase started from the resident size it began with (writing 5 to clear_refs resets VmHWM).
declare -A PHASE_PEAK_KB
PHASES=()
phase_peak() { # NAME
    local kb
    kb=$(memory_kb VmHWM)
    [ -n "${PHASE_PEAK_KB[$1]:-}" ] || PHASES+=("$1")
    PHASE_PEAK_KB[$1]=$(max "${PHASE_PEAK_KB[$1]:-0}" "$kb")
    PEAK_KB=$(max "$PEAK_KB" "$kb")
    echo 5 >"/proc/$PID/clear_refs" || die "cannot reset the server's peak memory"
}

# --- The runs ------------------------------------------------------------------------------

declare -A BODY_BYTES
mkdir -p "$WORK/data"
start_server_checked
sleep 1
IDLE_KB=$(memory_kb VmRSS)
PEAK_KB=0
setup
phase_peak "setup: the calendars and groups created"
stop
FLOOR_PEAK_KB=0

# The server and the floor take turns run by run (see `read_runs`), both started afresh for
# each scenario.
for round in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && say "round $round of $ROUNDS"
    for name in "${READS[@]}"; do
        start_server_checked
        SERVER_PID=$PID
        start_floor
        FLOOR_PID=$PID
        read_runs "$name"
        PID=$FLOOR_PID LOG=$WORK/floor.err
        FLOOR_PEAK_KB=$(max "$FLOOR_PEAK_KB" "$(memory_kb VmHWM)")
        stop
        PID=$SERVER_PID LOG=$WORK/server.err
        phase_peak "reads: ${LABEL[$name]}"
        stop
        SERVER_PID="" FLOOR_PID=""
    done
    start_server_checked
    warm_keys
    write_runs
    stop
done

# Questions no cache can answer: POST /overlap about 100 members, each a week and zone not
# asked in the last 10,400 questions, flat out; then, one at a time, the time an answer takes
# by the number of members.
start_server_checked
say "server: uncached overlap of 100 calendars, $CONNECTIONS connections, ${DURATION}s"
OVERLAP=$(drive overlap 100 "$CONNECTIONS" "$DURATION") || die "the overlap run failed: $OVERLAP"
say "$OVERLAP"
phase_peak "uncached overlap of 100, $CONNECTIONS connections"
LARGEST=$(drive largest 10,50,100,200,300,500,750,1000) || die "the largest-group run failed: $LARGEST"
phase_peak "uncached overlaps one at a time, up to 1,000 calendars"
stop

# Reads and writes at once, on a server started for this run alone, so that its peak memory
# (VmHWM) is this run's: 32 connections read the week while 8 write it.
start_server_checked
warm_keys
say "server: mixed, 32 connections reading and 8 writing, ${DURATION}s"
mixed_run
MIXED_PEAK_KB=$(memory_kb VmHWM)
phase_peak "mixed: 32 reading, 8 writing"
stop

# --- The report ----------------------------------------------------------------------------

yes_no() { if awk "BEGIN { exit !($1) }" </dev/null; then echo yes; else echo "**no**"; fi; }
verdict() { # FAILED CONDITION
    if [ "$1" -gt 0 ]; then echo "**not measured**: requests failed"; else yes_no "$2"; fi
}

{
    echo "# Load benchmark"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r); $PINNING"
    echo "- $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }') for HTTP/1.1, h2load $(h2load --version | awk '{ print $NF }') for HTTP/2;" \
        "TLS with keep-alive; one request in flight per connection; ${DURATION} s per run, best of $ROUNDS round(s)"
    echo "- reads: $CONNECTIONS connections; calendar \`$CALENDAR\` (owner zone $OWNER_TZ) seen from $VIEW_TZ, week $WEEK;" \
        "compressed means \`Accept-Encoding: $COMPRESSED\`"
    echo "- the data directory is on $(stat -f -c %T "$WORK/data")$(
        [ "$(stat -f -c %T "$WORK/data")" = tmpfs ] && echo ' (memory: the writes were not durable)')"
    echo "- writes: durable \`PATCH $BASE\` of one range with the calendar's key (wrk alternates two" \
        "batches; h2load repeats one); 16 calendars: wrk's requests go to 16 calendars in turn, each" \
        "with its own key; every key was used once before the runs; no floor, since the floor does no work"
    echo "- the floor: the same TLS, HTTP and runtime stack answering from memory with the bytes" \
        "captured from the server; both run, started afresh for each scenario; flat out they take turns" \
        "run by run, at the fixed rate they are loaded at the same time"
    echo "- CPU used: the share of one core the server (or floor) and the load generator used during" \
        "the run. A server well under 100 % was held back by the generator or by other work on the" \
        "machine; a generator near 100 % is the limit, not the server. CPU/request (CPU time over" \
        "requests served, the median of the rounds) is steadier on a busy machine; CPU ratio is the" \
        "server's CPU/request over the floor's, 1.00 when the server costs no more than HTTP and TLS" \
        "alone: the median over the rounds of each round's ratio, its two runs measured one right" \
        "after the other (flat out) or during the same seconds (at the fixed rate). Flat out, the" \
        "faster of the two pays less kernel time per request (batched ACKs and wake-ups), so the" \
        "target (<= 1.15 for cached reads) is checked at equal load: both paced by h2load to" \
        "$FIXED_RATE requests/s, at once"
    if [ ${#LIMIT_FLAGS[@]} -gt 0 ]; then
        echo "- the server's per-client rate limits were lifted (all the load comes from 127.0.0.1): ${LIMIT_FLAGS[*]}"
    fi
    echo "- each server's tokio runtime has one worker per CPU it may use: $(taskset -c 0 nproc 2>/dev/null || nproc) here"
    echo
    echo "| scenario | protocol | body | server req/s | floor req/s | ratio | p50 | p99 | floor p50 | floor p99 | CPU/request server / floor | CPU ratio | CPU/request at $FIXED_RATE/s server / floor | CPU ratio at $FIXED_RATE/s | CPU used server / generator | CPU used floor / generator | failed | target |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    for name in "${READS[@]}" write-1 write-16 write-spread; do
        for proto in h1 h2; do
            [ -n "${RESULTS[server/$name/$proto]:-}" ] || continue
            protocol=HTTP/1.1
            [ "$proto" = h2 ] && protocol=HTTP/2
            read -r s_rps s_p50 s_p99 s_fail s_cpu s_gen <<<"${RESULTS[server/$name/$proto]}"
            s_cost=$(per_request "$s_cpu" "$s_rps")
            if [ -n "${RESULTS[floor/$name/$proto]:-}" ]; then
                read -r f_rps f_p50 f_p99 f_fail f_cpu f_gen <<<"${RESULTS[floor/$name/$proto]}"
                ratio=$(awk -v s="$s_rps" -v f="$f_rps" 'BEGIN { printf "%.2f", (f > 0 ? s / f : 0) }')
                read -r s_cost f_cost cost_ratio <<<"$(paired "$name/$proto")"
                # At the fixed rate: CPU per request with both at the same load.
                read -r _ _ _ sx_fail _ _ <<<"${RESULTS[server/$name/$proto/fixed]:-0 0 0 0 0 0}"
                read -r _ _ _ fx_fail _ _ <<<"${RESULTS[floor/$name/$proto/fixed]:-0 0 0 0 0 0}"
                read -r sx_cost fx_cost fixed_ratio <<<"$(paired "$name/$proto/fixed")"
                failures=$((s_fail + f_fail + sx_fail + fx_fail))
                echo "| ${LABEL[$name]} | $protocol | ${BODY_BYTES[$name]} B | $s_rps | $f_rps | $ratio" \
                    "| $(ms "$s_p50") | $(ms "$s_p99") | $(ms "$f_p50") | $(ms "$f_p99")" \
                    "| $s_cost / $f_cost µs | $cost_ratio | $sx_cost / $fx_cost µs | $fixed_ratio" \
                    "| $s_cpu / $s_gen % | $f_cpu / $f_gen %" \
                    "| $failures | $(verdict "$failures" "$ratio >= 0.9 && $fixed_ratio <= 1.15")" \
                    "(req/s >= 0.90; CPU at equal load <= 1.15) |"
            else
                echo "| ${LABEL[$name]} | $protocol | | $s_rps | | | $(ms "$s_p50") | $(ms "$s_p99") | |" \
                    "| $s_cost µs | | | | $s_cpu / $s_gen % | | $s_fail" \
                    "| $(verdict "$s_fail" "$s_rps >= 2000") (>= 2,000/s) |"
            fi
        done
    done
    echo
    echo "| server memory | measured | target |"
    echo "|---|--:|---|"
    echo "| idle (VmRSS after start) | $(mb "$IDLE_KB") | $(yes_no "$IDLE_KB <= 10 * 1024") (<= 10 MB) |"
    echo "| peak under load (VmHWM) | $(mb "$PEAK_KB") | $(yes_no "$PEAK_KB <= 50 * 1024") (<= 50 MB) |"
    echo "| the floor's peak (VmHWM) | $(mb "$FLOOR_PEAK_KB") | |"
    echo
    echo "| the server's peak by phase (VmHWM, each phase from where the last one left it) | peak |"
    echo "|---|--:|"
    for phase in "${PHASES[@]}"; do
        echo "| $phase | $(mb "${PHASE_PEAK_KB[$phase]}") |"
    done
    echo
    echo "| uncached overlap (POST /overlap, 100 calendars in 20 zones, $CONNECTIONS connections) | requests/s | p50 | p99 |"
    echo "|---|--:|--:|--:|"
    echo "| every question a new week and zone | $(field "$OVERLAP" per_second) | $(field "$OVERLAP" p50_ms) ms | $(field "$OVERLAP" p99_ms) ms |"
    echo
    echo "| uncached overlap, one question at a time (200 each) | p50 | p99 | under 1 ms (p50) |"
    echo "|---|--:|--:|---|"
    while read -r line; do
        echo "| $(field "$line" size) calendars | $(field "$line" p50_ms) ms | $(field "$line" p99_ms) ms" \
            "| $(yes_no "$(field "$line" p50_ms) < 1") |"
    done < <(grep '^LARGEST' <<<"$LARGEST")
    echo
    read -r m_rrps m_rp50 m_rp99 m_wrps m_wp50 m_wp99 m_failed <<<"$MIXED"
    echo "| mixed run (HTTP/1.1, ${DURATION} s, a fresh server) | requests/s | p50 | p99 |"
    echo "|---|--:|--:|--:|"
    echo "| 32 connections reading the week (JSON) | $m_rrps | $(ms "$m_rp50") | $(ms "$m_rp99") |"
    echo "| 8 connections writing it (durable PATCH) | $m_wrps | $(ms "$m_wp50") | $(ms "$m_wp99") |"
    echo
    echo "Mixed run: $m_failed failed; the server's peak memory (VmHWM) $(mb "$MIXED_PEAK_KB")" \
        "($(yes_no "$MIXED_PEAK_KB <= 50 * 1024") against <= 50 MB)."
    echo
    echo "A failed request (socket error, timeout or status >= 400) is counted in \`failed\`;" \
        "a run with failures measured something else than the scenario."
} >"$REPORT"

say "report written to $REPORT"
cat "$REPORT"
