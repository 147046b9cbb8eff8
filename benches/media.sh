#!/usr/bin/env bash
# Live video at scale: how many concurrent PS-over-RTP streams one generator worker sends with
# no loss counted by the receiver. Loopback only, minutes long, not part of CI.
#
#   benches/media.sh [STREAMS ...]          default: 500 1000 2000 3000 4000
#   env: TRANSPORTS="udp tcp-passive tcp-active"  WINDOW=10 (steady seconds measured)
#        PLAY_RATE=500 (INVITEs/s)  PORT=15360  GSO=on|off (UDP media: one GSO send per frame
#        or one datagram per packet)  GEN_CPU=0  SERVE_CPU=1
#
# For each transport and each count N: `gbswarm serve --cores 1 --play` (the receiver, pinned
# to SERVE_CPU) INVITEs every registered camera at PLAY_RATE/s with that transport, holds the
# streams, and checks every packet (SSRC, sequence: loss and reordering, 90 kHz timestamps, PS
# pack headers); `gbswarm run --cores 1 -n N` (the generator, one worker, pinned to GEN_CPU)
# answers with the built-in clip (640x360, 25 fps, about 1 Mbit/s). Once serve counts N streams
# active, WINDOW seconds are measured:
#   - held: all N streams active at the end of the window, no packet lost or reordered over
#     the whole run (serve's summary: a stream's loss is counted when it ends, and the run is
#     stopped first so that every stream ends with the camera's BYE), and over TCP no frame
#     skipped for a full send queue (the run's report: skipping uses no sequence number, so
#     the receiver cannot see it);
#   - packets/s and Mbit/s: the receiver's, averaged over the window;
#   - generator CPU (user and system together, /proc/PID/stat over the window; the kernel's
#     split between the two is tick-sampled, so it is not printed) as a share of one core,
#     and per 1,000 streams. On loopback the kernel delivers each packet into the receiver's
#     socket on the sender's CPU, so the generator's system time includes that delivery;
#   - serve's CPU the same way (the receiver's side);
#   - generator memory per stream: its RSS at the window's end less the RSS of the same fleet
#     registered with no stream (a first run with serve not playing), over N.
# A count not held ends that transport's steps. Prints one markdown row per count.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${*:-500 1000 2000 3000 4000}
transports=${TRANSPORTS:-udp tcp-passive tcp-active}
window=${WINDOW:-10}
play_rate=${PLAY_RATE:-500}
port=${PORT:-15360}
gso=${GSO:-on}
gen_cpu=${GEN_CPU:-0}
serve_cpu=${SERVE_CPU:-1}
cargo build --release --quiet --bin gbswarm
bin=${CARGO_TARGET_DIR:-target}/release/gbswarm
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)

cpu_ticks() { # PID -> "user system" in clock ticks
  awk '{print $14, $15}' "/proc/$1/stat"
}
rss_kib() { # PID -> VmRSS in KiB
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}
last_play_line() { # FILE -> the last per-second play line
  grep '^play: active' "$1" | tail -n 1 || true
}
field() { # LINE WORD -> the number after WORD (e.g. "lost")
  awk -v w="$2" '{for (i = 1; i < NF; i++) if ($i == w) {print $(i + 1); exit}}' <<<"$1"
}

# start_serve NAME [PLAY FLAGS...]: serve on CPU serve_cpu, its pid in $serve_pid.
start_serve() {
  local name=$1
  shift
  taskset -c "$serve_cpu" "$bin" serve --listen "127.0.0.1:$port" --cores 1 --stats "$@" \
    >"$work/$name.serve.out" 2>"$work/$name.serve.err" &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 200); do
    grep -q "listening on" "$work/$name.serve.err" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "serve did not start: $(cat "$work/$name.serve.err")" >&2
  exit 1
}

# start_run NAME N: the generator on CPU gen_cpu, its pid in $run_pid.
start_run() {
  local name=$1 n=$2 gso_flag=()
  [ "$gso" = off ] && gso_flag=(--no-gso)
  taskset -c "$gen_cpu" "$bin" run --target "127.0.0.1:$port" -n "$n" --rate 2000 --cores 1 \
    --max-streams 1 --duration 1h --heartbeat 1h --no-unregister "${gso_flag[@]}" \
    >"$work/$name.run.out" 2>"$work/$name.run.err" &
  run_pid=$!
  pids+=("$run_pid")
}

stop_both() { # the run first: its BYEs end the streams, whose loss serve then counts
  kill -INT "$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
  kill -INT "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  pids=()
}
summary_field() { # NAME KEY -> KEY=value of serve's play summary
  sed -n "s/^gbswarm serve: play.* $2=\([0-9]*\).*/\1/p" "$work/$1.serve.out" | tail -n 1
}

uptime
echo "generator on CPU $gen_cpu, serve on CPU $serve_cpu; $window s measured per count; GSO $gso"
echo "| transport | streams | held | lost / reordered / frames skipped | packets/s | Mbit/s | gen CPU | gen CPU per 1,000 streams | serve CPU | gen bytes per stream |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for transport in $transports; do
  for n in $counts; do
    # The fleet's memory with no stream.
    start_serve base-$n
    start_run base-$n "$n"
    sleep $(( n / 2000 + 3 ))
    base_rss=$(rss_kib "$run_pid")
    stop_both

    name=$transport-$n
    start_serve "$name" --play --play-rate "$play_rate" --play-hold 1h --play-max "$n" \
      --play-transport "$transport"
    start_run "$name" "$n"
    deadline=$(( SECONDS + n / play_rate + n / 2000 + 20 ))
    active=0
    while [ "$SECONDS" -lt "$deadline" ]; do
      line=$(last_play_line "$work/$name.serve.err")
      active=$(field "$line" active)
      [ "${active:-0}" -ge "$n" ] && break
      sleep 0.5
    done
    sleep 2 # let the last streams settle into their frame schedule
    line0=$(last_play_line "$work/$name.serve.err")
    read -r gu0 gs0 < <(cpu_ticks "$run_pid")
    read -r su0 ss0 < <(cpu_ticks "$serve_pid")
    sleep "$window"
    read -r gu1 gs1 < <(cpu_ticks "$run_pid")
    read -r su1 ss1 < <(cpu_ticks "$serve_pid")
    line1=$(last_play_line "$work/$name.serve.err")
    rss=$(rss_kib "$run_pid")
    stop_both
    active=$(field "$line1" active)
    lost=$(summary_field "$name" lost)
    reordered=$(summary_field "$name" reordered)
    lost=${lost:-unknown} reordered=${reordered:-unknown}
    skipped=$(sed -n 's/.*frames skipped \([0-9]*\).*/\1/p' "$work/$name.run.out" | tail -n 1)
    skipped=${skipped:-0}
    # Packets/s and kbit/s of the window: the per-second lines in it.
    read -r pps kbps < <(awk -v a="$line0" -v b="$line1" '
      $0 == a {on = 1; next}
      on && /^play: active/ {
        for (i = 1; i < NF; i++) { if ($i == "RTP") p += $(i + 1); if ($(i + 1) == "kbit/s") k += $i }
        c++
      }
      $0 == b {on = 0}
      END {if (c) printf "%.0f %.1f\n", p / c, k / c / 1000; else print "0 0"}' "$work/$name.serve.err")
    held=no
    [ "${active:-0}" -ge "$n" ] && [ "$lost" = 0 ] && [ "$reordered" = 0 ] && [ "$skipped" = 0 ] &&
      held=yes
    awk -v t="$transport" -v n="$n" -v held="$held" -v lost="$lost" -v re="$reordered" \
        -v pps="$pps" -v mbps="$kbps" -v w="$window" -v tck="$tck" -v skipped="$skipped" \
        -v gu=$(( gu1 - gu0 )) -v gs=$(( gs1 - gs0 )) -v su=$(( su1 - su0 )) -v ss=$(( ss1 - ss0 )) \
        -v rss="$rss" -v base="$base_rss" -v active="${active:-0}" 'BEGIN {
      g = (gu + gs) / tck / w; s = (su + ss) / tck / w;
      printf "| %s | %d (active %d) | %s | %s / %s / %d | %s | %s | %.2f | %.3f | %.2f | %.0f |\n",
        t, n, active, held, lost, re, skipped, pps, mbps, g, g * 1000 / n, s,
        (rss - base) * 1024 / n }'
    [ "$held" = yes ] || break
  done
done
