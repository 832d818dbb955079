#!/usr/bin/env bash
# The CDK example in CI: synthesize the app offline, check the committed cdk.out is what it
# synthesizes to (the committed copy is what `cargo test` runs, without npm), then start lyrebird
# with `--init <fresh cdk.out>` and drive it with boto3 (check.py).
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

echo "== cdk: synthesizing examples/cdk-order-pipeline"
bash "$here/synth.sh" "$tmp/cdk.out"
for file in manifest.json OrderEvents.template.json OrderPipeline.template.json; do
    if ! diff -q "$here/cdk.out/$file" "$tmp/cdk.out/$file" >/dev/null; then
        echo "cdk: cdk.out/$file differs from a fresh synth: run examples/cdk-order-pipeline/synth.sh and commit" >&2
        diff -u "$here/cdk.out/$file" "$tmp/cdk.out/$file" | head -40 >&2
        exit 1
    fi
done

venv="$cache/cdk-boto3"
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
    "$python" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q boto3
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" --in-memory --host 127.0.0.1 --port "$port" --init "$tmp/cdk.out" >"$tmp/lyrebird.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/lyrebird.log" >&2; exit 1; }
    sleep 0.1
done
grep -E "stands in|applied" "$tmp/lyrebird.log" | sed 's/^/  lyrebird: /'

echo "== cdk: checking with boto3"
PYTHONDONTWRITEBYTECODE=1 AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 "$venv/bin/python" "$here/check.py"
