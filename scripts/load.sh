#!/usr/bin/env bash
# Load benchmark: cached /v1/gradient requests for the sheet's 4a against nabla, and the
# same JSON round trip against a minimal axum handler with a hand-written gradient
# (examples/baseline.rs), alternating in the same run (the machine is shared and noisy:
# one pair of runs can differ by a third). Prints each round, then the medians of
# requests per second and p99 latency for both, and their ratios.
#
#   scripts/load.sh [seconds per run] [connections] [rounds]
#
# Needs wrk (Debian package; installed if missing and this runs as root). Traffic goes
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rounds=${3:-5}
nabla_port=18080
base_port=18081

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
  else
    echo "wrk is needed: apt-get install wrk" >&2
    exit 1
  fi
fi

cargo build --release --quiet --bin nabla --example baseline
NABLA_ADDR=127.0.0.1:$nabla_port NABLA_LOG=warn target/release/nabla &
nabla_pid=$!
target/release/examples/baseline 127.0.0.1:$base_port &
base_pid=$!
trap 'kill $nabla_pid $base_pid 2>/dev/null || true' EXIT

body='{"expression": "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))", "variables": ["x", "y", "z"], "point": {"x": 0.7, "y": -1.3, "z": 0.4}}'
lua=$(mktemp --suffix=.lua)
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

for port in $nabla_port $base_port; do
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v1/gradient" -H 'Content-Type: application/json' -d "$body" && break
    sleep 0.1
  done
done
# Warm the cache (and check the answer is there).
curl -s -D - "http://127.0.0.1:$nabla_port/v1/gradient" -H 'Content-Type: application/json' -d "$body" | grep -i '^x-cache'

run() { wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$1/v1/gradient"; }
# CPU time (user + system) of process $1, in clock ticks: a server's CPU per request is
# steadier than its requests per second on a shared machine.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cpu_per_request() { # ticks before, ticks after, wrk output
  local n; n=$(awk '/requests in/ { print $1 }' <<<"$3")
  awk -v a="$1" -v b="$2" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }'
}
summary() {
  local out=$1
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print}' <<<"$out")
  echo "$rps|$p99|${errors:-0}"
}
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; print v }' <<<"$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
n_rps_all=(); b_rps_all=(); n_p99_all=(); b_p99_all=(); n_cpu_all=(); b_cpu_all=()
echo
echo "| round | nabla req/s | nabla p99 ms | nabla CPU us/req | errors | baseline req/s | baseline p99 ms | baseline CPU us/req | errors | ratio |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in $(seq "$rounds"); do
  # Alternate which goes first, so neither always runs on a warmer (or busier) machine.
  run_nabla() { local t0; t0=$(ticks $nabla_pid); nabla_out=$(run $nabla_port); n_cpu=$(cpu_per_request "$t0" "$(ticks $nabla_pid)" "$nabla_out"); }
  run_base() { local t0; t0=$(ticks $base_pid); base_out=$(run $base_port); b_cpu=$(cpu_per_request "$t0" "$(ticks $base_pid)" "$base_out"); }
  if (( r % 2 )); then
    run_nabla; run_base
  else
    run_base; run_nabla
  fi
  n_cpu_all+=("$n_cpu"); b_cpu_all+=("$b_cpu")
  IFS='|' read -r n_rps n_p99 n_err <<<"$(summary "$nabla_out")"
  IFS='|' read -r b_rps b_p99 b_err <<<"$(summary "$base_out")"
  n_rps_all+=("$n_rps"); b_rps_all+=("$b_rps")
  n_p99_all+=("$(to_ms "$n_p99")"); b_p99_all+=("$(to_ms "$b_p99")")
  ratio=$(awk -v n="$n_rps" -v b="$b_rps" 'BEGIN { printf "%.0f%%", 100 * n / b }')
  echo "| $r | $n_rps | $(to_ms "$n_p99") | $n_cpu | $n_err | $b_rps | $(to_ms "$b_p99") | $b_cpu | $b_err | $ratio |"
done
n_rps=$(printf '%s\n' "${n_rps_all[@]}" | median)
b_rps=$(printf '%s\n' "${b_rps_all[@]}" | median)
n_p99=$(printf '%s\n' "${n_p99_all[@]}" | median)
b_p99=$(printf '%s\n' "${b_p99_all[@]}" | median)
n_cpu=$(printf '%s\n' "${n_cpu_all[@]}" | median)
b_cpu=$(printf '%s\n' "${b_cpu_all[@]}" | median)
echo
echo "median of $rounds rounds: nabla $n_rps req/s, p99 $n_p99 ms, $n_cpu us CPU a request; baseline $b_rps req/s, p99 $b_p99 ms, $b_cpu us CPU a request"
awk -v n="$n_rps" -v b="$b_rps" -v np="$n_p99" -v bp="$b_p99" \
  'BEGIN { printf "nabla / baseline: %.0f%% of the requests per second, p99 %.2fx\n", 100 * n / b, np / bp }'
rm -f "$lua"
