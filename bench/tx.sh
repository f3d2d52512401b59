#!/usr/bin/env bash
# What cross-shard transactions (VLL: schedule on every shard, hops, conclude; src/tx) cost.
#
# usage: bench/tx.sh [BINARY]      (default target/release/shardis; run as
#                                   `BINARY --port P --threads T --dir TMP $SHARDIS_ARGS`)
# Two parts (PARTS=mix,mset), each run REPS times, medians printed:
#   mix   shardis --threads 2 on cores 0,1; a 1:1 SET:GET mix, and variants of it:
#           a  pure SET:GET
#           b  the same with MSET_PCT % of the requests an MSET of MIX_MSET_KEYS (default 4)
#              keys from the same key space, every one a cross-shard transaction: the keys carry
#              the hash tags {s2} (shard 0) and {s0} (shard 1) in turn, so each MSET spans both
#              shards (their keys {s2}:K and {s0}:K are not the GETs' and SETs' keys)
#           c  control: the same share of MSETs of as many keys that live on ONE shard (all
#              {s2} or all {s0}, half each), so they run at once, no transaction: c vs b
#              separates the transaction machinery from the extra work an MSET is
#         The variants are interleaved (a b c a b c ...) on one server so drift hits all alike.
#         Reported: single-key (GET+SET) ops/s per variant, b/a, c/a, and MSET/s; then all
#         commands per second (single-key + MSET) and their ratios.
#   mset  MSET of 4 keys only, shardis --threads 1, 2 and 4 (MSET_THREADS), pipeline 1 and 16.
#         MSET_KEYS=spread (default): key i carries hash tag {s2},{s3},{s0},{s1}, one per quarter
#         of the slot table, so with 4 shards each key is on its own shard, with 2 shards two per
#         shard, with 1 shard all local (no transaction: the baseline). MSET_KEYS=random: plain
#         random keys (cross-shard with probability 7/8 at 2 shards, 63/64 at 4).
# The machine has 2 cores: the load generator always shares it with the server. --threads 1:
# server on core 0, generator (1 thread) on core 1. --threads 2 and 4: server on cores 0,1,
# generator (2 threads, one per core) on cores 0,1 too. --threads 4 oversubscribes (2 shards per
# core). Every connection draws its own key sequence (--distinct-client-seed).
# env:
#   DURATION=5 (s per run)  REPS=3  CONNS=50 (connections in all)  KEYS=100000 (key range)
#   MSET_PCT=5  MIX_PIPELINES="1 16"  MSET_THREADS="1 2 4"  MSET_PIPELINES="1 16"  MSET_KEYS=spread
#   PARTS=mix,mset  SHARDIS_ARGS=  BUILD= (1: cargo build --release first)  OUT=dir
#   QUIET_PCT=15 QUIET_WAIT=5 (wait up to QUIET_WAIT s before each run for a quiet machine)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-5}
REPS=${REPS:-3}
CONNS=${CONNS:-50}
KEYS=${KEYS:-100000}
MSET_PCT=${MSET_PCT:-5}
MIX_MSET_KEYS=${MIX_MSET_KEYS:-4}
MIX_PIPELINES=${MIX_PIPELINES:-"1 16"}
MSET_THREADS=${MSET_THREADS:-"1 2 4"}
MSET_PIPELINES=${MSET_PIPELINES:-"1 16"}
MSET_KEYS=${MSET_KEYS:-spread}
PARTS=${PARTS:-mix,mset}
SHARDIS_ARGS=${SHARDIS_ARGS:-}
export QUIET_WAIT=${QUIET_WAIT:-5}
OUT=${OUT:-$(mktemp -d /tmp/tx.XXXXXX)}
mkdir -p "$OUT"
GEN=target/release/shardis-benchmark

[[ $MSET_PCT =~ ^[0-9]+$ ]] && [ "$MSET_PCT" -ge 1 ] && [ "$MSET_PCT" -le 50 ] || die "MSET_PCT must be 1..50"
[ $((CONNS % 2)) -eq 0 ] || die "CONNS must be even (split over 2 generator threads)"
case "$MSET_KEYS" in spread | random) ;; *) die "MSET_KEYS must be spread or random" ;; esac
need redis-cli taskset ss jq

TARGET=${1:-target/release/shardis}
if [ -n "${BUILD:-}" ]; then
  cargo build --release >&2 || die "cargo build --release failed"
fi
[ -x "$TARGET" ] || die "$TARGET is missing: build it first (cargo build --release, or BUILD=1 $0)"
[ -x "$GEN" ] || die "$GEN is missing: cargo build --release"

trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
warn_if_busy

PROBLEMS=()
problem() { echo "   !! $*" >&2; PROBLEMS+=("$*"); }

SERVER_LOGS=()
# server THREADS CPUS LABEL [preload] : starts shardis, sets PORT and SERVER_PID
server() {
  local threads=$1 cpus=$2 label=$3 preload=${4:-}
  free_port >"$OUT/port" # not $(...): free_port must remember its last port in this shell
  PORT=$(<"$OUT/port")
  mkdir -p "$OUT/$label.dir"
  SERVER_LOGS+=("$OUT/$label.server.log")
  echo "== $label: shardis --threads $threads on cpus $cpus, port $PORT" >&2
  # shellcheck disable=SC2086
  start_server "$PORT" "$OUT/$label.server.log" taskset -c "$cpus" "$TARGET" --port "$PORT" \
    --threads "$threads" --dir "$OUT/$label.dir" $SHARDIS_ARGS || die "$label did not start"
  [ -z "$preload" ] && return 0
  # Fill the key range once so GETs mostly hit.
  taskset -c 1 "$GEN" -p "$PORT" -t 1 -c 10 -n 1 --preload --key-maximum "$KEYS" --ratio 1:0 \
    >/dev/null 2>"$OUT/$label.preload.err" || problem "$label: preload failed (see $OUT/$label.preload.err)"
}

# load NAME GEN_CPUS GEN_THREADS PIPELINE COMMAND-ARGS... : one timed run; sets LOAD_RESULT to
# "single mset total errors worst_second_ratio" (worst_second_ratio = the slowest full second's
# ops/s over the median second's: a stall shows as a small number).
load() {
  local name=$1 cpus=$2 gthreads=$3 pl=$4; shift 4
  local json="$OUT/$name.json" rc=0 line
  wait_quiet
  timeout $((DURATION + 60)) taskset -c "$cpus" "$GEN" -p "$PORT" -t "$gthreads" \
    -c $((CONNS / gthreads)) --pipeline "$pl" --test-time "$DURATION" --key-maximum "$KEYS" \
    --distinct-client-seed --json-out-file "$json" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || rc=$?
  [ "$rc" -ne 0 ] && problem "$name: generator exit status $rc ($(head -c 300 "$OUT/$name.err" | tr '\n' ' '))"
  kill -0 "$SERVER_PID" 2>/dev/null || { problem "$name: server died"; tail -5 "$OUT"/*.server.log >&2; }
  line=$(jq -r '.runs[0] as $r
      | ($r.throughput | map(.ops_per_sec) | .[1:-1] | sort) as $s
      | [ ([$r.commands[] | select(.type == "GET" or .type == "SET") | .ops_per_sec] | add // 0),
          ([$r.commands[] | select(.type | startswith("MSET")) | .ops_per_sec] | add // 0),
          $r.totals.ops_per_sec,
          (([$r.commands[].errors] | add // 0) + ($r.connection_errors // 0) + ($r.lost_requests // 0)),
          (if ($s | length) > 0 and $s[($s | length) / 2 | floor] > 0
             then $s[0] / $s[($s | length) / 2 | floor] else 1 end) ]
      | @tsv' "$json" 2>/dev/null) || line=""
  if [ -z "$line" ]; then
    problem "$name: no result"
    LOAD_RESULT="FAIL FAIL FAIL 0 1"
    return 0
  fi
  read -r s m t e w <<<"$line"
  [ "${e%.*}" != 0 ] && problem "$name: $e errors/lost requests ($(jq -r '[.runs[0].commands[].first_error | select(. != null)][0] // .runs[0].error // ""' "$json"))"
  awk -v w="$w" 'BEGIN { exit !(w < 0.5) }' && problem "$name: stall? slowest second at $(awk -v w="$w" 'BEGIN { printf "%.2f", w }')x the median second"
  printf '   %-22s single %10.0f  mset %9.0f  total %10.0f  worst-sec %.2f\n' "$name" "$s" "$m" "$t" "$w" >&2
  LOAD_RESULT="$s $m $t $e $w"
}

declare -A R

mset4() { # mset4 TAG... ("" for none): an MSET of one key per tag
  local cmd=MSET t
  for t in "$@"; do
    if [ -n "$t" ]; then cmd+=" {$t}:__key__ __data__"; else cmd+=" __key__ __data__"; fi
  done
  echo "$cmd"
}

if [[ ,$PARTS, == *,mix,* ]]; then
  server 2 0,1 mix preload
  single=$((100 - MSET_PCT))
  # tags TAG_A TAG_B: MIX_MSET_KEYS tags alternating between the two
  tags() { local i out=(); for ((i = 0; i < MIX_MSET_KEYS; i++)); do if ((i % 2)); then out+=("$2"); else out+=("$1"); fi; done; echo "${out[@]}"; }
  # shellcheck disable=SC2046 # one word per tag
  cross=$(mset4 $(tags s2 s0))
  # shellcheck disable=SC2046
  one0=$(mset4 $(tags s2 s2))
  # shellcheck disable=SC2046
  one1=$(mset4 $(tags s0 s0))
  base=(--command "SET __key__ __data__" --command-ratio "$single" --command "GET __key__" --command-ratio "$single")
  for P in $MIX_PIPELINES; do
    for r in $(seq 1 "$REPS"); do
      for v in a b c; do
        case $v in
          a) extra=() ;;
          b) extra=(--command "$cross" --command-ratio $((2 * MSET_PCT))) ;;
          c) extra=(--command "$one0" --command-ratio "$MSET_PCT" --command "$one1" --command-ratio "$MSET_PCT") ;;
        esac
        load "mix-$v-P$P-r$r" 0,1 2 "$P" "${base[@]}" "${extra[@]}"
        read -r s m t _ _ <<<"$LOAD_RESULT"
        R[mix,$v,$P,s]+=" $s"
        R[mix,$v,$P,m]+=" $m"
        R[mix,$v,$P,t]+=" $t"
      done
    done
  done
  stop_server "$SERVER_PID"
fi

if [[ ,$PARTS, == *,mset,* ]]; then
  if [ "$MSET_KEYS" = spread ]; then cmd=$(mset4 s2 s3 s0 s1); else cmd=$(mset4 "" "" "" ""); fi
  for T in $MSET_THREADS; do
    if [ "$T" = 1 ]; then scpu=0 gcpu=1 gt=1; else scpu=0,1 gcpu=0,1 gt=2; fi
    server "$T" "$scpu" "mset-t$T"
    for P in $MSET_PIPELINES; do
      for r in $(seq 1 "$REPS"); do
        load "mset-t$T-P$P-r$r" "$gcpu" "$gt" "$P" --command "$cmd"
        read -r _ m _ _ _ <<<"$LOAD_RESULT"
        R[mset,$T,$P]+=" $m"
      done
    done
    stop_server "$SERVER_PID"
  done
fi

for log in "${SERVER_LOGS[@]}"; do
  if grep -qiE 'error|panic|warn|fatal' "$log"; then
    problem "server log $log mentions errors:"
    grep -iE 'error|panic|warn|fatal' "$log" | head -5 >&2
  fi
done

med() { median $1; } # word-splits the accumulated list
echo
echo "shardis-benchmark: $CONNS connections, ${DURATION}s runs, keys 1..$KEYS (own sequence per"
echo "connection), 32-byte values, median of $REPS runs. 2-core machine: the generator shares it."
if [[ ,$PARTS, == *,mix,* ]]; then
  echo
  echo "1) single-key SET:GET 1:1, shardis --threads 2 (cores 0,1), generator 2 threads on cores 0,1"
  echo "   a: pure   b: +${MSET_PCT}% MSET of $MIX_MSET_KEYS keys on both shards (all cross-shard)   c: +${MSET_PCT}% MSET of $MIX_MSET_KEYS keys on one shard"
  printf '%-4s %11s %11s %6s %9s %11s %6s %9s\n' P a-single b-single b/a b-MSET/s c-single c/a c-MSET/s
  for P in $MIX_PIPELINES; do
    a=$(med "${R[mix,a,$P,s]}"); b=$(med "${R[mix,b,$P,s]}"); c=$(med "${R[mix,c,$P,s]}")
    printf '%-4s %11s %11s %6s %9s %11s %6s %9s\n' "P$P" "$(fmt_rps "$a")" "$(fmt_rps "$b")" "$(ratio "$b" "$a")" \
      "$(fmt_rps "$(med "${R[mix,b,$P,m]}")")" "$(fmt_rps "$c")" "$(ratio "$c" "$a")" "$(fmt_rps "$(med "${R[mix,c,$P,m]}")")"
  done
  echo "   all commands (single-key + MSET) per second:"
  printf '%-4s %11s %11s %6s %11s %6s\n' P a-total b-total b/a c-total c/a
  for P in $MIX_PIPELINES; do
    a=$(med "${R[mix,a,$P,t]}"); b=$(med "${R[mix,b,$P,t]}"); c=$(med "${R[mix,c,$P,t]}")
    printf '%-4s %11s %11s %6s %11s %6s\n' "P$P" "$(fmt_rps "$a")" "$(fmt_rps "$b")" "$(ratio "$b" "$a")" \
      "$(fmt_rps "$c")" "$(ratio "$c" "$a")"
  done
  echo "   (target: b/a >= 0.90; b/c is what the transaction machinery costs)"
fi
if [[ ,$PARTS, == *,mset,* ]]; then
  echo
  echo "2) MSET of 4 keys ($MSET_KEYS keys), MSET/s; t1: server core 0, generator core 1;"
  echo "   t2/t4: server and generator (2 threads) on cores 0,1; t4 = 2 shards per core (oversubscribed)"
  printf '%-8s' threads; for P in $MSET_PIPELINES; do printf ' %10s %7s' "P$P" "vs-t1"; done; echo
  first=${MSET_THREADS%% *}
  for T in $MSET_THREADS; do
    printf '%-8s' "$T"
    for P in $MSET_PIPELINES; do
      v=$(med "${R[mset,$T,$P]}")
      printf ' %10s %7s' "$(fmt_rps "$v")" "$(ratio "$v" "$(med "${R[mset,$first,$P]}")")"
    done
    echo
  done
  echo "   (t1: all keys on one shard, no transaction; t2/t4: every MSET a transaction over 2/4 shards)"
  [ "$MSET_KEYS" = random ] && echo "   (random keys: at t2 1 in 8 MSETs, at t4 1 in 64, happen to be on one shard)"
fi
[ "${NOISY_RUNS:-0}" -gt 0 ] && echo "WARNING: $NOISY_RUNS runs were measured while the machine was busy"
if [ "${#PROBLEMS[@]}" -gt 0 ]; then
  echo "PROBLEMS:"
  printf '  %s\n' "${PROBLEMS[@]}"
fi
echo "(per-run JSON, generator output and server logs: $OUT)"
