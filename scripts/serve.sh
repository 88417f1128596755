# Sourced by the measurement scripts that start their own nabla.

# wait_healthy PORT: waits up to 5 s for the server on PORT to answer /healthz, and fails
# (the caller runs under `set -e`) if it never does, rather than measuring nothing.
wait_healthy() {
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    sleep 0.1
  done
  echo "no server answered on port $1" >&2
  return 1
}
