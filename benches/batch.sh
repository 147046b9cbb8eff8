#!/usr/bin/env bash
# CPU per transaction of both peers over UDP, user and system time apart: `gbswarm serve`
# (one worker) answering `gbswarm run` (one worker, 8 cameras per socket) on loopback, at each
# rate of RATES per second, for two kinds of load:
#
#   registration  3 s of new cameras at RATE/s (REGISTER, 401, REGISTER with Authorization,
#                 200), nothing else: CPU / registrations answered 200
#   keepalive     RATE cameras registered in 1 s, then 10 s of keepalives at RATE/s (a 1 s
#                 heartbeat): (CPU - registrations × the registration row's CPU per
#                 registration) / keepalives answered 200
#
# Every process runs under examples/rusage (getrusage of the waited-for child, microseconds),
# so two builds are measured the same way whatever they print themselves; a fresh serve for
# every measurement. Give the gbswarm binary to measure (default: this tree's, built):
#
#   benches/batch.sh [GBSWARM]              env: RATES="5000 20000 40000", PORT=15340
#
# The generator pins its worker to the first CPU it may use and serve to the last, so on one
# machine they take a core each; the script makes that explicit: the generator runs on CPU
# GEN_CPU (default 0) and serve on SERVE_CPU (default 1), as two machines would have them.
# `GEN_CPU=0 SERVE_CPU=0` puts both on one core (the shared-core case); `GEN_CPU= SERVE_CPU=`
# (empty) leaves placement to the programs.
#
# Prints one markdown row per rate and kind: answered, then µs per transaction for the
# generator (user, system, total) and the registrar (user, system, total). Measure on a quiet
# machine (the two processes take both cores of a 2-core one); `uptime` is printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${RATES:-5000 20000 40000}
port=${PORT:-15340}
gen_cpu=${GEN_CPU-0}
serve_cpu=${SERVE_CPU-1}
gen_on=() serve_on=()
[ -n "$gen_cpu" ] && gen_on=(taskset -c "$gen_cpu")
[ -n "$serve_cpu" ] && serve_on=(taskset -c "$serve_cpu")
cargo build --release --quiet --bin gbswarm --example rusage
target=${CARGO_TARGET_DIR:-target}
bin=${1:-$target/release/gbswarm}
rusage=$target/release/examples/rusage
work=$(mktemp -d)
serve_wrapper=
cleanup() {
  if [ -n "$serve_wrapper" ]; then
    kill -INT $(pgrep -P "$serve_wrapper") 2>/dev/null || true
    wait "$serve_wrapper" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# measure NAME CAMERAS RATE DURATION_S HEARTBEAT: one serve + one run; leaves
# $work/NAME.{run,serve}.cpu ("user system" seconds) and $work/NAME.out (the run's report).
measure() {
  local name=$1 cameras=$2 rate=$3 duration=$4 heartbeat=$5
  "$rusage" "$work/$name.serve.cpu" "${serve_on[@]}" "$bin" serve --listen "127.0.0.1:$port" --cores 1 \
    --min-expires 1s >"$work/$name.serve.out" 2>"$work/$name.serve.err" &
  serve_wrapper=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/$name.serve.err" 2>/dev/null && break
    sleep 0.05
  done
  "$rusage" "$work/$name.run.cpu" "${gen_on[@]}" "$bin" run --target "127.0.0.1:$port" --cameras "$cameras" \
    --rate "$rate" --cores 1 --cameras-per-socket 8 --duration "${duration}s" \
    --heartbeat "$heartbeat" --no-unregister --grace 1s >"$work/$name.out" 2>/dev/null || true
  kill -INT $(pgrep -P "$serve_wrapper")
  wait "$serve_wrapper" || true
  serve_wrapper=
}

ok() { # NAME KIND -> transactions of KIND answered 2xx
  awk -v k="$2" '$1==k && $2=="sent" {print $6}' "$work/$1.out" | grep . || echo 0
}

uptime
echo "generator on CPU ${gen_cpu:-any}, serve on CPU ${serve_cpu:-any}"
echo "| rate/s | load | answered | gen user µs | gen system µs | gen µs | serve user µs | serve system µs | serve µs |"
echo "|---|---|---|---|---|---|---|---|---|"
for rate in $rates; do
  measure reg "$((rate * 3))" "$rate" 4 1h
  regs=$(ok reg register)
  measure ka "$rate" "$rate" 11 1s
  kas=$(ok ka keepalive)
  ka_regs=$(ok ka register)
  read -r gu gs <"$work/reg.run.cpu"
  read -r su ss <"$work/reg.serve.cpu"
  read -r kgu kgs <"$work/ka.run.cpu"
  read -r ksu kss <"$work/ka.serve.cpu"
  awk -v rate="$rate" -v n="$regs" -v gu="$gu" -v gs="$gs" -v su="$su" -v ss="$ss" \
      -v kn="$kas" -v kr="$ka_regs" -v kgu="$kgu" -v kgs="$kgs" -v ksu="$ksu" -v kss="$kss" 'BEGIN{
    if (n == 0 || kn == 0) { printf "| %d | failed: %d registrations, %d keepalives answered |\n", rate, n, kn; exit }
    u = 1e6 / n;
    printf "| %d | registration | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", rate, n,
      gu * u, gs * u, (gu + gs) * u, su * u, ss * u, (su + ss) * u;
    # The keepalive run registered its cameras first: their share, at the registration
    # rows per-registration cost, is taken out.
    k = 1e6 / kn;
    printf "| %d | keepalive | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", rate, kn,
      (kgu - kr * gu / n) * k, (kgs - kr * gs / n) * k, (kgu + kgs - kr * (gu + gs) / n) * k,
      (ksu - kr * su / n) * k, (kss - kr * ss / n) * k, (ksu + kss - kr * (su + ss) / n) * k }'
done
