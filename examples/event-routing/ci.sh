#!/usr/bin/env bash
# The EventBridge example in CI: start lyrebird with `--init template.yaml` and run route.py
# with the latest boto3 (installed once into a venv outside the repository).
# LYREBIRD_BIN: the binary to test (default: target/release/lyrebird). Non-interactive.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}"
bin="${LYREBIRD_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/lyrebird}"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

venv="$cache/event-routing-boto3"
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
    "$python" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q boto3
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" --in-memory --host 127.0.0.1 --port "$port" --init "$here/template.yaml" >"$tmp/lyrebird.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/lyrebird.log" >&2; exit 1; }
    sleep 0.1
done
grep -E "applied" "$tmp/lyrebird.log" | sed 's/^/  lyrebird: /'

echo "== event-routing: routing the seeds' events with boto3"
PYTHONDONTWRITEBYTECODE=1 AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 "$venv/bin/python" "$here/route.py"
