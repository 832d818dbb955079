#!/usr/bin/env bash
# Runs tests/clients/sqs_scenario.py against a freshly built lyrebird with two boto3s (and
# examples/order-pipeline/pipeline.py with the current one):
#   current  - latest boto3 from PyPI (SQS over AWS JSON 1.0)
#   query    - boto3/botocore 1.34.89, the last release speaking the SQS query protocol
# Virtualenvs are cached in ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}.
# Set LYREBIRD_CLIENT_UPGRADE=1 to refresh the "current" venv to the newest boto3.
# Set LYREBIRD_BIN to test an already built binary (skips cargo build).
# Exits non-zero if either run fails. Non-interactive; fine as root in CI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}"
python="${PYTHON:-python3}"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
mkdir -p "$cache"

# make_venv NAME PIP-REQUIREMENT...: create the venv once; (re)install when the spec changed.
make_venv() {
    local name="$1"
    shift
    local dir="$cache/$name" spec="$*"
    if [[ ! -x "$dir/bin/python" ]]; then
        "$python" -m venv "$dir"
    fi
    if [[ "$(cat "$dir/.lyrebird-spec" 2>/dev/null || true)" != "$spec" ]] ||
        ! "$dir/bin/python" -c 'import boto3' 2>/dev/null ||
        [[ "$name" == current && "${LYREBIRD_CLIENT_UPGRADE:-0}" == 1 ]]; then
        "$dir/bin/python" -m pip install -q --upgrade "$@"
        printf '%s' "$spec" >"$dir/.lyrebird-spec"
    fi
}

echo "== preparing client virtualenvs in $cache"
make_venv current boto3
make_venv query boto3==1.34.89 botocore==1.34.89

if [[ -n "${LYREBIRD_BIN:-}" ]]; then
    bin="$LYREBIRD_BIN"
else
    echo "== building lyrebird (release)"
    (cd "$root" && cargo build --release --quiet --bin lyrebird)
    bin="$root/target/release/lyrebird"
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-clients-server.XXXXXX.log")"
"$bin" --in-memory --host 127.0.0.1 --port "$port" --log-level "${LYREBIRD_LOG_LEVEL:-info}" >"$log" 2>&1 &
server_pid=$!
cleanup() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if "$python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/_lyrebird/health', timeout=1)" "$endpoint" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "lyrebird exited during startup; log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
echo "== lyrebird at $endpoint (log: $log)"

status=0
total_passed=0
total_failed=0
for name in current query; do
    echo "== scenario with the '$name' client"
    out="$cache/$name.out"
    rc=0
    AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        "$cache/$name/bin/python" "$here/sqs_scenario.py" >"$out" 2>&1 || rc=$?
    # Failures and the header/summary lines; passes are in $out.
    grep -v '^PASS ' "$out" | sed "s/^/[$name] /"
    summary="$(tail -n 1 "$out")"
    if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        total_passed=$((total_passed + BASH_REMATCH[1]))
        total_failed=$((total_failed + BASH_REMATCH[2]))
    else
        total_failed=$((total_failed + 1))
    fi
    if [[ $rc -ne 0 ]]; then
        status=1
    fi
done

# The example order pipeline as a user runs it: lyrebird provisioned from its SAM template
# (--init), then examples/order-pipeline/pipeline.py with the current boto3.
echo "== order pipeline example"
pipeline_port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pipeline_log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-pipeline-server.XXXXXX.log")"
"$bin" --in-memory --host 127.0.0.1 --port "$pipeline_port" \
    --init "$root/examples/order-pipeline/template.yaml" >"$pipeline_log" 2>&1 &
pipeline_pid=$!
trap 'cleanup; kill "$pipeline_pid" 2>/dev/null || true' EXIT INT TERM
pipeline_endpoint="http://127.0.0.1:$pipeline_port"
for _ in $(seq 1 100); do
    "$python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/_lyrebird/health', timeout=1)" \
        "$pipeline_endpoint" 2>/dev/null && break
    kill -0 "$pipeline_pid" 2>/dev/null || break
    sleep 0.1
done
out="$cache/pipeline.out"
rc=0
AWS_ENDPOINT_URL="$pipeline_endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$cache/current/bin/python" "$root/examples/order-pipeline/pipeline.py" >"$out" 2>&1 || rc=$?
grep -v '^PASS ' "$out" | sed "s/^/[pipeline] /"
summary="$(tail -n 1 "$out")"
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    total_passed=$((total_passed + BASH_REMATCH[1]))
    total_failed=$((total_failed + BASH_REMATCH[2]))
else
    total_failed=$((total_failed + 1))
fi
if [[ $rc -ne 0 ]]; then
    status=1
    echo "lyrebird log:" && cat "$pipeline_log"
fi

echo "clients: $total_passed passed, $total_failed failed"
exit "$status"
