#!/usr/bin/env bash
# Work past its time limit stops: with one worker core and a 100 ms limit, a Hessian
# program too large to build in time and a grading batch too large to finish get their
# 422, and a small compile sent right after each waits for that core only as long as the
# abandoned work takes to notice its budget. Prints both times for each. Loopback only.
#
#   scripts/work_stops.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/serve.sh
port=18085
cargo build --release --quiet --bin nabla
NABLA_ADDR=127.0.0.1:$port NABLA_LOG=warn NABLA_REQUEST_TIMEOUT_MS=100 NABLA_MAX_BLOCKING=1 \
  target/release/nabla &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "$port"
python3 - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"

def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t = time.time()
    try:
        code = urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        code = e.code
    return code, (time.time() - t) * 1000

def rosenbrock(n, a):
    return " + ".join(f"{a}*(x{i+1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(n - 1))

print("| work | its answer | after ms | next compile | waited ms |")
print("| --- | ---: | ---: | ---: | ---: |")
for k in range(5):
    heavy = post("/v1/hessian", {"expression": rosenbrock(1400, 100 + k), "points": []})
    small = post("/v1/gradient", {"expression": f"x*y + {1000 + k}", "point": {"x": 1, "y": 2}})
    print(f"| Hessian program, 1,400 variables | {heavy[0]} | {heavy[1]:.0f} | {small[0]} | {small[1]:.1f} |")
for k in range(5):
    answer = {f"x{i}": f"{i}*x{i} + sin(x{i})" for i in range(60)}
    body = {"expression": rosenbrock(60, 200 + k), "answers": [answer] * 40, "samples": 1000}
    heavy = post("/v1/grade", body)
    small = post("/v1/gradient", {"expression": f"x*y + {2000 + k}", "point": {"x": 1, "y": 2}})
    print(f"| grading 40 answers of 60 components | {heavy[0]} | {heavy[1]:.0f} | {small[0]} | {small[1]:.1f} |")
PY
