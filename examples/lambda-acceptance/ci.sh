#!/usr/bin/env bash
# The Lambda acceptance check in CI (issue 18, "Checked by"): start lyrebird with
# `--init template.yaml` (Node CommonJS + ESM handlers and a Python one that uses boto3), then
# check.py drives it with boto3 and the AWS CLI and compares what the handlers saw and what the
# Lambda API answers with AWS's documented behaviour. Ends with "N passed, M failed".
# boto3 and awscli are installed from PyPI into venvs outside the repository; the Python
# handler runs on the boto3 venv's python3 (first on lyrebird's PATH), as a developer with an
# activated venv would run it.
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

venv="$cache/lambda-acceptance-boto3"
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
    "$python" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q boto3
fi
# The AWS CLI v1 from PyPI pins its own botocore, hence a venv of its own. Optional: if it does
# not install, the CLI checks are skipped loudly and the boto3 ones still run.
cli_venv="$cache/lambda-acceptance-awscli"
if ! "$cli_venv/bin/aws" --version >/dev/null 2>&1; then
    "$python" -m venv "$cli_venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$cli_venv/bin/python" -m pip install -q awscli || true
fi
aws_cli=""
if "$cli_venv/bin/aws" --version >/dev/null 2>&1; then
    aws_cli="$cli_venv/bin/aws"
else
    echo "## lambda-acceptance: the AWS CLI did not install; its checks are SKIPPED" >&2
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PATH="$venv/bin:$PATH" "$bin" --in-memory --test-endpoints --host 127.0.0.1 --port "$port" \
    --init "$here/template.yaml" >"$tmp/lyrebird.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/lyrebird.log" >&2; exit 1; }
    sleep 0.1
done

echo "== lambda-acceptance: driving the template's functions with boto3 and the AWS CLI"
status=0
PYTHONDONTWRITEBYTECODE=1 LYREBIRD_LOG="$tmp/lyrebird.log" LAMBDA_ACCEPTANCE_AWS="$aws_cli" \
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" "$here/check.py" || status=1
if [[ $status -ne 0 ]]; then
    echo "---- lyrebird's output" >&2
    tail -60 "$tmp/lyrebird.log" >&2
    exit 1
fi
