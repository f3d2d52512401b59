#!/usr/bin/env bash
# "Know the floor": how fast can anything answer PING on one core of this machine?
#
# Builds the floor examples (release), then for each server: start it pinned to
# SERVER_CORE, run `redis-benchmark -t ping_mbulk` pinned to CLIENT_CORE with -P 1 and
# -P 16 (REPS repetitions each, median rps), stop it. Prints rps and the ratio to redis.
#
# usage: bench/floor.sh [VARIANT...]
#   VARIANT = redis | floor_epoll | floor_glommio_naive | floor_glommio_epoll
#           | LABEL=EXAMPLE [ARGS...]    e.g. 'ge_spin50=floor_glommio_epoll --spin-us 50'
#   default: redis floor_epoll floor_glommio_naive floor_glommio_epoll
# env: N=500000 C=50 REPS=3 PIPELINES="1 16" SERVER_CORE=0 CLIENT_CORE=1 SKIP_BUILD=
#      QUIET_PCT=15 QUIET_WAIT=120: before each run wait until the machine is idle
#      (this box is shared: a concurrent cargo build halves the numbers); 0 disables
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-500000}
C=${C:-50}
REPS=${REPS:-3}
PIPELINES=${PIPELINES:-"1 16"}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
OUT=${OUT:-$(mktemp -d /tmp/floor.XXXXXX)}
mkdir -p "$OUT"

need redis-server redis-benchmark redis-cli taskset ss cargo
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

if [ $# -eq 0 ]; then
  set -- redis floor_epoll floor_glommio_naive floor_glommio_epoll
fi

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building floor examples (release)..." >&2
  cargo build --release --quiet --example floor_epoll --example floor_glommio_naive \
    --example floor_glommio_epoll >&2 || die "cargo build failed"
fi

# server_cmd VARIANT PORT -> fills CMD array and LABEL
server_cmd() {
  local v=$1 port=$2 ex args
  if [ "$v" = redis ]; then
    LABEL=redis-server
    CMD=(redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no
         --daemonize no --protected-mode no --logfile '')
    return
  fi
  if [[ $v == *=* ]]; then
    LABEL=${v%%=*}
    read -r ex args <<<"${v#*=}"
  else
    LABEL=$v ex=$v args=
  fi
  [ -x "target/release/examples/$ex" ] || die "target/release/examples/$ex missing (build failed?)"
  # shellcheck disable=SC2206
  CMD=("target/release/examples/$ex" --port "$port" --core "$SERVER_CORE" $args)
}

warn_if_busy

declare -A RES CPU
LABELS=()
for v in "$@"; do
  port=$(free_port)
  server_cmd "$v" "$port"
  LABELS+=("$LABEL")
  log="$OUT/$LABEL.server.log"
  echo "== $LABEL: ${CMD[*]} (core $SERVER_CORE)" >&2
  start_server "$port" "$log" taskset -c "$SERVER_CORE" "${CMD[@]}" || die "$LABEL did not start"
  for P in $PIPELINES; do
    vals=() cpus=()
    for r in $(seq 1 "$REPS"); do
      wait_quiet
      k0=$(proc_ticks "$SERVER_PID"); t0=$(now_s)
      out=$(timeout 300 taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -t ping_mbulk \
              -c "$C" -n "$N" -q -P "$P" 2>&1 | rps_of | awk '{print $2}') || true
      k1=$(proc_ticks "$SERVER_PID"); t1=$(now_s)
      cpu=$(cpu_pct "$k0" "$k1" "$t0" "$t1")
      echo "   P$P run $r: ${out:-FAIL} rps, server cpu ${cpu}%" >&2
      if [ -n "$out" ]; then vals+=("$out"); cpus+=("$cpu"); fi
      echo "$LABEL P$P $r ${out:-FAIL} cpu=$cpu" >>"$OUT/runs.txt"
    done
    RES["$LABEL,$P"]=$(median "${vals[@]}")
    CPU["$LABEL,$P"]=$(median "${cpus[@]}")
  done
  stop_server "$SERVER_PID"
done

echo
echo "ping_mbulk, -c $C -n $N, median of $REPS; server on core $SERVER_CORE, redis-benchmark on core $CLIENT_CORE"
printf '%-24s' server
for P in $PIPELINES; do printf '%12s %9s %8s' "P$P rps" "vs redis" "srv cpu"; done
echo
for L in "${LABELS[@]}"; do
  printf '%-24s' "$L"
  for P in $PIPELINES; do
    printf '%12s %9s %7s%%' "$(fmt_rps "${RES[$L,$P]}")" "$(ratio "${RES[$L,$P]}" "${RES[redis-server,$P]:-}")" \
      "${CPU[$L,$P]}"
  done
  echo
done
echo "srv cpu = server process CPU (% of one core) during the run; busy-polling servers"
echo "(floor_glommio_epoll) show ~100% whenever they are loaded, by design."
[ "${NOISY_RUNS:-0}" -gt 0 ] && echo "WARNING: $NOISY_RUNS runs were measured while the machine was busy"
echo "(per-run numbers and server logs: $OUT)"
