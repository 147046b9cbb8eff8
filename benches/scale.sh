#!/usr/bin/env bash
# Scale runs: how many cameras one machine holds online against `gbswarm serve`. Minutes
# long, loopback only, not part of CI. Prints one markdown row per run.
#
#   benches/scale.sh udp [CAMERAS] [HOLD] [HEARTBEAT]   defaults: 100000 5m 10s
#   benches/scale.sh tcp [CAMERAS] [HOLD] [HEARTBEAT]   defaults: 50000 5m 10s
#
# Cameras register at RATE/s (env, default 5000), then stay online for HOLD with a keepalive
# every HEARTBEAT; the run ends with every camera unregistering. UDP cameras share sockets
# (CPS per socket, env, default 8) to stay under the descriptor limit. A TCP camera holds a
# connection, and a process may hold only `ulimit -Hn` descriptors: the script first tries to
# raise that hard limit to the fleet plus some room (root may, up to fs.nr_open), then splits
# what is left over generator shards and over several serve processes sharing one port with
# SO_REUSEPORT, at most PER_PROC (env, default: the hard limit less 1,000) connections each. Each generator
# spreads its cameras over 250 loopback source addresses, as a real fleet comes from many
# hosts (serve limits half-open connections per source address).
#
# Peak RSS is the kernel's high-water mark of each generator process (/usr/bin/time %M) and of
# each serve process (VmHWM, read before it stops); "per camera" divides each side's sum by the
# fleet. KEEP=1 keeps every process's output.
set -euo pipefail
cd "$(dirname "$0")/.."
transport=${1:-udp}
case "$transport" in
  udp) cameras=${2:-100000} ;;
  tcp) cameras=${2:-50000} ;;
  *) echo "usage: $0 udp|tcp [CAMERAS] [HOLD] [HEARTBEAT]" >&2; exit 2 ;;
esac
hold=${3:-5m}
heartbeat=${4:-10s}
rate=${RATE:-5000}
cps=${CPS:-8}
if [ "$transport" = tcp ]; then
  # Every TCP camera is a descriptor in the generator and one in serve.
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$(( cameras + 2000 ))" ]; then
    ulimit -Hn "$(( cameras + 2000 ))" 2>/dev/null || true
  fi
  ulimit -Sn "$(ulimit -Hn)"
fi
per_proc=${PER_PROC:-$(( $(ulimit -Hn) - 1000 ))}
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
cargo build --release --quiet --bin gbswarm
bin=target/release/gbswarm

secs() { # 5m -> 300, 90s -> 90, 1h -> 3600
  local v=$1
  case "$v" in
    *h) echo $(( ${v%h} * 3600 )) ;;
    *m) echo $(( ${v%m} * 60 )) ;;
    *s) echo "${v%s}" ;;
    *) echo "$v" ;;
  esac
}
ramp=$(( (cameras + rate - 1) / rate ))
duration=$(( ramp + $(secs "$hold") ))
if [ "$transport" = tcp ]; then
  procs=$(( (cameras + per_proc - 1) / per_proc ))
else
  procs=1
fi

work=$(mktemp -d)
serve_pids=()
cleanup() {
  for p in "${serve_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "outputs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A port below the ephemeral range, free for UDP and TCP.
port=$(python3 - <<'EOF'
import random, socket
for _ in range(1000):
    p = random.randrange(10000, 30000)
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", p))
        u.close(); t.close(); print(p); break
    except OSError:
        pass
EOF
)
addr=127.0.0.1:$port
# Several serve processes share the port on purpose; one alone refuses a port already held.
share=""
[ "$procs" -gt 1 ] && share=--reuse-port
for i in $(seq 0 $(( procs - 1 ))); do
  "$bin" serve --listen "$addr" --cores 1 $share >"$work/serve$i.out" 2>"$work/serve$i.err" &
  serve_pids+=($!)
done
for _ in $(seq 100); do
  grep -q "listening on" "$work/serve$(( procs - 1 )).err" 2>/dev/null && break
  sleep 0.1
done

echo "$transport: $cameras cameras at $rate/s, held $hold with a $heartbeat heartbeat ($procs generator process(es), $procs serve process(es)) on $addr" >&2
gen_pids=()
for i in $(seq 0 $(( procs - 1 ))); do
  shard=()
  [ "$procs" -gt 1 ] && shard=(--shard "$i/$procs")
  /usr/bin/time -f "%M %U %S" -o "$work/gen$i.time" "$bin" run --target "$addr" \
    --transport "$transport" --cameras "$cameras" "${shard[@]}" \
    --rate "$(( rate / procs ))" --duration "${duration}s" --heartbeat "$heartbeat" \
    --cameras-per-socket "$cps" --cores 1 --grace 60s --local-ip "127.0.$(( i + 1 )).1-127.0.$(( i + 1 )).250" \
    --json "$work/gen$i.json" >"$work/gen$i.out" 2>"$work/gen$i.err" &
  gen_pids+=($!)
done
status=0
for p in "${gen_pids[@]}"; do wait "$p" || status=$?; done
for i in "${!serve_pids[@]}"; do
  # The serve's own high-water mark, read before it is stopped.
  awk '/^VmHWM:/{print $2}' "/proc/${serve_pids[$i]}/status" >"$work/serve$i.time" || true
  kill -INT "${serve_pids[$i]}" 2>/dev/null || true
done
for p in "${serve_pids[@]}"; do wait "$p" 2>/dev/null || true; done
serve_pids=()
[ "$status" -eq 0 ] || { echo "a generator failed ($status):" >&2; cat "$work"/gen*.err >&2; exit 1; }

jsons=("$work"/gen*.json)
if [ "${#jsons[@]}" -gt 1 ]; then
  "$bin" merge "${jsons[@]}" --json "$work/all.json" >/dev/null
else
  cp "${jsons[0]}" "$work/all.json"
fi
python3 - "$work" "$transport" "$cameras" "$hold" "$heartbeat" "$procs" <<'EOF'
import json, sys, glob
work, transport, cameras, hold, heartbeat, procs = sys.argv[1:]
cameras = int(cameras)
r = json.load(open(f"{work}/all.json"))
kinds = r["kinds"]
def fails(k):
    rejected = sum(n for code, n in k["statuses"].items() if int(code) >= 300)
    return k["timeouts"] + k["transport_errors"] + rejected
reg, ka = kinds["register"], kinds["keepalive"]
unexpected = sum(fails(k) for k in kinds.values())
gen_kib = sum(int(open(f).read().split()[0]) for f in glob.glob(f"{work}/gen*.time"))
gen_cpu = sum(float(x) for f in glob.glob(f"{work}/gen*.time") for x in open(f).read().split()[1:3])
serve_kib = sum(int((open(f).read().split() or ["0"])[0]) for f in glob.glob(f"{work}/serve*.time"))
print("| transport | cameras | hold | heartbeat | registered | keepalives ok / sent | failures | keepalive p99 ms | generator peak RSS | per camera | generator CPU s | serve peak RSS | per camera |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
print(f"| {transport} | {cameras} | {hold} | {heartbeat} | {reg['ok']} | {ka['ok']} / {ka['sent']} | {unexpected} | "
      f"{ka['latency_us']['p99'] / 1000:.2f} | {gen_kib / 1024:.0f} MiB | {gen_kib * 1024 / cameras:.0f} B | {gen_cpu:.1f} | {serve_kib / 1024:.0f} MiB | {serve_kib * 1024 / cameras:.0f} B |")
EOF
