#!/usr/bin/env bash
# shardis vs redis-server on the collection types, one core each (same core, taskset).
#
# (a) memory: for each data set, a fresh server of each kind is loaded (pipelined, redis-cli
#     --pipe fed by awk) and the growth of `used_memory` (INFO memory) and of the process RSS
#     (ps) is divided by the number of elements.
#       hash       HSET h field:N value:N          N = 1..NMEM      (per field)
#       set        SADD s member:N                 N = 1..NMEM      (per member)
#       zset       ZADD z N member:N               N = 1..NMEM      (per member)
#       smallhash  HSET sh:K field:0 value:K ... field:9 value:K   K = 1..NSMALL (per key)
#     NOTE: shardis's used_memory IS its RSS (src/commands/server.rs), so for shardis both
#     columns show the same thing; for redis, used_memory is what jemalloc reports allocated
#     (no fragmentation, no allocator slack), RSS is the comparable figure.
# (b) throughput: redis-benchmark -t lpush,lpop,zadd,hset and `ZRANGE myzset 0 9` (after the
#     zadd test has filled myzset) with C connections at each pipeline depth, median of REPS
#     runs, printed with the ratio shardis/redis as compare.sh does. Both servers run at once
#     and the runs alternate (redis, shardis, redis...), so noise from elsewhere is shared.
#
# usage: bench/collections.sh [BINARY]      (default target/release/shardis, run --threads 1)
# env:
#   PARTS="mem tput"  DATASETS="hash set zset smallhash"  NMEM=1000000 NSMALL=1000000
#   N=1000000 C=50 R=100000 REPS=3 PIPELINES="1 16" TESTS=lpush,lpop,zadd,hset
#   SERVER_CORE=0 CLIENT_CORE=1 BUILD= (BUILD=1: cargo build --release first)
#   LOADGEN=redis-benchmark | shardis-benchmark: with shardis-benchmark (faster: at pipeline
#   16 redis-benchmark itself tops out near 1.2-1.4M rps) LPUSH, LPOP, HSET and ZRANGE send
#   the same commands as redis-benchmark's tests (3-byte values, fields element:1..R); ZADD
#   stays with redis-benchmark, whose random scores make every request a real update.
#   QUIET_PCT=15 QUIET_WAIT=120 (wait for an idle machine before each throughput run)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PARTS=${PARTS:-"mem tput"}
DATASETS=${DATASETS:-"hash set zset smallhash"}
NMEM=${NMEM:-1000000}
NSMALL=${NSMALL:-1000000}
N=${N:-1000000}
C=${C:-50}
R=${R:-100000}
REPS=${REPS:-3}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-lpush,lpop,zadd,hset}
LOADGEN=${LOADGEN:-redis-benchmark}
SB=target/release/shardis-benchmark
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
OUT=${OUT:-$(mktemp -d /tmp/collections.XXXXXX)}
mkdir -p "$OUT"

need redis-server redis-benchmark redis-cli taskset ss awk ps
[ "$LOADGEN" != shardis-benchmark ] || [ -x "$SB" ] || die "no $SB (cargo build --release)"
TARGET=${1:-target/release/shardis}
if [ -n "${BUILD:-}" ]; then
  cargo build --release >&2 || die "cargo build --release failed"
fi
[ -x "$TARGET" ] || die "$TARGET is missing: build it first (cargo build --release, or BUILD=1 $0)"

trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
warn_if_busy

# start LABEL : starts a fresh pinned server of that kind; sets PORT and SERVER_PID
start() {
  local label=$1
  PORT=$(free_port)
  case "$label" in
    redis) start_server "$PORT" "$OUT/redis.server.log" taskset -c "$SERVER_CORE" redis-server \
             --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
             --protected-mode no --logfile '' ;;
    # No snapshot on shutdown and no ./data dump loaded at start: each run starts empty.
    shardis) start_server "$PORT" "$OUT/shardis.server.log" taskset -c "$SERVER_CORE" "$TARGET" \
               --threads 1 --port "$PORT" --save '' --appendonly no --dir "$OUT/data" ;;
  esac || die "$label did not start (log: $OUT/$label.server.log)"
}

# ---------------------------------------------------------------------------------- memory

# gen DATASET : the data set as RESP commands on stdout (variadic commands of up to 1000
# elements each for the big collections, so loading is quick on both servers)
gen() {
  LC_ALL=C awk -v ds="$1" -v n="$NMEM" -v ns="$NSMALL" '
    function arg(s) { return "$" length(s) "\r\n" s "\r\n" }
    function flush(   i) {
      if (cnt == 0) return
      printf "*%d\r\n%s%s", 2 + cnt, arg(cmd), arg(key)
      for (i = 0; i < cnt; i++) printf "%s", buf[i]
      cnt = 0
    }
    function add(s) { buf[cnt++] = arg(s) }
    BEGIN {
      if (ds == "smallhash") {
        for (k = 1; k <= ns; k++) {
          printf "*22\r\n%s%s", arg("HSET"), arg("sh:" k)
          for (f = 0; f < 10; f++) printf "%s%s", arg("field:" f), arg("value:" k)
        }
        exit
      }
      if (ds == "hash") { cmd = "HSET"; key = "h" }
      else if (ds == "set") { cmd = "SADD"; key = "s" }
      else if (ds == "zset") { cmd = "ZADD"; key = "z" }
      else { print "unknown data set " ds > "/dev/stderr"; exit 1 }
      for (i = 1; i <= n; i++) {
        if (ds == "hash") { add("field:" i); add("value:" i) }
        else if (ds == "set") add("member:" i)
        else { add(i); add("member:" i) }
        if (cnt >= 2000) flush()
      }
      flush()
    }'
}

# elements DATASET : how many elements the data set has, and the command that counts them
elements() {
  case "$1" in
    hash) echo "$NMEM HLEN h" ;;
    set) echo "$NMEM SCARD s" ;;
    zset) echo "$NMEM ZCARD z" ;;
    smallhash) echo "$NSMALL DBSIZE" ;;
  esac
}

used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
rss_bytes() { echo $(( $(ps -o rss= -p "$1") * 1024 )); }

declare -A MEM
# measure_mem LABEL DATASET : fresh server, load, deltas per element into MEM[LABEL,DATASET,*]
measure_mem() {
  local label=$1 ds=$2 n count u0 r0 u1 r1 got
  start "$label"
  read -r n count <<<"$(elements "$ds")"
  u0=$(used_memory "$PORT"); r0=$(rss_bytes "$SERVER_PID")
  gen "$ds" | taskset -c "$CLIENT_CORE" redis-cli -p "$PORT" --pipe >"$OUT/$label.$ds.pipe.log" 2>&1 ||
    echo "   $label $ds: redis-cli --pipe reported errors (see $OUT/$label.$ds.pipe.log)" >&2
  # shellcheck disable=SC2086
  got=$(redis-cli -p "$PORT" $count)
  [ "$got" = "$n" ] || echo "   WARNING: $label $ds: $count = '$got', expected $n" >&2
  sleep 1 # let the servers finish incremental work before sampling
  u1=$(used_memory "$PORT"); r1=$(rss_bytes "$SERVER_PID")
  echo "   $label $ds: used_memory $u0 -> $u1, rss $r0 -> $r1 ($n elements)" >&2
  stop_server "$SERVER_PID"
  [ "$got" = "$n" ] || return 0 # the load failed: the row shows FAIL
  MEM[$label,$ds,used]=$(awk -v a="$u0" -v b="$u1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
  MEM[$label,$ds,rss]=$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
}

report_mem() {
  echo
  echo "memory: bytes per element (growth after loading / elements); smallhash is per key (10 fields)"
  echo "shardis used_memory is its RSS; compare the rss columns"
  printf '%-10s %12s %12s %12s %12s %10s\n' dataset redis-used redis-rss shardis-used shardis-rss rss-ratio
  local ds
  for ds in $DATASETS; do
    printf '%-10s %12s %12s %12s %12s %10s\n' "$ds" "${MEM[redis,$ds,used]:-FAIL}" \
      "${MEM[redis,$ds,rss]:-FAIL}" "${MEM[shardis,$ds,used]:-FAIL}" "${MEM[shardis,$ds,rss]:-FAIL}" \
      "$(ratio "${MEM[shardis,$ds,rss]:-0}" "${MEM[redis,$ds,rss]:-0}")"
  done
}

# ------------------------------------------------------------------------------ throughput

declare -A RES
TEST_NAMES=()

# sb_rps PORT P COMMAND : one shardis-benchmark run of COMMAND, its ops/s
sb_rps() {
  timeout 600 taskset -c "$CLIENT_CORE" "$SB" -p "$1" -t 1 -c "$C" -n $((N / C)) --pipeline "$2" \
    --key-maximum "$R" --key-prefix element: -d 3 --distinct-client-seed --command "$3" --csv 2>/dev/null |
    awk -F, '$1 == "commands" && $3 != "Totals" { printf "%.2f\n", $4 }' | tail -1
}

# bench_one PORT P : one run of every test at pipeline depth P, "TEST rps" lines
bench_one() {
  local port=$1 P=$2
  local t
  if [ "$LOADGEN" = shardis-benchmark ]; then
    for t in ${TESTS//,/ }; do
      case $t in
        lpush) echo "LPUSH $(sb_rps "$port" "$P" "LPUSH mylist __data__")" ;;
        lpop) echo "LPOP $(sb_rps "$port" "$P" "LPOP mylist")" ;;
        hset) echo "HSET $(sb_rps "$port" "$P" "HSET myhash __key__ __data__")" ;;
        *) timeout 600 taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -t "$t" \
          -c "$C" -n "$N" -r "$R" -q -P "$P" 2>&1 | rps_of || true ;;
      esac
    done
    echo "ZRANGE_0_9 $(sb_rps "$port" "$P" "ZRANGE myzset 0 9")"
    return
  fi
  # One redis-benchmark per test, in the order given (lpush fills the list lpop empties, zadd
  # fills the sorted set of about R members that ZRANGE reads), so a test that fails (an error
  # reply makes redis-benchmark exit) costs only its own row.
  for t in ${TESTS//,/ }; do
    timeout 600 taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -t "$t" \
      -c "$C" -n "$N" -r "$R" -q -P "$P" 2>&1 | rps_of || true
  done
  timeout 600 taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -c "$C" -n "$N" -q -P "$P" \
    ZRANGE myzset 0 9 2>&1 | rps_of | sed 's/^ZRANGE myzset 0 9 /ZRANGE_0_9 /' || true
}

# run_loads PORT_REDIS PORT_SHARDIS : every pipeline depth, REPS rounds, each round one run
# on redis then one on shardis (both servers stay up, idle when not measured), so a burst of
# load from elsewhere on the machine hits both sides alike instead of one whole column.
run_loads() {
  local -A port=([redis]=$1 [shardis]=$2) vals=()
  local P r label out t v
  for P in $PIPELINES; do
    for r in $(seq 1 "$REPS"); do
      for label in redis shardis; do
        wait_quiet
        redis-cli -p "${port[$label]}" flushall >/dev/null
        out=$(bench_one "${port[$label]}" "$P")
        [ -z "$out" ] && echo "   $label P$P run $r: FAIL (no result)" >&2
        while read -r t v; do
          [ -z "$t" ] && continue
          echo "   $label P$P run $r: $t $v" >&2
          echo "$label P$P $r $t $v" >>"$OUT/runs.txt"
          vals[$label,$t,$P]="${vals[$label,$t,$P]:-} $v"
          [[ " ${TEST_NAMES[*]} " == *" $t "* ]] || TEST_NAMES+=("$t")
        done <<<"$out"
      done
    done
  done
  local k
  for k in "${!vals[@]}"; do
    # shellcheck disable=SC2086
    RES[$k]=$(median ${vals[$k]})
  done
}

report_tput() {
  echo
  echo "$LOADGEN: $TESTS + ZRANGE myzset 0 9, $C connections, $N requests, $R keys, median of $REPS runs"
  [ "$LOADGEN" = shardis-benchmark ] && echo "(ZADD with redis-benchmark)"
  echo "redis-server and shardis --threads 1 pinned to core $SERVER_CORE; the generator pinned to core $CLIENT_CORE"
  printf '%-12s %4s %12s %12s %8s\n' test P redis shardis shardis/redis
  local t P red s1
  for t in "${TEST_NAMES[@]}"; do
    for P in $PIPELINES; do
      red=${RES[redis,$t,$P]:-FAIL}
      s1=${RES[shardis,$t,$P]:-FAIL}
      printf '%-12s %4s %12s %12s %8s\n' "$t" "P$P" "$(fmt_rps "$red")" "$(fmt_rps "$s1")" "$(ratio "$s1" "$red")"
    done
  done
}

# -------------------------------------------------------------------------------------- main

for part in $PARTS; do
  case "$part" in
    mem)
      for ds in $DATASETS; do
        for label in redis shardis; do
          echo "== memory $ds: $label" >&2
          measure_mem "$label" "$ds"
        done
      done ;;
    tput)
      echo "== throughput: redis and shardis, alternating" >&2
      start redis
      rport=$PORT rpid=$SERVER_PID
      start shardis
      run_loads "$rport" "$PORT"
      stop_server "$SERVER_PID"
      stop_server "$rpid" ;;
    *) die "unknown part '$part' (mem, tput)" ;;
  esac
done

[[ " $PARTS " == *" mem "* ]] && report_mem
[[ " $PARTS " == *" tput "* ]] && report_tput
[ "${NOISY_RUNS:-0}" -gt 0 ] && echo "WARNING: $NOISY_RUNS runs were measured while the machine was busy"
echo "(per-run numbers and server logs: $OUT)"
