#!/usr/bin/env bash
# Side-by-side registrar efficiency: `gbswarm serve` and Kamailio, one worker each, absorb the
# same authenticated registrations over UDP (REGISTER, 401 with qop=auth, REGISTER with
# Authorization, 200) from two load generators in turn, and each server's own CPU per
# registration (user and system time of all its processes, /proc/PID/stat) is compared.
#
#   benches/registrar.sh [DEVICES] [RATE]       defaults: 100000 at 20000/s
#
# Loads, both in every run:
#   gbswarm run: DEVICES registrations at RATE/s (one worker, 8 cameras per socket);
#   SIPp:        SIPP_DEVICES at SIPP_RATE/s (defaults: DEVICES and RATE), benches/sipp/uac-register.xml,
#                -buff_size 4194304 (its default socket buffers drop answers at these rates),
#                one UDP socket.
# Each (load, server) pair gets a fresh server, warmed up the same way: a pass of as many other
# devices from the same generator at the same rate, not measured; then the measured pass.
# RUNS rounds (default 3), the order of the two servers alternating; every run is printed, then
# the median and range of each figure and of the per-run ratio Kamailio / gbswarm serve. Each
# row also gives the generator's CPU and the CPU every other process on the machine (outside
# this script's session) took during the measured pass: a figure taken while something else
# ran is suspect; run on a quiet machine.
#
# Each peer is configured as its own documentation says for this load:
#   Kamailio (tests/peers/kamailio.cfg, the interop tests' registrar, and on the command line):
#     usrloc hash_size: 2^hash_size slots >= every contact held (warm-up + measured pass), from
#       -A UL_HASH_SIZE (usrloc README: default 10 = 1,024 slots); UL_HASH_SIZE=N overrides;
#     -x tlsf -X tlsf (shared and private memory managers), -m 1024 -M 64 (MB of shared and
#       per-process private memory; the shared memory used is printed at the end of each pass);
#     -b 4194304: the UDP receive buffer probed up to 4 MB (its default stops at 256 KB), as
#       gbswarm serve's 4 MB; net.core.rmem_max must allow it (the buffer each server got, from
#       `ss`, is printed);
#     -n 1: one UDP worker (children; Kamailio's default is 8), against `gbswarm serve --cores 1`:
#       CPU per registration of one worker each.
#   gbswarm serve: --cores 1, defaults otherwise (MD5 with qop=auth, 4 MB socket buffers).
# User and system: the total CPU is exact, but the kernel's user/system split is sampled at its
# tick (CONFIG_TICK_CPU_ACCOUNTING) and scatters from run to run. With perf installed, the
# split comes from perf's cpu-clock samples of the server's processes during the measured pass
# at 1999 Hz (no multiple of the tick), applied to the exact total; the kernel's user share is
# printed beside it. USER_SPLIT=tick (or no perf) takes the kernel's split.
# Placement: every server process runs on CPU SERVER_CPU (default 1) and every generator on
# GEN_CPU (default 0), with taskset, so both servers meet both loads across the same two cores
# (gbswarm run pins its worker to the first CPU it may use and gbswarm serve to the last, while
# Kamailio floats: the script pins all the same way). NO_PIN=1 leaves placement to the
# scheduler.
#
# Then the highest rate each holds: `gbswarm find-max` (one generator worker) raises the rate
# from 5,000/s, doubling, then bisecting to 5%, until p99 passes 10 ms or any registration
# fails, against a fresh server warmed up by one pass of DEVICES. Generator and registrar share
# this machine's cores, so past some rate the limit is the machine's, not the registrar's.
# SKIP_FINDMAX=1 leaves this out; SKIP_SIPP=1 leaves out the SIPp load.
#
# Every process this script starts is stopped by its PID. Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-100000}
rate=${2:-20000}
sipp_devices=${SIPP_DEVICES:-$devices}
sipp_rate=${SIPP_RATE:-$rate}
runs=${RUNS:-3}
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
command -v kamailio >/dev/null || { echo "kamailio not found: apt-get install kamailio" >&2; exit 1; }
if [ -z "${SKIP_SIPP:-}" ]; then
  command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
fi
# The build benches/compare.sh makes, so both benches run one binary.
cargo build --release --quiet --bin gbswarm --example udp_floor
bin=${CARGO_TARGET_DIR:-target}/release/gbswarm

# usrloc slots: the smallest power of two holding every contact of the larger load.
most=$(( 2 * (devices > sipp_devices ? devices : sipp_devices) ))
hash_size=${UL_HASH_SIZE:-$(awk -v n="$most" 'BEGIN{h = 10; while (2 ^ h < n) h++; print h}')}
on_server=()
on_gen=()
if [ -z "${NO_PIN:-}" ]; then
  on_server=(taskset -c "${SERVER_CPU:-1}")
  on_gen=(taskset -c "${GEN_CPU:-0}")
fi
kam_opts=(-n 1 -m 1024 -M 64 -x tlsf -X tlsf -b 4194304 -A "UL_HASH_SIZE=$hash_size")

work=$(mktemp -d)
user_split=tick
if [ "${USER_SPLIT:-perf}" = perf ] && command -v perf >/dev/null &&
  perf record -q -e cpu-clock -F 1999 -o "$work/probe.perf" -- true >/dev/null 2>&1; then
  user_split=perf
fi
perf_pid=
server_pid=
server_pids=
kam_main=
# alive PID...: whether any of them is still running (a zombie is not)
alive() {
  local p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" != Z ] && return 0
  done
  return 1
}
stop_server() {
  local pids p
  [ -n "$server_pid" ] || return 0
  pids="$server_pids"
  if [ -n "$kam_main" ]; then kill -TERM "$kam_main" 2>/dev/null || true; else kill -INT "$server_pid" 2>/dev/null || true; fi
  for _ in $(seq 50); do alive $pids || break; sleep 0.1; done
  for p in $pids; do if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  kam_main=
}
trap 'perf_stop; stop_server; rm -rf "$work"' EXIT

# perf_start: samples every CPU (cpu-clock, 1999 Hz) until perf_stop, which sets $share to the
# user share of the server processes' samples ("-" without perf). Sampling only the server's
# tasks (perf -p) would add a cost to each of their context switches, and the two servers
# switch at different rates; machine-wide sampling costs every process the same.
perf_start() {
  rm -f "$work/srv.perf"
  [ "$user_split" = perf ] || return 0
  perf record -q -a -e cpu-clock -F 1999 -o "$work/srv.perf" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 1
}
perf_stop() {
  share=-
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
  fi
  if [ -s "$work/srv.perf" ]; then
    share=$({ perf script -i "$work/srv.perf" -F pid,ip 2>/dev/null || true; } |
      awk -v pids=" $server_pids " 'index(pids, " " $1 " ") {if (length($2) == 16 && substr($2, 1, 4) == "ffff") k++; else u++}
        END {if (k + u) printf "%.4f\n", u / (k + u); else print "-"}')
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu PID... -> "user_ticks system_ticks" (10 ms ticks) of the given processes
cpu() {
  local p
  for p in "$@"; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
    awk '{u += $12; s += $13} END {printf "%d %d\n", u, s}'
}

# rcvbuf PORT -> the receive buffer the kernel gave the UDP socket bound to PORT (ss: rb)
rcvbuf() {
  { ss -uampn "sport = :$1" 2>/dev/null || true; } | sed -n 's/.*rb\([0-9]*\).*/\1/p;T;q'
}

# Starts a server; sets $addr, $server_pid and $server_pids (the processes to account).
start_serve() {
  "${on_server[@]}" "$bin" serve --listen 127.0.0.1:0 --cores 1 2>"$work/serve.err" >/dev/null &
  server_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/serve.err" 2>/dev/null && break; sleep 0.05; done
  addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/serve.err" | head -1)
  server_pids=$server_pid
}
start_kamailio() {
  local port
  port=$(free_port)
  rm -f "$work/k.pid"
  "${on_server[@]}" kamailio -f tests/peers/kamailio.cfg -DD -E "${kam_opts[@]}" -P "$work/k.pid" -w "$work" \
    -l "udp:127.0.0.1:$port" -A "CTL_SOCK=\"unix:$work/ctl.sock\"" >"$work/kamailio.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/k.pid" ] && [ -n "$(rcvbuf "$port")" ] && break; sleep 0.05; done
  sleep 0.5 # the workers' start
  kam_main=$(cat "$work/k.pid")
  server_pids="$kam_main $(pgrep -P "$kam_main" | tr '\n' ' ' || true)"
  addr=127.0.0.1:$port
}
kam_shm_mb() {
  if command -v kamcmd >/dev/null; then
    { kamcmd -s "unix:$work/ctl.sock" core.shmmem 2>/dev/null || true; } | awk '$1 == "real_used:" {printf "%.0f", $2 / 1048576}'
  fi
}

# others FILE: "pid ticks" of every user process outside this script's session and its
# servers (ticks: its own CPU and its reaped children's). others_since FILE: the ticks they took
# since (processes started since count whole, processes gone since not at all). What other work
# took from the machine during a pass: a figure taken while something else ran is suspect.
my_sid=$(ps -o sid= -p $$ | tr -d ' ')
others() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v sid="$my_sid" -v skip=" $server_pids " '{
    match($0, /.*\) /); split(substr($0, RLENGTH + 1), f, " ")
    if (f[4] != 0 && f[4] != sid && index(skip, " " $1 " ") == 0) print $1, f[12] + f[13] + f[14] + f[15]
  }' >"$1"
}
others_since() {
  others "$1.now"
  awk 'NR == FNR {t0[$1] = $2; next} {s += $2 - (($1 in t0) && t0[$1] <= $2 ? t0[$1] : 0)} END {print s + 0}' "$1" "$1.now"
}
# wait_quiet: waits until other processes take under 0.05 s of CPU in 2 s (at most QUIET_WAIT
# seconds, default 900; QUIET_WAIT=0 does not wait).
wait_quiet() {
  local i
  for i in $(seq $((${QUIET_WAIT:-900} / 2))); do
    others "$work/q"
    sleep 2
    [ "$(others_since "$work/q")" -lt 5 ] && return 0
    [ "$i" -eq 1 ] && echo "waiting for the machine to be quiet" >&2
  done
  [ "${QUIET_WAIT:-900}" -eq 0 ] || echo "the machine did not get quiet; measuring anyway" >&2
}

# gbswarm_pass TARGET FIRST_ID N RATE -> "ok generator_cpu_s"
gbswarm_pass() {
  "${on_gen[@]}" "$bin" run --target "$1" --first-id "$2" --cameras "$3" --rate "$4" --cores 1 \
    --cameras-per-socket 8 --duration "$(($3 / $4 + 1))s" --heartbeat 1h --no-unregister \
    --grace 2s --json "$work/g.json" >/dev/null 2>&1 || true
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["kinds"]["register"]["ok"], r["info"]["cpu_s"])' \
    "$work/g.json" 2>/dev/null || echo 0 0
}

# make_csv FILE FIRST N: a SIPp injection file of N device IDs from FIRST
make_csv() {
  awk -v first="$2" -v n="$3" 'BEGIN {
    print "SEQUENTIAL"
    for (i = first; i < first + n; i++) {
      id = sprintf("3402000000132%07d", i)
      printf "%s;[authentication username=%s password=12345678];\n", id, id
    }
  }' >"$1"
}

# sipp_pass TARGET CSV N RATE -> "ok generator_cpu_s"
sipp_pass() {
  local port
  port=$(free_port)
  rm -f "$work/s.csv"
  (cd "$work" && /usr/bin/time -f "%U %S" -o "$work/s.time" "${on_gen[@]}" sipp "$1" -sf "$OLDPWD/benches/sipp/uac-register.xml" -inf "$2" \
    -auth_uri 34020000002000000001@3402000000 -i 127.0.0.1 -p "$port" -r "$4" -rp 1000 -m "$3" \
    -buff_size 4194304 -nostdin -timeout "$(($3 / $4 + 30))s" -trace_stat -stf "$work/s.csv" \
    >/dev/null 2>&1 || true)
  local ok
  ok=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print (c ? $c : 0) + 0}' "$work/s.csv" 2>/dev/null || echo 0)
  tail -1 "$work/s.time" 2>/dev/null | awk -v ok="$ok" '{print ok, $1 + $2; done = 1} END {if (!done) print ok, 0}'
}

# measure RUN LOAD SERVER: a fresh server, a warm-up pass, the measured pass; one line to results
measure() {
  local run=$1 load=$2 server=$3 n r res before after t0 t1 busy buf share shm=-
  "start_$server"
  buf=$(rcvbuf "${addr##*:}")
  if [ "$load" = gbswarm ]; then
    n=$devices r=$rate
    gbswarm_pass "$addr" 5000001 "$n" "$r" >/dev/null
    perf_start
    before=$(cpu $server_pids); others "$work/o"; t0=$(date +%s.%N)
    res=$(gbswarm_pass "$addr" 1 "$n" "$r")
  else
    n=$sipp_devices r=$sipp_rate
    sipp_pass "$addr" "$work/warm.csv" "$n" "$r" >/dev/null
    perf_start
    before=$(cpu $server_pids); others "$work/o"; t0=$(date +%s.%N)
    res=$(sipp_pass "$addr" "$work/measured.csv" "$n" "$r")
  fi
  t1=$(date +%s.%N); busy=$(others_since "$work/o"); after=$(cpu $server_pids)
  perf_stop
  if [ "$server" = kamailio ]; then shm=$(kam_shm_mb); fi
  stop_server
  echo "$run $load $server $n $res $before $after $t0 $t1 $busy ${buf:-0} ${shm:--} $share" >>"$work/results"
}

findmax() { # server -> highest registrations/s held with p99 <= 10 ms and no failures
  local out
  wait_quiet
  "start_$1"
  gbswarm_pass "$addr" 5000001 "$devices" "$rate" >/dev/null
  out=$("${on_gen[@]}" "$bin" find-max --target "$addr" --start 5000 --step 2s --warmup 1s --cores 1 \
    --cameras-per-socket 8 --heartbeat 1h --no-unregister --max-p99 10ms --max-failures 0 2>/dev/null |
    sed -n 's/^highest load that held: \([0-9]*\) .*/\1/p' | grep . || echo 0)
  stop_server
  echo "$out"
}

echo "### Registrar CPU per registration, $(date -u +%F), nproc $(nproc), $runs runs"
echo
echo "- $("$bin" --version 2>/dev/null | head -1), commit $(git rev-parse --short HEAD 2>/dev/null || echo -); $(kamailio -v 2>/dev/null | head -1)$([ -z "${SKIP_SIPP:-}" ] && echo "; SIPp $(sipp -v 2>&1 | sed -n 's/.*SIPp \(v[0-9.]*\).*/\1/p' | head -1)")"
echo "- gbswarm serve: \`gbswarm serve --listen 127.0.0.1:PORT --cores 1\`"
echo "- Kamailio: \`kamailio -f tests/peers/kamailio.cfg -DD -E ${kam_opts[*]} -l udp:127.0.0.1:PORT\` (usrloc hash_size $hash_size = $((1 << hash_size)) slots for up to $most contacts)"
echo "- load gbswarm run: \`gbswarm run --target ADDR --cameras $devices --rate $rate --cores 1 --cameras-per-socket 8 --heartbeat 1h --no-unregister\` after a warm-up pass of $devices other devices"
[ -z "${SKIP_SIPP:-}" ] && echo "- load SIPp: \`sipp ADDR -sf benches/sipp/uac-register.xml -inf DEVICES.csv -r $sipp_rate -rp 1000 -m $sipp_devices -buff_size 4194304\` (one UDP socket) after a warm-up pass of $sipp_devices other devices"
[ -n "${NO_PIN:-}" ] || echo "- placement: servers on CPU ${SERVER_CPU:-1}, generators on CPU ${GEN_CPU:-0} (\`taskset -c\`)"
if [ "$user_split" = perf ]; then
  echo "- user and system: the exact total split by the user share of perf's cpu-clock samples (1999 Hz) of the server during the pass"
else
  echo "- user and system: the kernel's split (tick-sampled)"
fi
echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

if [ -z "${SKIP_SIPP:-}" ]; then
  make_csv "$work/warm.csv" 5000001 "$sipp_devices"
  make_csv "$work/measured.csv" 1 "$sipp_devices"
fi
loads="gbswarm"
[ -z "${SKIP_SIPP:-}" ] && loads="gbswarm sipp"
: >"$work/results"
for run in $(seq "$runs"); do
  order="serve kamailio"
  [ $((run % 2)) -eq 0 ] && order="kamailio serve"
  for load in $loads; do
    for server in $order; do
      # Measured again (twice at most) when other processes took more than 0.1 s during the pass.
      for attempt in 1 2 3; do
        wait_quiet
        measure "$run" "$load" "$server"
        busy=$(tail -1 "$work/results" | awk '{print $(NF - 3)}')
        [ "$busy" -le 10 ] || [ "$attempt" -eq 3 ] && break
        echo "run $run, $load load on $server: other processes took $busy ticks during the pass; again" >&2
        sed -i '$d' "$work/results"
      done
    done
  done
done

python3 - "$work/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
name = {"serve": "gbswarm serve (1 worker)", "kamailio": "Kamailio (1 UDP worker)"}
loadname = {"gbswarm": "gbswarm run", "sipp": "SIPp"}
per = {}
print("| run | load | registrar | ok / offered | wall s | CPU s | user s | system s | µs / registration | user µs | system µs | user share: perf / kernel | generator CPU s | other processes' CPU s | receive buffer (SO_RCVBUF) | Kamailio shm used MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for run, load, server, n, ok, gen, u0, s0, u1, s1, t0, t1, busy, buf, shm, share in rows:
    ok, n = int(ok), int(n)
    u, s = (int(u1) - int(u0)) / 100, (int(s1) - int(s0)) / 100
    kshare = f"{u / (u + s):.2f}" if u + s else "-"
    if share != "-":
        u, s = (u + s) * float(share), (u + s) * (1 - float(share))
        share = f"{float(share):.2f}"
    us = lambda x: x / ok * 1e6 if ok else float("nan")
    per[(run, load, server)] = (us(u + s), us(u), us(s))
    print(f"| {run} | {loadname[load]} | {name[server]} | {ok} / {n} | {float(t1) - float(t0):.1f} | {u + s:.2f} | {u:.2f} | {s:.2f} "
          f"| {us(u + s):.1f} | {us(u):.1f} | {us(s):.1f} | {share} / {kshare} | {float(gen):.2f} | {int(busy) / 100:.2f} "
          f"| {int(buf) // 2 // 1024} KiB | {shm} |")
print()
def spread(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"
def rspread(xs):
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"
print("Median over the runs (range):")
print()
print("| load | registrar | µs / registration | user µs | system µs | Kamailio / gbswarm serve: total | user | system |")
print("|---|---|---|---|---|---|---|---|")
runs = sorted({r[0] for r in rows}, key=int)
for load in dict.fromkeys(r[1] for r in rows):
    div = lambda a, b: a / b if b else float("nan")
    ratios = [[div(per[(r, load, "kamailio")][i], per[(r, load, "serve")][i]) for r in runs] for i in range(3)]
    for server in ("serve", "kamailio"):
        v = [per[(r, load, server)] for r in runs]
        cols = " | ".join(spread([x[i] for x in v]) for i in range(3))
        rat = " | ".join(rspread(x) for x in ratios) if server == "kamailio" else "1.00 | 1.00 | 1.00"
        print(f"| {loadname[load]} | {name[server]} | {cols} | {rat} |")
EOF

if [ -z "${SKIP_FINDMAX:-}" ]; then
  max_s=$(findmax serve)
  max_k=$(findmax kamailio)
  echo
  echo "| registrar | highest rate held (p99 <= 10 ms, no failures) | vs Kamailio |"
  echo "|---|---|---|"
  awk -v s="$max_s" -v k="$max_k" 'BEGIN{
    printf "| gbswarm serve (1 worker) | %s/s | %s |\n", s, (k + 0 > 0 ? sprintf("%.2f", s / k) : "-");
    printf "| Kamailio (1 UDP worker) | %s/s | 1.00 |\n", k }'
fi
