#!/usr/bin/env bash
# The emulator's CPU time for one upload through the `box-upload` CLI: the figure in the
# README's "Performance" paragraph.
#
#   cargo build --release -p box-emulator -p box-upload-cli
#   head -c 1G /dev/urandom > /tmp/file1g
#   emulator/scripts/cpu-per-gib.sh target/release/box-emulator target/release/box-upload /tmp/file1g
#
# Prints the emulator's utime + stime (from /proc/PID/stat) spent on the upload, and the wall time.
set -euo pipefail
emulator=$1 cli=$2 file=$3 port=${4:-38123}
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
"$emulator" --listen "127.0.0.1:$port" --data-dir "$data" > "$data.log" 2>&1 &
pid=$!
sleep 1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
BOX_TOKEN=test-token "$cli" put "$file" --folder 0 \
    --api-url "http://127.0.0.1:$port/2.0" --upload-url "http://127.0.0.1:$port/api/2.0" > /dev/null
c1=$(cpu); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tck="$tck" -v size="$(stat -c %s "$file")" \
    'BEGIN { printf "emulator CPU %.2f s (%.2f s per GiB), wall %.1f s\n", (c1-c0)/tck, (c1-c0)/tck/(size/1073741824), t1-t0 }'
