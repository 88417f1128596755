#!/usr/bin/env bash
# Cache churn: distinct Hessian requests (each about 4 KB, 60 variables) against a server
# whose program cache is small, printing the server's RSS and the cache's own account
# (entries, bytes) as they go. The cache's budget holds when RSS stays near the
# configured capacity plus the process's baseline, however many programs were built.
#
#   scripts/cache_churn.sh [requests] [capacity bytes]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/serve.sh
n=${1:-400}
cap=${2:-8388608}
port=18083
cargo build --release --quiet --bin nabla
NABLA_ADDR=127.0.0.1:$port NABLA_LOG=warn NABLA_CACHE_CAPACITY=$cap target/release/nabla &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "$port"
python3 - "$port" "$n" "$pid" "$cap" <<'PY'
import json, random, sys, urllib.request
port, n, pid, cap = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

def metric(name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])

def expression(k):
    rng = random.Random(k)
    terms = []
    while sum(len(t) + 3 for t in terms) < 4200:
        a, b = rng.randrange(60), rng.randrange(60)
        c = rng.randrange(1, 99)
        f = rng.choice(["sin", "cos", "exp", "ln(1+", "sqrt(1+"])
        inner = f"x{a}*x{b}" if not f.endswith("+") else f"x{a}^2*x{b}^2)"
        terms.append(f"{c}*{f}({inner})" if not f.endswith("+") else f"{c}*{f}{inner}")
    return " + ".join(terms)

print(f"capacity {cap / 2**20:.0f} MiB; baseline RSS {rss_mb():.0f} MB")
print("| requests | RSS MB | cache entries | cache MB |")
print("| ---: | ---: | ---: | ---: |")
peak = 0
for k in range(1, n + 1):
    body = json.dumps({"expression": expression(k), "points": []}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/hessian", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except urllib.error.HTTPError as e:
        if k == 1:
            print("first request:", e.code, e.read()[:200])
    peak = max(peak, rss_mb())
    if k % (n // 8) == 0 or k == n:
        print(f"| {k} | {rss_mb():.0f} | {metric('nabla_cache_entries'):.0f} | {metric('nabla_cache_bytes') / 2**20:.1f} |")
print(f"peak RSS {peak:.0f} MB (sampled after each request)")
PY
