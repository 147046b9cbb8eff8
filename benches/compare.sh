#!/usr/bin/env bash
# Side-by-side generator efficiency: gbswarm run and SIPp register the same device IDs with
# digest auth at the same offered rate against the same loopback registrar (the scripted
# responder, `cargo run --release --example responder`), and the CPU each spends is read
# from the kernel (/usr/bin/time's user + system of the generator process only).
#
#   benches/compare.sh [DEVICES] [RATE ...]      defaults: 20000 devices at 2000 5000 10000/s
#
# SIPp runs at its best: -buff_size 4194304, one UDP socket; gbswarm with one worker and 8
# cameras per socket. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-20000}
shift || true
rates=${*:-2000 5000 10000}
command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
cargo build --release --quiet --bin gbswarm --example responder
work=$(mktemp -d)
trap 'kill $(cat "$work"/responder.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

start_responder() {
  target/release/examples/responder 3600 >"$work/addr" 2>/dev/null &
  echo $! >"$work/responder.pid"
  for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
  cat "$work/addr"
}
stop_responder() { kill "$(cat "$work/responder.pid")" 2>/dev/null || true; wait 2>/dev/null || true; }

{
  echo "SEQUENTIAL"
  for i in $(seq 1 "$devices"); do
    id=$(printf '3402000000132%07d' "$i")
    echo "$id;[authentication username=$id password=12345678];"
  done
} >"$work/devices.csv"

echo "| rate/s | devices | gbswarm ok | gbswarm CPU s | gbswarm CPU s / 10k | SIPp ok | SIPp CPU s | SIPp CPU s / 10k | gbswarm / SIPp |"
echo "|---|---|---|---|---|---|---|---|---|"
for rate in $rates; do
  addr=$(start_responder)
  secs=$(( devices / rate + 3 ))
  /usr/bin/time -f "%U %S" -o "$work/g.time" target/release/gbswarm run --target "$addr" \
    --cameras "$devices" --rate "$rate" --cores 1 --cameras-per-socket 8 --duration "${secs}s" \
    --heartbeat 1h --no-unregister --grace 1s >"$work/g.out" 2>/dev/null
  g_ok=$(awk '$1=="register"{print $5}' "$work/g.out")
  g_cpu=$(awk '{printf "%.2f", $1+$2}' "$work/g.time")
  stop_responder
  addr=$(start_responder)
  port=$(( 20000 + RANDOM % 20000 ))
  ( cd "$work" && /usr/bin/time -f "%U %S" -o "$work/s.time" sipp "$addr" -sf "$OLDPWD/benches/sipp/uac-register.xml" \
      -inf "$work/devices.csv" -auth_uri 34020000002000000001@3402000000 -i 127.0.0.1 -p "$port" \
      -r "$rate" -rp 1000 -m "$devices" -buff_size 4194304 -nostdin -timeout $(( secs + 30 ))s \
      -trace_stat -stf "$work/s.csv" >/dev/null 2>&1 || true )
  s_ok=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print $c}' "$work/s.csv")
  s_cpu=$(awk '{printf "%.2f", $1+$2}' "$work/s.time")
  stop_responder
  awk -v r="$rate" -v d="$devices" -v go="$g_ok" -v gc="$g_cpu" -v so="$s_ok" -v sc="$s_cpu" 'BEGIN{
    gp = go > 0 ? gc / go * 10000 : 0; sp = so > 0 ? sc / so * 10000 : 0;
    printf "| %d | %d | %d | %.2f | %.3f | %d | %.2f | %.3f | %.2f |\n", r, d, go, gc, gp, so, sc, sp, (sp > 0 ? gp / sp : 0) }'
done
