#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints a summary line per
# target. Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh 600                 # every target, ten minutes each
#   fuzz/run.sh 30 week_ops         # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "no fuzz targets found (cargo fuzz list printed none): nothing was fuzzed" >&2
    exit 1
fi
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log=$(mktemp)
    if cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
        echo "$target: ${runs:-?} executions in ${seconds}s, no findings"
        rm -f "$log"
    else
        echo "$target: FAILED, see $log and fuzz/artifacts/$target" >&2
        tail -40 "$log" >&2
        exit 1
    fi
done
