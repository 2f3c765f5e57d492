#!/usr/bin/env bash
# The store-size benchmark: what a store of N calendars costs, on disk, in memory and in time.
#
#     benches/scale.sh
#     SCALE_SIZES="1000 10000 60000 100000" benches/scale.sh
#
# Builds the server and `scale` (`benches/src/bin/scale.rs`) in release, and for each size N
# of SCALE_SIZES, smallest first:
#
# 1. Fills a store with N calendars c0000001..c<N> through the core's public API: per
#    calendar one durable `Store::create_with_keys` (an owner zone from twenty real IANA zones,
#    one key) and one `Store::commit` of its weekly pattern (one of four weeks of a few
#    ranges). A bcrypt hash per key would take hours at a million calendars, so one key is
#    hashed once (cost 12, the server's default) and its hash stored under every calendar's
#    own key id; the store also gets an admin key that way, so that the server's start makes
#    none. The filling is done in a directory in memory (SCALE_RAM_DIR, /dev/shm by default),
#    where a flush costs nothing, and grows from one size to the next; the store (and the
#    journal beside it, in the formats before version 3) is then copied to a directory on the
#    disk (under target/), where everything is measured. A size the store refuses (version 2
#    refused the 65,536th calendar for want of room) is reported as refused, with the store's
#    own words, and the next size is tried all the same.
# 2. Reports the store file's and any journal's size, in bytes and bytes per calendar.
# 3. Starts the release server on the copy (pinned to CPU 0, its rate limits lifted, its TLS
#    identity made once beforehand), times it from the process's start to its first 200 on
#    /readyz, and to its first answer of any kind (503 while the store loads; `scale ready`
#    polls every 2 ms from CPU 1), and reads its VmRSS three seconds later (the index of key
#    owners is built after ready: a second at a million calendars).
# 4. Reads random calendars' weeks as JSON (`GET /calendars/{id}/availability`, the read
#    load.sh calls "the week as JSON"): wrk on CPU 1, HTTP/1.1, keep-alive, SCALE_CONNECTIONS
#    connections, SCALE_DURATION seconds, each request a calendar drawn at random among the N;
#    the server's CPU time (utime + stime, /proc/PID/stat) before and after gives requests
#    per second of the server's CPU. With more calendars than the render cache holds (4,096
#    bodies by default), most of these reads render their week.
# 5. Stops the server and runs `scale measure` on the same files, in a process of its own
#    pinned to CPU 0: the time `Store::open` takes and what it adds to VmRSS (and of that,
#    anonymous memory and mapped file); the median time of `Store::get` of a random id (200
#    rounds of 4,096 lookups); SCALE_COMMITS durable `Store::commit`s of a small change
#    (Saturday 10:00-12:00) to random calendars one at a time, then as many again from
#    SCALE_THREADS threads at once: p50, p99 and commits/s; and SCALE_CREATES more durable
#    creates, one at a time, each with a key: p50, p99 and creates/s; and five durable
#    batches of 1,000 creates, one commit each: median and slowest.
#
# After the last size, `scale side-by-side` opens the smallest size's store and the largest's
# (copies on the disk) in one process and makes SCALE_CREATES_SIDE durable creates in each,
# by turns, then as many commits: p50 and p99 of each and their ratios, free of the disk's
# changing moods between runs.
#
# The report (one row per size) goes to target/scale-report.md and to stdout.
#
# Settings (environment):
#   SCALE_SIZES        the sizes, in calendars (default "10000 100000 1000000")
#   SCALE_CREATES      durable creates timed at each size (default 200)
#   SCALE_CREATES_SIDE durable creates in the smallest and the largest store by turns
#                      (default 1000 in each)
#   SCALE_COMMITS      durable commits timed at each size, one at a time; as many again from
#                      SCALE_THREADS threads (default 1000)
#   SCALE_THREADS      threads of the concurrent commits (default 8)
#   SCALE_DURATION     seconds of the read run (default 10)
#   SCALE_CONNECTIONS  wrk's connections (default 32)
#   SCALE_VIEW_TZ      the viewer's zone of the reads (default America/New_York)
#   SCALE_WEEK         the ISO week read (default 2026-W48)
#   SCALE_RAM_DIR      where the stores are filled, a directory in memory (default /dev/shm
#                      when it is tmpfs); "none" fills them on the disk, one flush per write
#   SCALE_PORT         the server's port (default 18453)
#   SCALE_SERVER_BIN   a server binary to use instead of building one
#   SCALE_BIN          a `scale` binary to use instead of building one (with SCALE_SERVER_BIN,
#                      nothing is built)
#   SCALE_KEEP         when set, keep the work directory (under target/) and say where
#
# Time: filling takes what the store's creates and commits take (about 20 s for a million
# calendars); each size's measurements take a few seconds more than SCALE_DURATION (12 to 23 s
# with the default, up to a million calendars); the default sizes take about four minutes.
# The disk needs room for the measured copy of the largest store (about 700 MB at a million),
# and the memory for the filling and for a server holding them (about 1.3 GB at its peak).
#
# Only 127.0.0.1 is ever targeted, and every load run is bounded by SCALE_DURATION.

set -euo pipefail

SIZES=${SCALE_SIZES:-10000 100000 1000000}
CREATES=${SCALE_CREATES:-200}
CREATES_SIDE=${SCALE_CREATES_SIDE:-1000}
COMMITS=${SCALE_COMMITS:-1000}
THREADS=${SCALE_THREADS:-8}
DURATION=${SCALE_DURATION:-10}
CONNECTIONS=${SCALE_CONNECTIONS:-32}
VIEW_TZ=${SCALE_VIEW_TZ:-America/New_York}
WEEK=${SCALE_WEEK:-2026-W48}
SERVER_PORT=${SCALE_PORT:-18453}

for n in $SIZES "$CREATES" "$COMMITS" "$THREADS" "$DURATION" "$CONNECTIONS" "$SERVER_PORT"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: expected a positive whole number, not '$n'" >&2; exit 2; }
done
# Smallest first: the filling grows from one size to the next.
read -r -a SIZES <<<"$(tr ' ' '\n' <<<"$SIZES" | sort -n -u | tr '\n' ' ')"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$TARGET/scale-report.md

SCRIPT=scale.sh
LOAD_SERVER_BIN=${SCALE_SERVER_BIN:-}
# shellcheck source=benches/common.sh
. "$ROOT/benches/common.sh"

# --- Binaries, TLS identity, the filling directory -------------------------------------------

if [ -n "${SCALE_BIN:-}" ] && [ -n "${SCALE_SERVER_BIN:-}" ]; then
    SERVER_BIN=$SCALE_SERVER_BIN
else
    build_release scale
    SCALE_BIN=${SCALE_BIN:-$TARGET/release/scale}
fi
# Copies, so that a build running meanwhile cannot change what is measured.
mkdir -p "$WORK/bin"
cp "$SERVER_BIN" "$WORK/bin/availability-server"
cp "$SCALE_BIN" "$WORK/bin/scale"
SERVER_BIN=$WORK/bin/availability-server
SCALE_BIN=$WORK/bin/scale
lift_limits

RAM=""
case ${SCALE_RAM_DIR:-} in
none) ;;
"") [ "$(stat -f -c %T /dev/shm 2>/dev/null || true)" = tmpfs ] && RAM=$(mktemp -d /dev/shm/scale.XXXXXX) ;;
*) RAM=$(mktemp -d "$SCALE_RAM_DIR/scale.XXXXXX") ;;
esac
FILL=${RAM:-$WORK/fill}
FILLED_WHERE="on the disk, one flush per write"
[ -n "$RAM" ] && FILLED_WHERE="in memory ($(stat -f -c %T "$RAM") at $(dirname "$RAM")), then copied to the disk"
trap 'cleanup; [ -z "$RAM" ] || rm -rf "$RAM"' EXIT

# The server's TLS identity, made by its first start on an empty data directory and given to
# every later start, so that none of them spends its start making one.
mkdir -p "$WORK/first"
say "making the server's TLS identity"
port_free "$SERVER_PORT"
(cd "$WORK" && exec "$SERVER_BIN" --listen "127.0.0.1:$SERVER_PORT" --data-dir "$WORK/first" \
    "${LIMIT_FLAGS[@]}" >>"$WORK/first.out" 2>>"$WORK/first.err") &
PID=$!
LOG=$WORK/first.err
wait_ready "$SERVER_PORT" /readyz
stop
CERT=$WORK/first/cert.pem
CERT_KEY=$WORK/first/key.pem

# --- wrk -------------------------------------------------------------------------------------

# Every request a calendar drawn at random among the SCALE_N, the same draws every run.
cat "$WORK/report.lua" - >"$WORK/random.lua" <<'LUA'
local n = tonumber(os.getenv("SCALE_N"))
local query = os.getenv("SCALE_QUERY")
math.randomseed(42)
request = function()
  return wrk.format("GET", string.format("/calendars/c%07d/availability?%s", math.random(n), query))
end
LUA
QUERY="tz=$(urlencode "$VIEW_TZ")&week=$WEEK"

# --- One size --------------------------------------------------------------------------------

FILLED=0
declare -A ROW

# Fills the store up to N calendars (or until it refuses one); sets REFUSED to the refusal.
fill() { # N
    local n=$1 out
    REFUSED=""
    say "filling the store up to $n calendars ($FILLED so far)"
    out=$("$SCALE_BIN" populate "$FILL" "$((FILLED + 1))" "$n") || die "filling the store failed: $out"
    FILLED=$((FILLED + $(field "$(grep '^POPULATE' <<<"$out")" built)))
    ROW[$n/fill_s]=$(field "$(grep '^POPULATE' <<<"$out")" seconds)
    REFUSED=$(sed -n 's/^REFUSED //p' <<<"$out")
}

start_measured() { # DATA
    local data=$1 t0 out
    say "starting the server on a store of $FILLED calendars"
    port_free "$SERVER_PORT"
    t0=$EPOCHREALTIME
    (cd "$data" && exec "${SERVER_CPUS[@]}" "$SERVER_BIN" --listen "127.0.0.1:$SERVER_PORT" \
        --data-dir "$data" --tls-cert "$CERT" --tls-key "$CERT_KEY" "${LIMIT_FLAGS[@]}" \
        >>"$data/server.out" 2>>"$data/server.err") &
    PID=$!
    LOG=$data/server.err
    out=$("${CLIENT_CPUS[@]}" "$SCALE_BIN" ready "$SERVER_PORT" "$CERT" "$PID") || die "the server did not answer: $out"
    STARTUP_MS=$(awk -v a="${t0//[!0-9]/}" -v b="$(field "$out" epoch_us)" 'BEGIN { printf "%.0f", (b - a) / 1000 }')
    ANSWER_MS=$(awk -v a="${t0//[!0-9]/}" -v b="$(field "$out" first_answer_epoch_us)" 'BEGIN { printf "%.0f", (b - a) / 1000 }')
}

measure_size() { # N
    local n=$1 data=$WORK/n$1 out line ticks0 ticks1 started=$SECONDS
    mkdir -p "$data"
    # The files of the store: one since format version 3; the journal beside it before.
    local files=("$data/availability.store")
    cp "$FILL/availability.store" "$data/"
    if [ -e "$FILL/availability.store.journal" ]; then
        cp "$FILL/availability.store.journal" "$data/"
        files+=("$data/availability.store.journal")
    fi
    # On the disk before anything is timed: otherwise the kernel writes the copy back while
    # the server starts and the commits flush, and they wait on it.
    sync "${files[@]}"
    ROW[$n/store]=$(stat -c %s "$data/availability.store")
    ROW[$n/journal]=$( { stat -c %s "$data/availability.store.journal" 2>/dev/null || echo 0; } )

    start_measured "$data"
    ROW[$n/start_ms]=$STARTUP_MS
    ROW[$n/answer_ms]=$ANSWER_MS
    # The index of key owners is built after ready, while the server answers: idle is after it.
    sleep 3
    ROW[$n/idle_kb]=$(memory_kb VmRSS)
    grep -q 'avk_' "$data/server.out" && die "the server made an admin key: the store had none"
    curl -ksS --fail -o /dev/null "https://127.0.0.1:$SERVER_PORT/calendars/$(printf 'c%07d' "$n")/availability" ||
        die "calendar $n is not served"

    say "reading random calendars among $n, $CONNECTIONS connections, ${DURATION}s"
    ticks0=$(cpu_ticks)
    out=$(SCALE_N=$n SCALE_QUERY=$QUERY "${CLIENT_CPUS[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        --timeout 10s -s "$WORK/random.lua" "https://127.0.0.1:$SERVER_PORT" 2>&1) || die "wrk failed: $out"
    ticks1=$(cpu_ticks)
    line=$(grep '^LOAD_RESULT' <<<"$out") || die "no result from wrk: $out"
    read -r _ requests us p50 p99 socket status <<<"$line"
    ROW[$n/reads]=$(awk -v r="$requests" -v us="$us" 'BEGIN { printf "%.0f", r / (us / 1e6) }')
    ROW[$n/per_cpu]=$(awk -v r="$requests" -v t="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f", (t > 0 ? r / (t / hz) : 0) }')
    ROW[$n/cpu]=$(cpu_percent "$((ticks1 - ticks0))" "$DURATION")
    ROW[$n/read_p50]=$p50 ROW[$n/read_p99]=$p99
    ROW[$n/failed]=$((socket + status))
    ROW[$n/peak_kb]=$(memory_kb VmHWM)
    stop

    say "timing the store in process: open, lookups, $COMMITS commits (and from $THREADS threads), $CREATES creates"
    out=$("${SERVER_CPUS[@]}" "$SCALE_BIN" measure "$data" "$n" "$CREATES" "$COMMITS" "$THREADS") ||
        die "measuring the store failed: $out"
    ROW[$n/measure]=$(grep '^MEASURE' <<<"$out")
    [ -n "${SCALE_KEEP:-}" ] || rm -rf "$data"
    ROW[$n/run_s]=$((SECONDS - started))
}

for n in "${SIZES[@]}"; do
    if [ -z "${FULL:-}" ]; then
        fill "$n"
    else
        # The store refused a calendar already: ask again (it refuses at once, in its words).
        fill "$((FILLED + 1))"
    fi
    if [ -n "$REFUSED" ]; then
        FULL=1
        ROW[$n/refused]=$REFUSED
        say "the store refused calendar ${REFUSED%% *}: ${REFUSED#* }"
        continue
    fi
    measure_size "$n"
    # The smallest size's store, for the creates side by side with the largest below.
    [ -e "$WORK/smallest.store" ] || { cp "$FILL/availability.store" "$WORK/smallest.store"; SMALLEST=$n; }
done

# Durable creates in the smallest and the largest store by turns, in one process, both on
# the disk: what a create costs as the store grows, the disk's moods falling on both alike.
SIDE=""
if [ -n "${SMALLEST:-}" ] && [ "$FILLED" -gt "$SMALLEST" ] && [ -z "${FULL:-}" ]; then
    say "creating in the stores of $SMALLEST and $FILLED calendars by turns"
    mkdir -p "$WORK/side/small" "$WORK/side/large"
    cp "$WORK/smallest.store" "$WORK/side/small/availability.store"
    cp "$FILL/availability.store" "$WORK/side/large/"
    sync "$WORK/side/small/availability.store" "$WORK/side/large/availability.store"
    SIDE=$("${SERVER_CPUS[@]}" "$SCALE_BIN" side-by-side "$WORK/side/small" "$SMALLEST" \
        "$WORK/side/large" "$FILLED" "$CREATES_SIDE") || die "the creates side by side failed: $SIDE"
    rm -rf "$WORK/side"
fi

# --- The report ------------------------------------------------------------------------------

commas() {
    awk -v v="$1" 'BEGIN {
        s = sprintf("%.0f", v); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        print s out
    }'
}
per() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.0f", b / n }'; }
# A figure of `scale measure` for the size $n of the loop below.
m() { field "${ROW[$n/measure]}" "$1"; }

{
    echo "# Store-size benchmark"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r); $PINNING"
    echo "- the measured stores on $(stat -f -c %T "$WORK")$(
        [ "$(stat -f -c %T "$WORK")" = tmpfs ] && echo ' (memory: the writes were not durable)'); filled $FILLED_WHERE"
    echo "- sizes $(printf '%s ' "${SIZES[@]}")(one store, grown from each to the next); each calendar:" \
        "\`c\` and 7 digits, a zone of twenty, one of four weekly patterns, one key (one bcrypt hash, cost 12, shared by every key id);" \
        "the store also holds \`default\` and an admin key"
    echo "- server: start to its first 200 on /readyz, and to its first answer of any status (files in the page cache, just copied); idle VmRSS three seconds later (the key index, built after ready, done);" \
        "peak VmHWM after the reads"
    echo "- reads: $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), HTTP/1.1, TLS, keep-alive, $CONNECTIONS connections," \
        "${DURATION} s, \`GET /calendars/{random id}/availability?$QUERY\`; per CPU-second: requests over the server's user + system time"
    echo "- in process (a process of its own, on the server's CPU): \`Store::open\` and what it adds to VmRSS (of which anonymous memory / mapped file); \`Store::get\` of random ids," \
        "median of 200 rounds of 4,096; $COMMITS durable commits of one range to random calendars one at a time, then" \
        "$COMMITS from $THREADS threads; $CREATES durable creates with a key each; five durable batches of 1,000 creates, one commit each (median and slowest)"
    if [ ${#LIMIT_FLAGS[@]} -gt 0 ]; then
        echo "- the server's per-client rate limits were lifted (all the load comes from 127.0.0.1): ${LIMIT_FLAGS[*]}"
    fi
    echo
    echo "| calendars | store file (per calendar) | journal (per calendar) | filled in | server start to ready (to its first answer) | server idle RSS | server peak RSS | \`Store::open\` | RSS growth of the open (anon / file) | \`get\` median | create p50 / p99 | creates/s | batch of 1,000: median / slowest | commit p50 / p99 | commits/s | commit p50 / p99, $THREADS threads | commits/s, $THREADS threads | reads/s | reads per server CPU-second | read p50 / p99 | server CPU | failed reads | run |"
    echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for n in "${SIZES[@]}"; do
        if [ -n "${ROW[$n/refused]:-}" ]; then
            echo "| $(commas "$n") | refused at calendar $(commas "${ROW[$n/refused]%% *}"): ${ROW[$n/refused]#* } |" \
                "| | | | | | | | | | | | | | | | | | | | |"
            continue
        fi
        created=$(m created)
        creates="$(m create_p50_us) / $(m create_p99_us) µs" create_rate=$(commas "$(m creates_per_s)")
        if [ -n "$(m create_refused_at)" ]; then
            if [ "$created" -eq 0 ]; then
                creates="refused at calendar $(commas "$(m create_refused_at)")" create_rate=-
            else
                creates+=" (refused at calendar $(commas "$(m create_refused_at)") after $created)"
            fi
        fi
        echo "| $(commas "$n") | $(commas "${ROW[$n/store]}") B ($(commas "$(per "${ROW[$n/store]}" "$n")") B)" \
            "| $(commas "${ROW[$n/journal]}") B ($(awk -v b="${ROW[$n/journal]}" -v n="$n" 'BEGIN { printf "%.2f", b / n }') B)" \
            "| ${ROW[$n/fill_s]} s | $(commas "${ROW[$n/start_ms]}") ms ($(commas "${ROW[$n/answer_ms]}") ms) | $(mb "${ROW[$n/idle_kb]}") | $(mb "${ROW[$n/peak_kb]}")" \
            "| $(m open_ms) ms | $(mb "$(m rss_growth_kb)") ($(mb "$(m anon_growth_kb)") / $(mb "$(m file_growth_kb)"))" \
            "| $(m get_ns) ns | $creates | $create_rate | $(m batch_median_ms) / $(m batch_max_ms) ms" \
            "| $(m commit_p50_us) / $(m commit_p99_us) µs | $(commas "$(m commits_per_s)")" \
            "| $(m commit_threads_p50_us) / $(m commit_threads_p99_us) µs | $(commas "$(m commits_threads_per_s)")" \
            "| $(commas "${ROW[$n/reads]}") | $(commas "${ROW[$n/per_cpu]}") | $(ms "${ROW[$n/read_p50]}") / $(ms "${ROW[$n/read_p99]}")" \
            "| ${ROW[$n/cpu]} % | ${ROW[$n/failed]} | ${ROW[$n/run_s]} s |"
    done
    if [ -n "$SIDE" ]; then
        echo
        for what in create commit; do
            [ "$what" = create ] || echo
            echo "Durable ${what}s side by side, $CREATES_SIDE in each store by turns (one process, the disk's" \
                "moods on both): $(commas "$SMALLEST") calendars p50 / p99 $(field "$SIDE" "${what}_small_p50_us") /" \
                "$(field "$SIDE" "${what}_small_p99_us") µs; $(commas "$FILLED") calendars" \
                "$(field "$SIDE" "${what}_large_p50_us") / $(field "$SIDE" "${what}_large_p99_us") µs;" \
                "ratios $(field "$SIDE" "${what}_ratio_p50") (p50), $(field "$SIDE" "${what}_ratio_p99") (p99)."
        done
    fi
    echo
    echo "Filled in: the time to fill the store from the size before (or from empty) to this one" \
        "(two durable writes per calendar, $FILLED_WHERE). Run: this size's measurements after the" \
        "filling (copy, server, reads, in process). A failed read (socket error, timeout or status" \
        ">= 400) means the run measured something else."
} >"$REPORT"

say "report written to $REPORT"
cat "$REPORT"
