#!/usr/bin/env bash
# shardis vs redis-server on SET/GET, one core each (or shardis on two cores: THREADS=2).
#
# usage: bench/compare.sh [BINARY | PORT]
#   BINARY  shardis binary to start (default target/release/shardis); it is run as
#           `BINARY --port P --threads T $SHARDIS_ARGS`
#   PORT    benchmark an already running shardis on 127.0.0.1:PORT instead (not started,
#           stopped or pinned by this script; THREADS is then only a label)
# env:
#   LOADGEN=redis-benchmark | shardis-benchmark (built by `cargo build --release`)
#   THREADS=1        1: shardis --threads 1 on core 0 vs redis-server on core 0
#                    2: additionally shardis --threads 2 on cores 0,1, compared with --threads 1
#                       (redis-benchmark stays on core 1, so it shares a core with shardis)
#   SHARDIS_ARGS=    extra arguments for shardis
#   N=1000000 C=50 R=100000 REPS=3 PIPELINES="1 16" TESTS=set,get
#   SERVER_CORE=0 CLIENT_CORE=1 BUILD= (BUILD=1: cargo build --release first)
#   QUIET_PCT=15 QUIET_WAIT=120 (wait for an idle machine before each run; QUIET_WAIT=0 disables)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

THREADS=${THREADS:-1}
# The load generator: redis-benchmark, or shardis-benchmark (tools/benchmark; faster, so
# pipelined runs measure the server rather than the generator).
LOADGEN=${LOADGEN:-redis-benchmark}
SHARDIS_ARGS=${SHARDIS_ARGS:-}
N=${N:-1000000}
C=${C:-50}
R=${R:-100000}
REPS=${REPS:-3}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-set,get}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
OUT=${OUT:-$(mktemp -d /tmp/compare.XXXXXX)}
mkdir -p "$OUT"

case "$THREADS" in 1 | 2) ;; *) die "THREADS must be 1 or 2 (got '$THREADS')" ;; esac
need redis-server redis-benchmark redis-cli taskset ss

TARGET=${1:-target/release/shardis}
EXTERNAL_PORT=
if [[ $TARGET =~ ^[0-9]+$ ]]; then
  EXTERNAL_PORT=$TARGET
  [ "$(redis-cli -p "$EXTERNAL_PORT" ping 2>/dev/null)" = PONG ] ||
    die "nothing answers PING on 127.0.0.1:$EXTERNAL_PORT"
  [ "$THREADS" = 2 ] && die "THREADS=2 needs a binary to start (got a port)"
else
  if [ -n "${BUILD:-}" ]; then
    cargo build --release >&2 || die "cargo build --release failed"
  fi
  [ -e "$TARGET" ] || die "$TARGET is missing: build it first (cargo build --release, or BUILD=1 $0)"
  [ -x "$TARGET" ] || die "$TARGET is not executable"
fi

trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
warn_if_busy

declare -A RES
TEST_NAMES=()

# run_load LABEL PORT : REPS x each pipeline depth, medians into RES[LABEL,TEST,P]
run_load() {
  local label=$1 port=$2 P r out line t v
  for P in $PIPELINES; do
    declare -A vals=()
    for r in $(seq 1 "$REPS"); do
      wait_quiet
      if [ "$LOADGEN" = shardis-benchmark ]; then
        # One thread, C connections, N requests in all (as redis-benchmark), per-test CSV rows.
        out=$(timeout 600 taskset -c "$CLIENT_CORE" target/release/shardis-benchmark -p "$port" \
                -t 1 -c "$C" -n $((N / C)) --pipeline "$P" --tests "$TESTS" --key-maximum "$R" \
                --csv 2>/dev/null | awk -F, '$3 != "Totals" && NR > 1 { print toupper($1), $4 }') || true
      else
        out=$(timeout 600 taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -t "$TESTS" \
                -c "$C" -n "$N" -r "$R" -q -P "$P" 2>&1 | rps_of) || true
      fi
      [ -z "$out" ] && echo "   $label P$P run $r: FAIL (no result)" >&2
      while read -r t v; do
        [ -z "$t" ] && continue
        echo "   $label P$P run $r: $t $v" >&2
        echo "$label P$P $r $t $v" >>"$OUT/runs.txt"
        vals[$t]="${vals[$t]:-} $v"
      done <<<"$out"
    done
    for t in "${!vals[@]}"; do
      # shellcheck disable=SC2086
      RES["$label,$t,$P"]=$(median ${vals[$t]})
      [[ " ${TEST_NAMES[*]} " == *" $t "* ]] || TEST_NAMES+=("$t")
    done
    unset vals
  done
}

# bench_started LABEL CPUS CMD... : start pinned, wait for PING, load, stop
bench_started() {
  local label=$1 cpus=$2; shift 2
  local port
  port=$(free_port)
  echo "== $label: $* --port $port (cpus $cpus)" >&2
  start_server "$port" "$OUT/$label.server.log" taskset -c "$cpus" "$@" --port "$port" ||
    die "$label did not start (log: $OUT/$label.server.log)"
  run_load "$label" "$port"
  stop_server "$SERVER_PID"
}

# shellcheck disable=SC2086
bench_started redis "$SERVER_CORE" redis-server --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --protected-mode no --logfile ''

if [ -n "$EXTERNAL_PORT" ]; then
  echo "== shardis: already running on port $EXTERNAL_PORT (not pinned by this script)" >&2
  run_load shardis1 "$EXTERNAL_PORT"
else
  # shellcheck disable=SC2086
  bench_started shardis1 "$SERVER_CORE" "$TARGET" --threads 1 $SHARDIS_ARGS
  if [ "$THREADS" = 2 ]; then
    # shellcheck disable=SC2086
    bench_started shardis2 "0,1" "$TARGET" --threads 2 $SHARDIS_ARGS
  fi
fi

echo
echo "$LOADGEN: $TESTS, $C connections, $N requests, $R keys, median of $REPS runs"
echo "redis-server and shardis --threads 1 pinned to core $SERVER_CORE; $LOADGEN pinned to core $CLIENT_CORE"
[ -n "$SHARDIS_ARGS" ] && echo "SHARDIS_ARGS: $SHARDIS_ARGS"
if [ "$THREADS" = 2 ]; then
  echo "NOTE: shardis --threads 2 runs on cores 0,1 and SHARES core 1 with redis-benchmark:"
  echo "      its numbers are load-generator-limited and not a clean 2-core scaling figure."
  printf '%-8s %4s %12s %12s %8s %12s %8s\n' test P redis shardis-t1 t1/redis shardis-t2 t2/t1
else
  printf '%-8s %4s %12s %12s %8s\n' test P redis shardis shardis/redis
fi
for t in "${TEST_NAMES[@]}"; do
  for P in $PIPELINES; do
    red=${RES[redis,$t,$P]:-FAIL}
    s1=${RES[shardis1,$t,$P]:-FAIL}
    if [ "$THREADS" = 2 ]; then
      s2=${RES[shardis2,$t,$P]:-FAIL}
      printf '%-8s %4s %12s %12s %8s %12s %8s\n' "$t" "P$P" "$(fmt_rps "$red")" "$(fmt_rps "$s1")" \
        "$(ratio "$s1" "$red")" "$(fmt_rps "$s2")" "$(ratio "$s2" "$s1")"
    else
      printf '%-8s %4s %12s %12s %8s\n' "$t" "P$P" "$(fmt_rps "$red")" "$(fmt_rps "$s1")" "$(ratio "$s1" "$red")"
    fi
  done
done
[ "${NOISY_RUNS:-0}" -gt 0 ] && echo "WARNING: $NOISY_RUNS runs were measured while the machine was busy"
echo "(per-run numbers and server logs: $OUT)"
