#!/usr/bin/env bash
# shardis-benchmark against redis-benchmark, both driving the same redis-server.
#
# redis-server is pinned to SERVER_CORE and each generator in turn to CLIENT_CORE, with the
# same connections (C), pipeline depth (each of PIPELINES), value size (D), key range (R) and
# requests per test (N; shardis-benchmark's -n is per connection, so it gets N / C). Runs
# alternate between the tools, each after waiting for an idle machine (bench/lib.sh's
# wait_quiet). Each cell is the median of REPS runs in requests per second, with the
# redis-server CPU use during the run (near 100% means the server, not the generator, is the
# limit).
#
# usage: tools/benchmark/compare.sh
# env: C=50 PIPELINES="1 16" N=1000000 D=32 R=100000 REPS=3 SERVER_CORE=0 CLIENT_CORE=1
#      EXTRA="" (more shardis-benchmark options, e.g. "--io glommio") SKIP_BUILD=
#      QUIET_PCT=15 QUIET_WAIT=120 (see bench/lib.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

C=${C:-50}
PIPELINES=${PIPELINES:-"1 16"}
N=${N:-1000000}
D=${D:-32}
R=${R:-100000}
REPS=${REPS:-3}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
EXTRA=${EXTRA:-}
BIN="${CARGO_TARGET_DIR:-target}/release/shardis-benchmark"

need redis-server redis-benchmark redis-cli taskset ss
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --quiet --bin shardis-benchmark || die "cargo build failed"
fi
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

PORT=$(free_port)
start_server "$PORT" "$(mktemp /tmp/compare-redis.XXXXXX.log)" taskset -c "$SERVER_CORE" \
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile ''

# Each prints "SET_RPS GET_RPS".
redis_bench() {
  taskset -c "$CLIENT_CORE" redis-benchmark -p "$PORT" -t set,get -c "$C" -P "$1" -n "$N" -d "$D" -r "$R" -q \
    | tr '\r' '\n' | awk -F'[: ]+' '/requests per second/ { r[$1] = $2 } END { print r["SET"], r["GET"] }'
}
shardis_bench() {
  # shellcheck disable=SC2086
  taskset -c "$CLIENT_CORE" "$BIN" -p "$PORT" -t 1 -c "$C" --pipeline "$1" -n $((N / C)) -d "$D" \
    --key-minimum 0 --key-maximum $((R - 1)) --tests set,get --csv $EXTRA \
    | awk -F, '$3 == "Totals" { r[$1] = $4 } END { print r["set"], r["get"] }'
}

# measure TOOL P -> "SET_RPS GET_RPS SERVER_CPU_PCT"
measure() {
  local t0 t1 c0 c1 rps
  wait_quiet
  c0=$(proc_ticks "$SERVER_PID") t0=$(now_s)
  rps=$("$1" "$2")
  c1=$(proc_ticks "$SERVER_PID") t1=$(now_s)
  echo "$rps $(cpu_pct "$c0" "$c1" "$t0" "$t1")"
}

printf '%-10s %12s %12s %8s   %s\n' "" redis-bench shardis-bench ratio "redis-server CPU (rb / sb)"
for p in $PIPELINES; do
  declare -A v=()
  for i in $(seq 1 "$REPS"); do
    read -r v[rb_set_$i] v[rb_get_$i] v[rb_cpu_$i] < <(measure redis_bench "$p")
    read -r v[sb_set_$i] v[sb_get_$i] v[sb_cpu_$i] < <(measure shardis_bench "$p")
  done
  pick() { local k out=(); for i in $(seq 1 "$REPS"); do k="$1_$i"; out+=("${v[$k]}"); done; echo "${out[@]}"; }
  for t in set get; do
    # shellcheck disable=SC2046
    rb=$(median $(pick "rb_$t")) sb=$(median $(pick "sb_$t"))
    # shellcheck disable=SC2046
    printf '%-10s %12s %12s %8s   %s%% / %s%%   runs: %s | %s\n' "-P $p $t" "$(fmt_rps "$rb")" "$(fmt_rps "$sb")" \
      "$(ratio "$sb" "$rb")" "$(median $(pick rb_cpu))" "$(median $(pick sb_cpu))" "$(pick "rb_$t")" "$(pick "sb_$t")"
  done
  unset v
done
