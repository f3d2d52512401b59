#!/usr/bin/env bash
# Does a second shard pay for itself? shardis --threads 1 against --threads 2 with the same CPU
# budget: the load generator (shardis-benchmark, 2 threads) and the server share cores 0,1 in
# both runs (--threads 1: the server pinned to core 0; --threads 2: one shard per core). The
# machine has only 2 cores, so a generator with a core of its own is not possible for both.
#
# usage: bench/threads.sh [BINARY]      (default target/release/shardis)
# env: DURATION=4 REPS=3 PIPELINE=16 CONNS=25 (per generator thread) KEYS=100000 RATIO=1:1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-4}
REPS=${REPS:-3}
PIPELINE=${PIPELINE:-16}
CONNS=${CONNS:-25}
KEYS=${KEYS:-100000}
RATIO=${RATIO:-1:1}
BIN=${1:-target/release/shardis}
GEN=target/release/shardis-benchmark
[ -x "$BIN" ] && [ -x "$GEN" ] || die "build first: cargo build --release"
need taskset ss redis-cli
trap cleanup EXIT
OUT=$(mktemp -d /tmp/threads.XXXXXX)

ops() { # PORT -> total ops/s
  taskset -c 0,1 "$GEN" -p "$1" -t 2 -c "$CONNS" --pipeline "$PIPELINE" --ratio "$RATIO" \
    --key-maximum "$KEYS" --distinct-client-seed --test-time "$DURATION" 2>/dev/null |
    awk '/^Totals/ { print $2; exit }'
}

declare -A runs
for rep in $(seq 1 "$REPS"); do
  for t in 1 2; do
    wait_quiet
    port=$(free_port)
    cores=0
    [ "$t" = 2 ] && cores=0,1
    start_server "$port" "$OUT/t$t.log" taskset -c "$cores" "$BIN" --port "$port" --threads "$t" --dir "$OUT/d$t-$rep"
    runs[$t]="${runs[$t]:-} $(ops "$port")"
    stop_server "$SERVER_PID"
  done
done
t1=$(median ${runs[1]}) t2=$(median ${runs[2]})
echo "shardis-benchmark -t 2 -c $CONNS --pipeline $PIPELINE --ratio $RATIO, server and generator on cores 0,1, median of $REPS"
printf '%-12s %12s\n' "--threads 1" "$(fmt_rps "$t1")" "--threads 2" "$(fmt_rps "$t2")"
echo "threads 2 / threads 1: $(ratio "$t2" "$t1")"
