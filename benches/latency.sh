#!/usr/bin/env bash
# Latency: what the numbers mean. Runs `gbswarm run` against a server that answers at once
# (the embedded registrar: no --target starts `gbswarm serve` on a loopback port, one core
# of its own) and prints, per transaction kind, p50 and p99 of the three times the report
# keeps:
#   - latency from due: from when the request was due to its final answer, what a user of
#     the server sees (corrected for coordinated omission; the report's headline);
#   - service time: from the first request sent to the final answer, the server's part;
#   - schedule lag: from due to the first request sent, the generator's own part.
# Against a server that answers at once, latency from due should sit just above service
# time: the gap is the generator waking late, and the last column checks it stays within
# 0.2 ms at p50.
#
#   benches/latency.sh [CAMERAS] [DURATION]       defaults: 1000 cameras for 30s
#
# Every kind occurs many times: cameras register at 1000/s, ask a 10 s expiry and refresh
# at half of it (every 5 s), send a keepalive every second, and unregister when the run
# stops. One generator worker (--cores 1). BIN=path measures another binary (an older build,
# say); by default the release binary is built first. Prints markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
cameras=${1:-1000}
duration=${2:-30s}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin gbswarm
  BIN=${CARGO_TARGET_DIR:-target}/release/gbswarm
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(run -n "$cameras" --rate 1000 --duration "$duration" --expires 10s --refresh-at 0.5
  --heartbeat 1s --cores 1 --json "$work/run.json")
"$BIN" "${args[@]}" >"$work/run.txt" 2>"$work/run.err" || {
  status=$?
  # 1 is "an objective missed": the numbers are still there.
  if [ "$status" -ne 1 ]; then
    cat "$work/run.err" "$work/run.txt" >&2
    exit "$status"
  fi
}
shown="$BIN ${args[*]}"
python3 - "$work/run.json" "${shown//$work\//}" <<'EOF'
import datetime, json, os, platform, sys
report = json.load(open(sys.argv[1]))
print(f"`{sys.argv[2]}`, {datetime.date.today()}, {os.cpu_count()} cores, "
      f"Linux {platform.release()}")
print()
print("| kind | answered | latency from due p50 / p99 ms | service time p50 / p99 ms "
      "| schedule lag p50 / p99 ms | p50 from due − service ms |")
print("|---|---:|---:|---:|---:|---:|")
ms = lambda us: us / 1000
worst = 0.0
for kind, k in report["kinds"].items():
    lat, svc, lag = k["latency_us"], k["service_us"], k["lag_us"]
    gap = ms(lat["p50"] - svc["p50"])
    worst = max(worst, gap)
    print(f"| {kind} | {lat['count']} | {ms(lat['p50']):.3f} / {ms(lat['p99']):.3f} "
          f"| {ms(svc['p50']):.3f} / {ms(svc['p99']):.3f} "
          f"| {ms(lag['p50']):.3f} / {ms(lag['p99']):.3f} | {gap:.3f} |")
print()
print(f"largest p50 gap {worst:.3f} ms: target (at most 0.2 ms) "
      f"{'met' if worst <= 0.2 else 'NOT met'}")
EOF
