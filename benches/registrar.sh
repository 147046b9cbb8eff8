#!/usr/bin/env bash
# Side-by-side registrar efficiency: `gbswarm serve` (one worker) and Kamailio (one UDP worker,
# tlsf allocators, warmed up by one registration pass) absorb the same load from `gbswarm run`
# — DEVICES full registrations with digest auth (REGISTER, 401, REGISTER with Authorization,
# 200) at RATE per second over UDP — and each server's own CPU (user + system of all its
# processes, from /proc) is compared.
#
#   benches/registrar.sh [DEVICES] [RATE]       defaults: 100000 at 20000/s
#
# Then the highest rate each holds: `gbswarm find-max` (one generator worker) raises the rate
# from 5,000/s, doubling, then bisecting to 5%, until p99 passes 10 ms or any registration
# fails. Generator and registrar share this machine's cores, so past some rate the limit is
# the machine's, not the registrar's. SKIP_FINDMAX=1 leaves this out.
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-100000}
rate=${2:-20000}
command -v kamailio >/dev/null || { echo "kamailio not found: apt-get install kamailio" >&2; exit 1; }
cargo build --release --quiet --bin gbswarm
work=$(mktemp -d)
trap 'pkill -f "gbswarm serve --listen 127.0.0.1:15301" || true; pkill -f "kamailio.*127.0.0.1:15302" || true; sleep 1; rm -rf "$work"' EXIT

ticks() { # CPU ticks (10 ms) of the given PIDs
  local t=0 p f
  for p in "$@"; do
    f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || f=0
    t=$((t + ${f:-0}))
  done
  echo "$t"
}
load() { # target, first id
  target/release/gbswarm run --target "$1" --first-id "$2" --cameras "$devices" --rate "$rate" \
    --cores 1 --cameras-per-socket 8 --duration "$(( devices / rate + 1 ))s" --heartbeat 1h \
    --no-unregister --grace 1s 2>/dev/null | awk '$1=="register" && $2=="sent" {print $6}'
}

findmax() { # target -> highest registrations/s held with p99 <= 10 ms and no failures
  if [ -n "${SKIP_FINDMAX:-}" ]; then echo "-"; return; fi
  target/release/gbswarm find-max --target "$1" --start 5000 --step 2s --warmup 1s --cores 1 \
    --cameras-per-socket 8 --heartbeat 1h --no-unregister --max-p99 10ms --max-failures 0 2>/dev/null \
    | sed -n 's/^highest load that held: \([0-9]*\) .*/\1/p' | grep . || echo 0
}

target/release/gbswarm serve --listen 127.0.0.1:15301 --cores 1 --min-expires 1s >/dev/null 2>&1 &
sleep 0.5
pid=$(pgrep -f "^target/release/gbswarm serve --listen 127.0.0.1:15301")
a=$(ticks "$pid"); ok_s=$(load 127.0.0.1:15301 1); b=$(ticks "$pid")
serve_cpu=$(( b - a ))
max_s=$(findmax 127.0.0.1:15301)
kill -INT "$pid"

kamailio -f tests/peers/kamailio.cfg -DD -E -m 1024 -M 64 -x tlsf -X tlsf -P "$work/k.pid" -w "$work" \
  -l udp:127.0.0.1:15302 -l tcp:127.0.0.1:15302 -A "CTL_SOCK=\"unix:$work/ctl.sock\"" >/dev/null 2>&1 &
sleep 2
load 127.0.0.1:15302 5000000 >/dev/null   # warm-up pass
pids=$(pgrep -d ' ' kamailio)
a=$(ticks $pids); ok_k=$(load 127.0.0.1:15302 1); b=$(ticks $pids)
kam_cpu=$(( b - a ))
max_k=$(findmax 127.0.0.1:15302)

echo "| registrar | registrations ok | CPU s | CPU s per 10k | vs gbswarm serve |"
echo "|---|---|---|---|---|"
awk -v d="$devices" -v os="$ok_s" -v cs="$serve_cpu" -v ok="$ok_k" -v ck="$kam_cpu" 'BEGIN{
  ps = os > 0 ? cs / 100 / os * 10000 : 0; pk = ok > 0 ? ck / 100 / ok * 10000 : 0;
  printf "| gbswarm serve (1 worker) | %d | %.2f | %.3f | 1.00 |\n", os, cs / 100, ps;
  printf "| Kamailio 5.6 (1 UDP worker) | %d | %.2f | %.3f | %.2f |\n", ok, ck / 100, pk, (ps > 0 ? pk / ps : 0) }'
echo
echo "| registrar | highest rate held (p99 <= 10 ms, no failures) | vs Kamailio |"
echo "|---|---|---|"
awk -v s="$max_s" -v k="$max_k" 'BEGIN{
  printf "| gbswarm serve (1 worker) | %s/s | %s |\n", s, (k + 0 > 0 ? sprintf("%.2f", s / k) : "-");
  printf "| Kamailio 5.6 (1 UDP worker) | %s/s | 1.00 |\n", k }'
