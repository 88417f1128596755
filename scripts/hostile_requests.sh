#!/usr/bin/env bash
# The expensive requests of a hostile client, each sent once to the release binary running
# under a 1 GiB address-space limit (ulimit -v): every one must be answered (200 or a
# documented 422) and the process must stay up. Prints a Markdown table and the process's
# peak memory. Traffic goes to 127.0.0.1 only.
#
#   scripts/hostile_requests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/serve.sh
port=18084
cargo build --release --quiet --bin nabla
(ulimit -v 1048576; NABLA_ADDR=127.0.0.1:$port NABLA_LOG=warn exec target/release/nabla) &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "$port"
python3 - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"

def post(path, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    t = time.time()
    try:
        r = urllib.request.urlopen(req, timeout=60)
        out, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        out, code = e.read(), e.code
    limit = ""
    if code != 200:
        limit = json.loads(out).get("limit", json.loads(out).get("code", ""))
    return code, limit, len(data), len(out), time.time() - t

def alive():
    try:
        return urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
    except Exception:
        return False

def sines(n):
    return "sin(" * 60 + "+".join(f"x{i}" for i in range(n)) + ")" * 60

def rosenbrock(n):
    return " + ".join(f"100*(x{i+1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(n - 1))

cases = [
    ("order-2 derivatives of sin nested 60 deep, 12 variables", "/v1/differentiate", {"expression": sines(12), "order": 2}),
    ("the same with definitions", "/v1/differentiate", {"expression": sines(12), "order": 2, "definitions": True}),
    ("the same, 16 variables", "/v1/differentiate", {"expression": sines(16), "order": 2}),
    ("the same with definitions", "/v1/differentiate", {"expression": sines(16), "order": 2, "definitions": True}),
    ("Hessians at 100 points of 1,400 variables", "/v1/hessian", {"expression": " + ".join(f"x{i}^2" for i in range(1400)), "variables": [f"x{i}" for i in range(1400)], "points": [[0.5] * 1400] * 100}),
    ("Hessian of Rosenbrock, 1,000 variables, one point", "/v1/hessian", {"expression": rosenbrock(1000), "point": {f"x{i}": 0.5 for i in range(1000)}}),
    ("Hessian program of Rosenbrock, 1,500 variables", "/v1/hessian", {"expression": rosenbrock(1500), "points": []}),
    ("100,000 variable names", "/v1/differentiate", {"expression": "x0", "variables": [f"v{i}" for i in range(100000)]}),
    ("grading a reference that is never finite", "/v1/grade", {"expression": "ln(-x^2-1)", "answer": {"x": "1/x"}, "samples": 1000}),
    ("order-2 derivatives of exp nested 40 deep, 20 variables, definitions", "/v1/differentiate", {"expression": "exp(" * 40 + "+".join(f"x{i}" for i in range(20)) + ")" * 40, "order": 2, "definitions": True}),
]
print("| request | status | limit or code | request bytes | answer bytes | seconds | alive after |")
print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
for name, path, body in cases:
    code, limit, n_in, n_out, secs = post(path, body)
    print(f"| {name} | {code} | {limit} | {n_in:,} | {n_out:,} | {secs:.3f} | {'yes' if alive() else 'NO'} |")
PY
echo
grep -E "VmPeak|VmHWM" "/proc/$pid/status"
