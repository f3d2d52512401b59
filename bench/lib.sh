# Shared helpers for bench/*.sh (sourced, not executed).
# Every process started through start_server is killed by cleanup (trap set by the caller).

BENCH_PIDS=()

die() { echo "error: $*" >&2; exit 1; }

need() {
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found (apt-get install -y redis-server redis-tools util-linux iproute2)"
  done
}

cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  BENCH_PIDS=()
}

# A TCP port with no socket of any kind bound to it (io_uring servers can keep their
# listener alive for a moment after exit, so ports are never reused within a run).
BENCH_LAST_PORT=$(( 20000 + RANDOM % 20000 ))
free_port() {
  local p=$BENCH_LAST_PORT
  while :; do
    p=$(( p + 1 ))
    [ "$p" -gt 60000 ] && p=20001
    if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
      BENCH_LAST_PORT=$p
      echo "$p"
      return
    fi
  done
}

# start_server PORT LOGFILE CMD...   (CMD already includes taskset); sets SERVER_PID
start_server() {
  local port=$1 log=$2; shift 2
  "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  wait_ready "$port" "$SERVER_PID" "$log"
}

# Poll with redis-cli ping until the server answers (READY_TRIES x 50 ms, default 10 s).
wait_ready() {
  local port=$1 pid=$2 log=$3 i
  for i in $(seq 1 "${READY_TRIES:-200}"); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server exited early; log $log:" >&2
      tail -20 "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "server on port $port not ready in time; log $log:" >&2
  tail -20 "$log" >&2
  return 1
}

stop_server() {
  local pid=$1 p
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${BENCH_PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# rps_of: reads `redis-benchmark -q` output on stdin, prints "TEST rps" lines
rps_of() {
  tr '\r' '\n' | awk -F': ' '/requests per second/ { split($2, a, " "); print $1, a[1] }'
}

median() { # numbers as arguments; prints the median (or FAIL)
  local n=$# sorted
  [ "$n" -eq 0 ] && { echo FAIL; return; }
  sorted=$(printf '%s\n' "$@" | sort -g)
  echo "$sorted" | awk -v n="$n" 'NR == int((n + 1) / 2) { print; exit }'
}

ratio() { # a b -> a/b with 2 decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}

fmt_rps() { awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.0f", a; else printf "%s", a }'; }

# Percentage of total CPU busy over 1 s (iowait counts as idle: io_uring sleepers show up as iowait) (other load on this shared 2-core box skews results).
cpu_busy_pct() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  echo "$a $b" | awk '{ busy = $3 - $1; idle = $4 - $2; if (busy + idle > 0) printf "%.0f", 100 * busy / (busy + idle); else print 0 }'
}

warn_if_busy() {
  local pct
  pct=$(cpu_busy_pct)
  echo "machine load before run: ${pct}% of all cores busy" >&2
  if [ "$pct" -gt 10 ]; then
    echo "WARNING: other processes are using CPU; results will be noisy. Top consumers:" >&2
    ps -eo pid,pcpu,comm --sort=-pcpu | sed -n '2,6p' >&2
  fi
}

# Before each measurement: wait (up to QUIET_WAIT s, default 120) until the whole machine is
# at most QUIET_PCT % busy (default 15) over a 1 s sample. QUIET_WAIT=0 disables.
wait_quiet() {
  local max=${QUIET_WAIT:-120} lim=${QUIET_PCT:-15} t=0 pct
  [ "$max" -le 0 ] && return 0
  while :; do
    pct=$(cpu_busy_pct)
    [ "$pct" -le "$lim" ] && return 0
    t=$(( t + 1 ))
    if [ "$t" -ge "$max" ]; then
      echo "   (machine still ${pct}% busy after ${max}s; measuring anyway, expect noise)" >&2
      NOISY_RUNS=$(( ${NOISY_RUNS:-0} + 1 ))
      return 0
    fi
  done
}

# CPU time (user+sys, all threads) of a process in clock ticks.
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
now_s() { date +%s.%N; }
# cpu_pct TICKS0 TICKS1 T0 T1 -> percent of one core used by the process over the interval
cpu_pct() {
  awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (t1 > t0) printf "%.0f", 100 * (b - a) / hz / (t1 - t0); else print "-" }'
}
