#!/usr/bin/env bash
# Builds the release binary, starts it on 127.0.0.1, and runs scripts/attacks.py against
# it (slow headers, slow bodies, idle connections, each on its own, with a probe of the
# cached /v1/gradient). Prints a Markdown table; the README quotes it.
#
#   scripts/attacks.sh [seconds per attack] [only the attacks whose name contains this]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/serve.sh
secs=${1:-30}
port=18082
cargo build --release --quiet --bin nabla --example idle_connections
NABLA_ADDR=127.0.0.1:$port NABLA_LOG=warn target/release/nabla &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "$port"
python3 scripts/attacks.py "$port" "$secs" "${2:-}"
echo "server RSS after the attacks: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
