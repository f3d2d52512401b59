#!/usr/bin/env bash
# What the AOF costs: SET throughput with appendonly on, shardis vs redis-server with the same
# fsync policy and the same core, and how long a restart takes to replay the log.
#
# usage: bench/aof.sh [BINARY]        (default target/release/shardis)
# Parts (PARTS=set,recovery):
#   set       redis-benchmark SET (random keys) against redis-server and shardis --threads 1, both
#             pinned to core SERVER_CORE with `--appendonly yes --appendfsync P` for each policy P
#             in POLICIES, pipelines in PIPELINES; the generator on CLIENT_CORE. REPS rounds, the
#             servers alternating, medians and the ratio shardis/redis printed.
#   recovery  RECOVERY_KEYS SETs (random keys, 1:RECOVERY_KEYS) into each server with
#             `appendfsync no`, then kill -9 and time from the restart until PING answers PONG
#             (redis answers LOADING until it has replayed its AOF; shardis listens only once
#             every core has replayed its own). shardis runs with RECOVERY_THREADS threads.
# env: N=500000 C=50 R=100000 REPS=3 POLICIES="everysec always" PIPELINES="1 16"
#      RECOVERY_KEYS=10000000 RECOVERY_THREADS=2 SERVER_CORE=0 CLIENT_CORE=1 QUIET_WAIT=30
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-500000}
C=${C:-50}
R=${R:-100000}
REPS=${REPS:-3}
POLICIES=${POLICIES:-"everysec always"}
PIPELINES=${PIPELINES:-"1 16"}
PARTS=${PARTS:-set,recovery}
RECOVERY_KEYS=${RECOVERY_KEYS:-10000000}
RECOVERY_THREADS=${RECOVERY_THREADS:-2}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
export QUIET_WAIT=${QUIET_WAIT:-30}
BIN=${1:-target/release/shardis}
[ -x "$BIN" ] || die "no binary at $BIN (cargo build --release)"
need redis-server redis-benchmark redis-cli taskset ss
trap cleanup EXIT
OUT=$(mktemp -d /tmp/aofbench.XXXXXX)

# start NAME POLICY DIR CORES [THREADS]: starts a server with the AOF on; sets PORT, SERVER_PID
start() {
  local name=$1 policy=$2 dir=$3 cores=$4 threads=${5:-1}
  PORT=$(free_port)
  mkdir -p "$dir"
  if [ "$name" = redis ]; then
    start_server "$PORT" "$OUT/$name.log" taskset -c "$cores" redis-server --port "$PORT" --save "" \
      --appendonly yes --appendfsync "$policy" --dir "$dir" --auto-aof-rewrite-percentage 0
  else
    start_server "$PORT" "$OUT/$name.log" taskset -c "$cores" "$BIN" --port "$PORT" --threads "$threads" \
      --appendonly yes --appendfsync "$policy" --dir "$dir" --auto-aof-rewrite-percentage 0
  fi
}

set_rps() { # PORT PIPELINE -> rps
  taskset -c "$CLIENT_CORE" redis-benchmark -p "$1" -t set -n "$N" -c "$C" -r "$R" -P "$2" -q 2>/dev/null |
    rps_of | awk '{ print $2 }' | tail -1
}

if [[ $PARTS == *set* ]]; then
  echo "== SET with the AOF on (server on core $SERVER_CORE, redis-benchmark on core $CLIENT_CORE, N=$N C=$C)"
  printf '%-9s %-3s %12s %12s %7s\n' policy P redis shardis ratio
  for policy in $POLICIES; do
    for p in $PIPELINES; do
      rs=() ss=()
      for rep in $(seq 1 "$REPS"); do
        for name in redis shardis; do
          wait_quiet
          dir="$OUT/$name-$policy-$p-$rep"
          start "$name" "$policy" "$dir" "$SERVER_CORE"
          rps=$(set_rps "$PORT" "$p")
          stop_server "$SERVER_PID"
          rm -rf "$dir"
          if [ "$name" = redis ]; then rs+=("$rps"); else ss+=("$rps"); fi
        done
      done
      r=$(median "${rs[@]}") s=$(median "${ss[@]}")
      printf '%-9s %-3s %12s %12s %7s\n' "$policy" "$p" "$(fmt_rps "$r")" "$(fmt_rps "$s")" "$(ratio "$s" "$r")"
    done
  done
fi

if [[ $PARTS == *recovery* ]]; then
  echo "== Recovery: $RECOVERY_KEYS random SETs, then kill -9 and restart (shardis --threads $RECOVERY_THREADS on cores 0,1; redis on core 0)"
  for name in redis shardis; do
    dir="$OUT/rec-$name"
    if [ "$name" = redis ]; then cores=$SERVER_CORE; else cores=0,1; fi
    start "$name" no "$dir" "$cores" "$RECOVERY_THREADS"
    redis-benchmark -p "$PORT" -t set -n "$RECOVERY_KEYS" -r "$RECOVERY_KEYS" -P 64 -c 8 -d 16 -q >/dev/null 2>&1
    keys=$(redis-cli -p "$PORT" dbsize)
    size=$(du -sb "$dir" | awk '{ print $1 }')
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    t0=$(now_s)
    READY_TRIES=12000 start "$name" no "$dir" "$cores" "$RECOVERY_THREADS"
    t1=$(now_s)
    after=$(redis-cli -p "$PORT" dbsize)
    stop_server "$SERVER_PID"
    rm -rf "$dir"
    awk -v n="$name" -v k="$keys" -v a="$after" -v s="$size" -v t0="$t0" -v t1="$t1" \
      'BEGIN { printf "%-8s keys %s (after restart %s), files %.0f MB, restart to PONG %.2f s\n", n, k, a, s / 1e6, t1 - t0 }'
  done
fi
