#!/usr/bin/env bash
# The seed order pipeline in CI, unchanged: build the TypeScript handlers with tsc from npm and
# check the committed JS (what `cargo test` and tests/clients run) is what tsc makes; start the
# release lyrebird with `--init template.yaml`; drive it with boto3 (pipeline.py: what the
# handlers did, through the invocation log and the queues); and check the handlers' own log lines
# reached lyrebird's output. Fails loudly on any difference.
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

echo "== order-pipeline: building the handlers with tsc"
work="$cache/order-pipeline"
mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
    cp "$here/package.json" "$here/package-lock.json" "$work/"
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
# A copy of the sources, compiled there, so the repository is never written.
mkdir -p "$tmp/build"
cp -r "$here/src" "$here/tsconfig.json" "$tmp/build/"
find "$tmp/build/src" -name '*.js' -delete
ln -s "$work/node_modules" "$tmp/build/node_modules"
(cd "$tmp/build" && node_modules/.bin/tsc -p tsconfig.json)
for js in src/types/events.js src/handlers/processCriticalOrder.js src/handlers/processStandardOrder.js; do
    if ! diff -q "$here/$js" "$tmp/build/$js" >/dev/null; then
        echo "order-pipeline: $js differs from tsc's output: run 'npx tsc' in examples/order-pipeline and commit" >&2
        diff -u "$here/$js" "$tmp/build/$js" | head -40 >&2
        exit 1
    fi
done

venv="$cache/order-pipeline-boto3"
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
    "$python" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q boto3
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" --in-memory --test-endpoints --host 127.0.0.1 --port "$port" \
    --init "$here/template.yaml" >"$tmp/lyrebird.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/lyrebird.log" >&2; exit 1; }
    sleep 0.1
done

echo "== order-pipeline: publishing with boto3, checking what the handlers did"
status=0
PYTHONDONTWRITEBYTECODE=1 AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" "$here/pipeline.py" || status=1

echo "== order-pipeline: the handlers' own logs in lyrebird's output"
for line in "Processing critical order creation:" "Successfully processed critical order event:" \
    "Successfully processed standard order event:" "Error processing critical order message:"; do
    if grep -q "$line" "$tmp/lyrebird.log"; then
        echo "PASS log has: $line"
    else
        echo "FAIL log lacks: $line"
        status=1
    fi
done
if [[ $status -ne 0 ]]; then
    echo "---- lyrebird's output" >&2
    tail -80 "$tmp/lyrebird.log" >&2
    exit 1
fi
grep -m 3 "Successfully processed" "$tmp/lyrebird.log" | sed 's/^/  lyrebird: /'
