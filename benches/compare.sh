#!/usr/bin/env bash
# Side by side, gbswarm run and SIPp as registration generators, against the same registrar:
# a fresh `gbswarm serve --cores 1` on loopback for every run. Both register the same device
# IDs with digest auth (REGISTER, 401, REGISTER with Authorization, 200); the CPU each spends
# is the kernel's account of the generator process alone (/usr/bin/time: user + system).
#
#   benches/compare.sh [DEVICES] [RATE ...]      defaults: 20000 devices at 2000 5000 10000/s
#
# 1. Efficiency: DEVICES registrations at each RATE; CPU seconds per 10,000 and the ratio, of
#    the total (user + system) and, beside it, of user space alone (each generator's own code;
#    the system part is mostly the kernel's datagram and wake-up work both pay). The total is
#    exact; the kernel's user/system split is not where it samples at its tick
#    (CONFIG_TICK_CPU_ACCOUNTING): a process whose wake-ups fall on the tick, as gbswarm's 1 ms
#    timers do, is then caught in the kernel. So with perf installed the user share comes from
#    perf's cpu-clock samples of the whole machine at 1999 Hz (no multiple of the tick), those
#    of the generator's process, times the exact total; USER_SPLIT=tick (or no perf) takes the
#    kernel's split.
#    Beside them, the floor: examples/udp_floor exchanging the same four datagrams per
#    registration with an echo peer and doing nothing else, reacting at once as both
#    generators do, and again waking at most once a millisecond. No generator on this
#    machine can spend less than that kernel work.
# 2. Ceiling: rates in CEILING_RATES (env, default "10000 20000 40000 80000"), 3 s of
#    registrations each. A rate is sustained when at most 0.1% fail and the generator keeps
#    the pace: gbswarm's latency is measured from when each registration was due, so falling
#    behind shows in its p99 (must stay under 100 ms); SIPp sends late without saying so, so it
#    must finish within 1.5 s of the schedule's end. The registrar and the generator share
#    this machine's cores, so a ceiling may be the registrar's: the table says which side
#    was busier.
#
# SKIP_EFFICIENCY=1 runs only the ceiling, SKIP_CEILING=1 only the efficiency table. SIPp runs at its best: -buff_size 4194304, one UDP socket; gbswarm with one worker and 8
# cameras per socket. Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-20000}
shift || true
rates=${*:-2000 5000 10000}
ceiling_rates=${CEILING_RATES:-10000 20000 40000 80000}
command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
cargo build --release --quiet --bin gbswarm --example udp_floor
work=$(mktemp -d)
user_split=tick
if [ "${USER_SPLIT:-perf}" = perf ] && command -v perf >/dev/null &&
  perf record -q -e cpu-clock -F 1999 -o "$work/probe.perf" -- true >/dev/null 2>&1; then
  user_split=perf
fi
bin=${CARGO_TARGET_DIR:-target}/release/gbswarm
floor=${CARGO_TARGET_DIR:-target}/release/examples/udp_floor
serve_pid=
echo_pid=
stop_echo() {
  if [ -n "$echo_pid" ]; then
    kill "$echo_pid" 2>/dev/null || true
    wait "$echo_pid" 2>/dev/null || true
    echo_pid=
  fi
}
stop_serve() {
  if [ -n "$serve_pid" ]; then
    # The registrar's own CPU, read before it is stopped.
    awk '{print ($14 + $15) / 100}' "/proc/$serve_pid/stat" >"$work/serve.cpu" 2>/dev/null || echo 0 >"$work/serve.cpu"
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
  fi
}
trap 'if [ -n "${perf_pid:-}" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi; stop_serve; stop_echo; rm -rf "$work"' EXIT

# listening_addr FILE: waits up to 5 s for a "listening on ADDR" line in FILE and prints ADDR.
listening_addr() {
  for _ in $(seq 100); do
    grep -q "listening on" "$1" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$1" | head -1
}

# Starts a fresh registrar (in this shell, so its PID is kept) and sets $addr.
start_serve() {
  "$bin" serve --listen 127.0.0.1:0 --cores 1 2>"$work/serve.err" >/dev/null &
  serve_pid=$!
  addr=$(listening_addr "$work/serve.err")
}

make_csv() { # DEVICES -> devices.csv (SIPp injection file)
  awk -v n="$1" 'BEGIN {
    print "SEQUENTIAL"
    for (i = 1; i <= n; i++) {
      id = sprintf("3402000000132%07d", i)
      printf "%s;[authentication username=%s password=12345678];\n", id, id
    }
  }' >"$work/devices.csv"
}

# sampled CMD...: runs CMD; when the efficiency table asks (sample=1) and perf is there, the
# whole machine's CPU is sampled meanwhile (cpu-clock, 1999 Hz, every CPU) into $work/user.perf.
# Machine-wide sampling costs the same whatever runs; sampling the generator's own task
# instead added a cost to every one of its context switches (gbswarm's CPU at 2,000/s read
# 0.94 s instead of 0.51-0.62).
sample=
perf_pid=
sampled() {
  rm -f "$work/user.perf"
  if [ -n "$sample" ] && [ "$user_split" = perf ]; then
    perf record -q -a -e cpu-clock -F 1999 -o "$work/user.perf" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
    "$@" || true
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
  else
    "$@"
  fi
}
# user_cpu USER SYSTEM CONDITION -> user CPU seconds: the user share of the perf samples that
# match CONDITION (awk, on comm and pid) times USER + SYSTEM when samples were taken, else USER
# (the kernel's split)
user_cpu() {
  if [ -s "$work/user.perf" ]; then
    { perf script -i "$work/user.perf" -F comm,pid,ip 2>/dev/null || true; } |
      awk -v t="$(echo "$1 $2" | awk '{print $1 + $2}')" "{comm = \$1; pid = \$2} $3"' {
          if (length($3) == 16 && substr($3, 1, 4) == "ffff") k++; else u++ }
        END {printf "%.3f\n", (k + u > 0 ? t * u / (k + u) : 0)}'
  else
    echo "$1"
  fi
}

# run_gbswarm RATE DEVICES -> "ok cpu p99_ms wall serve_cpu user_cpu"
run_gbswarm() {
  local rate=$1 n=$2 secs cps spid
  start_serve
  spid=$serve_pid
  secs=$(( (n + rate - 1) / rate + 1 ))
  # 8 cameras per socket, more for fleets that would pass 10,000 descriptors.
  cps=$(( n / 10000 > 8 ? n / 10000 : 8 ))
  local t0 t1
  t0=$(date +%s.%N)
  sampled /usr/bin/time -f "%U %S" -o "$work/g.time" "$bin" run --target "$addr" \
    --cameras "$n" --rate "$rate" --cores 1 --cameras-per-socket "$cps" --duration "${secs}s" \
    --heartbeat 1h --no-unregister --grace 2s --json "$work/g.json" >/dev/null 2>&1 || true
  t1=$(date +%s.%N)
  stop_serve
  python3 - "$work/g.json" "$work/g.time" "$t0" "$t1" "$work/serve.cpu" "$(user_cpu $(tail -1 "$work/g.time") "comm ~ /^gbswarm/ && pid != $spid")" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["kinds"]["register"]
u, s = map(float, open(sys.argv[2]).read().splitlines()[-1].split()[:2])
print(r["ok"], f"{u + s:.2f}", r["latency_us"]["p99"] / 1000, f"{float(sys.argv[4]) - float(sys.argv[3]):.2f}",
      open(sys.argv[5]).read().strip(), sys.argv[6])
EOF
}

# run_sipp RATE DEVICES -> "ok cpu wall serve_cpu user_cpu"
run_sipp() {
  local rate=$1 n=$2 port secs
  start_serve
  port=$(( 20000 + RANDOM % 10000 ))
  secs=$(( n / rate + 30 ))
  rm -f "$work/s.csv"
  local t0 t1
  t0=$(date +%s.%N)
  ( cd "$work" && sampled /usr/bin/time -f "%U %S" -o "$work/s.time" sipp "$addr" -sf "$OLDPWD/benches/sipp/uac-register.xml" \
      -inf "$work/devices.csv" -auth_uri 34020000002000000001@3402000000 -i 127.0.0.1 -p "$port" \
      -r "$rate" -rp 1000 -m "$n" -buff_size 4194304 -nostdin -timeout "${secs}s" \
      -trace_stat -stf "$work/s.csv" >/dev/null 2>&1 || true )
  t1=$(date +%s.%N)
  stop_serve
  local ok
  ok=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print (c ? $c : 0) + 0}' "$work/s.csv" 2>/dev/null || echo 0)
  tail -1 "$work/s.time" | awk -v ok="$ok" -v t0="$t0" -v t1="$t1" -v sc="$(cat "$work/serve.cpu")" \
    -v uc="$(user_cpu $(tail -1 "$work/s.time") 'comm == "sipp"')" '{printf "%d %.2f %.2f %s %s\n", ok, $1 + $2, t1 - t0, sc, uc}'
}

# run_floor RATE DEVICES TICK_US -> "ok cpu" (the echo peer must be running at $echo_addr)
run_floor() {
  local ok
  ok=$(/usr/bin/time -f "%U %S" -o "$work/f.time" "$floor" client "$echo_addr" "$2" "$1" "$3" || echo 0)
  tail -1 "$work/f.time" | awk -v ok="$ok" '{printf "%d %.2f\n", ok, $1 + $2}'
}

if [ -z "${SKIP_EFFICIENCY:-}" ]; then
"$floor" echo 127.0.0.1:0 2>"$work/echo.err" &
echo_pid=$!
echo_addr=$(listening_addr "$work/echo.err")
echo "### Generator efficiency ($devices registrations with digest auth, $(date -u +%F), nproc $(nproc))"
echo
if [ "$user_split" = perf ]; then
  echo "User CPU: the user share of the generator's perf cpu-clock samples (1999 Hz, every CPU) times its exact total."
else
  echo "User CPU: the kernel's split (/usr/bin/time %U)."
fi
echo
sample=1
echo "| rate/s | gbswarm ok | gbswarm CPU s | gbswarm CPU s / 10k | SIPp ok | SIPp CPU s | SIPp CPU s / 10k | gbswarm / SIPp | gbswarm user s / 10k | SIPp user s / 10k | user: gbswarm / SIPp | floor CPU s / 10k | floor / SIPp | 1 ms-tick floor CPU s / 10k | tick floor / SIPp |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
make_csv "$devices"
for rate in $rates; do
  read -r g_ok g_cpu _ _ _ g_user < <(run_gbswarm "$rate" "$devices")
  read -r s_ok s_cpu _ _ s_user < <(run_sipp "$rate" "$devices")
  read -r f_ok f_cpu < <(run_floor "$rate" "$devices" 0)
  read -r t_ok t_cpu < <(run_floor "$rate" "$devices" 1000)
  awk -v r="$rate" -v go="$g_ok" -v gc="$g_cpu" -v so="$s_ok" -v sc="$s_cpu" -v gu="$g_user" -v su="$s_user" \
      -v fo="$f_ok" -v fc="$f_cpu" -v to="$t_ok" -v tc="$t_cpu" 'BEGIN{
    gp = go > 0 ? gc / go * 10000 : 0; sp = so > 0 ? sc / so * 10000 : 0;
    gup = go > 0 ? gu / go * 10000 : 0; sup = so > 0 ? su / so * 10000 : 0;
    fp = fo > 0 ? fc / fo * 10000 : 0; tp = to > 0 ? tc / to * 10000 : 0;
    printf "| %d | %d | %.2f | %.3f | %d | %.2f | %.3f | %.2f | %.3f | %.3f | %.2f | %.3f | %.2f | %.3f | %.2f |\n",
      r, go, gc, gp, so, sc, sp, (sp > 0 ? gp / sp : 0), gup, sup, (sup > 0 ? gup / sup : 0),
      fp, (sp > 0 ? fp / sp : 0), tp, (sp > 0 ? tp / sp : 0) }'
done
stop_echo
sample=
echo
fi

if [ -z "${SKIP_CEILING:-}" ]; then
echo "### Generator ceiling (3 s of registrations per rate; registrar: gbswarm serve, 1 core)"
echo
echo "| rate/s | gbswarm ok / offered | gbswarm p99 ms | gbswarm CPU s | serve CPU s | held | SIPp ok / offered | SIPp wall s | SIPp CPU s | serve CPU s | held |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
g_best=0
s_best=0
for rate in $ceiling_rates; do
  n=$(( rate * 3 ))
  make_csv "$n"
  read -r g_ok g_cpu g_p99 _ g_srv _ < <(run_gbswarm "$rate" "$n")
  read -r s_ok s_cpu s_wall s_srv _ < <(run_sipp "$rate" "$n")
  g_held=$(awk -v ok="$g_ok" -v n="$n" -v p="$g_p99" 'BEGIN{print (ok * 1000 >= n * 999 && p < 100) ? "yes" : "no"}')
  s_held=$(awk -v ok="$s_ok" -v n="$n" -v w="$s_wall" 'BEGIN{print (ok * 1000 >= n * 999 && w <= 3 + 1.5) ? "yes" : "no"}')
  [ "$g_held" = yes ] && g_best=$rate
  [ "$s_held" = yes ] && s_best=$rate
  echo "| $rate | $g_ok / $n | $g_p99 | $g_cpu | $g_srv | $g_held | $s_ok / $n | $s_wall | $s_cpu | $s_srv | $s_held |"
done
echo
echo "Highest sustained: gbswarm $g_best/s, SIPp $s_best/s."
fi
