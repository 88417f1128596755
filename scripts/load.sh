#!/usr/bin/env bash
# Load benchmark: cached /v1/gradient requests for the sheet's 4a against nabla, and the
# same JSON round trip against a minimal axum handler with a hand-written gradient
# (examples/baseline.rs), one after the other in the same run. Prints requests per
# second, p99 latency and errors for both, and the ratio.
#
#   scripts/load.sh [seconds] [connections]
#
# Needs wrk (Debian package; installed if missing and this runs as root). Traffic goes
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
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
summary() {
  local out=$1
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print}' <<<"$out")
  echo "$rps|$p99|${errors:-0}"
}
nabla_out=$(run $nabla_port)
base_out=$(run $base_port)
IFS='|' read -r n_rps n_p99 n_err <<<"$(summary "$nabla_out")"
IFS='|' read -r b_rps b_p99 b_err <<<"$(summary "$base_out")"
echo
echo "| server | requests/s | p99 latency | errors |"
echo "| --- | ---: | ---: | ---: |"
echo "| nabla /v1/gradient (cached 4a) | $n_rps | $n_p99 | $n_err |"
echo "| baseline axum handler, gradient by hand | $b_rps | $b_p99 | $b_err |"
awk -v n="$n_rps" -v b="$b_rps" 'BEGIN { printf "nabla / baseline: %.0f%%\n", 100 * n / b }'
rm -f "$lua"
