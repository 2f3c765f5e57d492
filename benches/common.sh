# Shared by the load benchmarks (`load.sh`, `book.sh`): the tools, the CPU pinning, the
# release build, the work directory and the process under test. Sourced by them after they
# set SCRIPT (their name), ROOT (the repository) and TARGET (the cargo target directory).

say() { printf '== %s\n' "$*" >&2; }
die() {
    printf '%s: %s\n' "$SCRIPT" "$*" >&2
    # When the process under test died, its last words are the likeliest reason.
    if [ -n "${PID:-}" ] && ! kill -0 "$PID" 2>/dev/null && [ -n "${LOG:-}" ] && [ -s "$LOG" ]; then
        printf '%s: the process under test has exited; the end of its log:\n' "$SCRIPT" >&2
        tail -n 20 "$LOG" >&2
    fi
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# The server reads AVAILABILITY_* variables and ./availability.toml: neither may leak in.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^AVAILABILITY_' || true)

# --- Tools ---------------------------------------------------------------------------------

if ! have wrk || ! have h2load || ! have curl || ! have taskset; then
    say "installing wrk, h2load (nghttp2-client), curl and taskset (util-linux)"
    if [ "$(id -u)" -eq 0 ] && have apt-get; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client curl util-linux >/dev/null
    elif have sudo && have apt-get; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client curl util-linux >/dev/null
    else
        die "needs wrk, h2load, curl and taskset; on Debian: apt-get install wrk nghttp2-client curl util-linux"
    fi
fi

# One core for the server under test, another for the load generator, when there are two.
if [ "$(nproc)" -ge 2 ]; then
    SERVER_CPUS=(taskset -c 0)
    CLIENT_CPUS=(taskset -c 1)
    PINNING="the server (or the floor) on CPU 0, the load generators on CPU 1"
else
    SERVER_CPUS=()
    CLIENT_CPUS=()
    PINNING="not pinned: one CPU only, so server and load generator share it"
fi

# --- Build ---------------------------------------------------------------------------------

# Builds the server and these binaries of availability-benches in release (the server only
# when LOAD_SERVER_BIN names none), and sets SERVER_BIN.
build_release() { # BIN...
    local bins=() bin
    for bin in "$@"; do bins+=(--bin "$bin"); done
    say "building the server and $* (release)"
    if [ -n "${LOAD_SERVER_BIN:-}" ]; then
        SERVER_BIN=$(cd "$(dirname "$LOAD_SERVER_BIN")" && pwd)/$(basename "$LOAD_SERVER_BIN")
        (cd "$ROOT" && cargo build --release --quiet -p availability-benches "${bins[@]}")
    else
        SERVER_BIN=$TARGET/release/availability-server
        (cd "$ROOT" && cargo build --release --quiet -p availability-server -p availability-benches \
            --bin availability-server "${bins[@]}")
    fi
}

# All of this load comes from one address, which per-client rate limits exist to stop; a
# server that has them gets them lifted, setting by setting, for the benchmark. The setup
# creates up to a thousand calendars, each key hashed with bcrypt, so the cost goes to its
# least; no measured request hashes or verifies a key (verified keys are remembered).
lift_limits() {
    LIMIT_FLAGS=()
    local server_help setting
    server_help=$("$SERVER_BIN" --help 2>/dev/null || true)
    for setting in read-per-minute:1000000000 read-burst:1000000 write-per-minute:1000000000 \
        write-burst:1000000 auth-per-minute:1000000 auth-burst:1000000 \
        key-write-per-minute:1000000000 key-write-burst:1000000 \
        admin-write-per-minute:1000000000 admin-write-burst:1000000 \
        auth-key-per-minute:1000000 auth-key-burst:1000000 max-connections:4096 \
        max-connections-per-client:4096 bcrypt-cost:4; do
        if grep -q -- "--${setting%%:*}" <<<"$server_help"; then
            LIMIT_FLAGS+=("--${setting%%:*}" "${setting#*:}")
        fi
    done
}

# --- Processes -----------------------------------------------------------------------------

# Under target/, not /tmp: /tmp is often tmpfs, where a durable write costs nothing.
mkdir -p "$TARGET"
WORK=$(mktemp -d "$TARGET/${SCRIPT%.sh}.XXXXXX")
PID=""
LOG=""

# wrk's report: one machine-readable line at the end, LOAD_RESULT with the requests, the
# microseconds, p50 and p99 in microseconds, socket errors, and responses >= 400.
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOAD_RESULT %d %d %.0f %.0f %d %d\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA

stop() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=""
}

# A throwaway PostgreSQL cluster in $WORK/pg on 127.0.0.1:$1 (fsync and synchronous commit
# on, as shipped), run as the postgres user when this runs as root (it refuses root); sets
# DB_URL. `cleanup` stops it.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_pg() { # PORT
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -n 1)
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL is needed (apt-get install postgresql)"
    PGDATA=$WORK/pg
    mkdir -p "$PGDATA"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$WORK"; fi
    say "starting PostgreSQL on 127.0.0.1:$1"
    as_postgres "$PG_BIN/initdb" -D "$PGDATA/data" -U postgres --auth=trust -E UTF8 >/dev/null
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA/data" -l "$PGDATA/log" -w \
        -o "-p $1 -c listen_addresses=127.0.0.1 -k $PGDATA -c max_connections=200 ${PG_SERVER_OPTIONS:-}" start >/dev/null
    DB_URL="postgres://postgres@127.0.0.1:$1/postgres"
}
stop_pg() {
    [ -n "${PGDATA:-}" ] || return 0
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA/data" -m fast -w stop >/dev/null 2>&1 || true
}

cleanup() {
    stop
    # A script that runs two processes at once names them here.
    PID=${SERVER_PID:-}
    stop
    PID=${FLOOR_PID:-}
    stop
    stop_pg
    if [ -n "${LOAD_KEEP:-}" ]; then
        say "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until https://127.0.0.1:$1$2 answers, or the process $PID is gone. For the server's
# `/readyz` only a 200 will do: the port answers 503 from its first moment, while the store
# loads.
wait_ready() {
    local port=$1 path=$2 flags=(-ksS -o /dev/null --max-time 2)
    [ "$path" != /readyz ] || flags+=(--fail)
    for _ in $(seq 1 300); do
        kill -0 "$PID" 2>/dev/null || die "the process exited at startup"
        if curl "${flags[@]}" "https://127.0.0.1:$port$path" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    die "nothing answered on 127.0.0.1:$port within 60 s"
}

# Fails when something already listens on 127.0.0.1:$1 (it would be measured instead).
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        die "127.0.0.1:$1 is in use; set LOAD_PORT to a free port "
    fi
}

# Starts the server on 127.0.0.1:$SERVER_PORT with its data in $WORK/data, pinned like the
# floor, and waits until it answers; sets PID and LOG to it.
start_server() {
    say "starting the server on 127.0.0.1:$SERVER_PORT"
    port_free "$SERVER_PORT"
    (cd "$WORK" && exec "${SERVER_CPUS[@]}" "$SERVER_BIN" --listen "127.0.0.1:$SERVER_PORT" \
        --data-dir "$WORK/data" "${LIMIT_FLAGS[@]}" >>"$WORK/server.out" 2>>"$WORK/server.err") &
    PID=$!
    LOG=$WORK/server.err
    wait_ready "$SERVER_PORT" /readyz
}

# Prints a line of /proc/$PID/status in kB: VmRSS or VmHWM.
memory_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }

max() { if [ "$1" -ge "$2" ]; then echo "$1"; else echo "$2"; fi; }

# Prints the value of KEY in a driver's line "NAME KEY=VALUE ...".
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# Microseconds as milliseconds, and kB as MB, for a report.
ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }'; }

# CPU time of $PID so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

# TICKS clock ticks of CPU time over SECONDS, as a percent of one core (one decimal).
cpu_percent() { # TICKS SECONDS
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v d="$2" 'BEGIN { printf "%.1f", 100 * t / hz / d }'
}

# Percent-encodes a query value (zone names hold '/' and '+').
urlencode() {
    local s=$1 i c out=""
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [a-zA-Z0-9._~-]) out+=$c ;;
        *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# The server's first start prints its admin key once.
admin_key() {
    local admin
    admin=$(grep -o 'avk_[0-9a-zA-Z_]*' "$WORK/server.out" || true)
    admin=${admin%%$'\n'*}
    [ -n "$admin" ] || die "the server printed no admin key on its first start: $(cat "$WORK/server.out")"
    printf '%s' "$admin"
}

api() { # METHOD PATH KEY [BODY]: prints the answer; fails on a status >= 400
    curl -ksS --fail-with-body -X "$1" -H "authorization: Bearer $3" \
        -H 'content-type: application/json' ${4:+--data-binary "$4"} \
        "https://127.0.0.1:$SERVER_PORT$2"
}
