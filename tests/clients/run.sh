#!/usr/bin/env bash
# The real-client matrix: the scenarios in this directory driven by real AWS clients against a
# freshly started lyrebird (--in-memory), each configured only with the endpoint:
#   boto3-current  latest boto3 (SQS over AWS JSON 1.0): sqs_scenario.py, scenario.py
#                  and EventBridge and Lambda: events_scenario.py, lambda_scenario.py
#   boto3-query    boto3/botocore 1.34.89, the last release speaking the SQS query protocol:
#                  sqs_scenario.py, scenario.py
#   awscli         latest pip `awscli` (CLI v1, so `--endpoint-url`): cli_scenario.py,
#                  cli_events_scenario.py, cli_lambda_scenario.py
#   js-sdk-v3      latest @aws-sdk/client-{sqs,sns,eventbridge,lambda} on this machine's node:
#                  js/scenario.cjs (the SDK's MD5 validation left on), js/events_scenario.cjs,
#                  js/lambda_scenario.cjs
#   pipeline       examples/order-pipeline/pipeline.py with the latest boto3, against a second
#                  lyrebird provisioned from the example's SAM template (--init)
# aws-sdk-rust is covered by `cargo test`.
#
# Clients are installed into ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients} (virtualenvs,
# node_modules), never into the repository, and reused while their spec is unchanged. Set
# LYREBIRD_CLIENT_UPGRADE=1 to refresh the unpinned ones to their newest releases. Set
# LYREBIRD_BIN to test an already built binary (skips cargo build).
#
# Each scenario prints "N passed, M failed"; this prints "clients: N passed, M failed" last and
# exits non-zero if any scenario failed. Needs python3 (with venv) and node/npm. Non-interactive.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}"
python="${PYTHON:-python3}"
upgrade="${LYREBIRD_CLIENT_UPGRADE:-0}"

# Nothing is written into the repository (no __pycache__ beside the scenarios).
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1
mkdir -p "$cache"

# make_venv NAME MODULE PIP-REQUIREMENT...: create the venv once; (re)install when the spec
# changed, MODULE does not import, or an upgrade was asked for (unpinned specs only).
make_venv() {
    local name="$1" module="$2"
    shift 2
    local dir="$cache/$name" spec="$*"
    if [[ ! -x "$dir/bin/python" ]]; then
        "$python" -m venv "$dir"
    fi
    if [[ "$(cat "$dir/.lyrebird-spec" 2>/dev/null || true)" != "$spec" ]] ||
        ! "$dir/bin/python" -c "import $module" 2>/dev/null ||
        [[ "$upgrade" == 1 && "$spec" != *==* ]]; then
        "$dir/bin/python" -m pip install -q --upgrade "$@"
        printf '%s' "$spec" >"$dir/.lyrebird-spec"
    fi
}

# The JS SDK: node_modules under the cache, (re)installed when package.json changed.
make_node_modules() {
    local dir="$cache/js"
    mkdir -p "$dir"
    if ! cmp -s "$here/js/package.json" "$dir/package.json" || [[ ! -d "$dir/node_modules" ]] ||
        [[ "$upgrade" == 1 ]]; then
        cp "$here/js/package.json" "$dir/package.json"
        rm -f "$dir/package-lock.json"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
}

echo "== preparing clients in $cache"
make_venv boto3-current boto3 boto3
make_venv boto3-query boto3 boto3==1.34.89 botocore==1.34.89
make_venv awscli awscli awscli
make_node_modules

if [[ -n "${LYREBIRD_BIN:-}" ]]; then
    bin="$LYREBIRD_BIN"
else
    echo "== building lyrebird (release)"
    (cd "$root" && cargo build --release --quiet --bin lyrebird)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/lyrebird"
fi

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-clients-server.XXXXXX.log")"
"$bin" --in-memory --host 127.0.0.1 --port "$port" --log-level "${LYREBIRD_LOG_LEVEL:-info}" >"$log" 2>&1 &
server_pid=$!
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT INT TERM

endpoint="http://127.0.0.1:$port"
for attempt in $(seq 1 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    if ! kill -0 "$server_pid" 2>/dev/null || [[ $attempt == 100 ]]; then
        echo "lyrebird did not come up; log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
echo "== lyrebird at $endpoint (log: $log)"

# What a user has anyway (credentials, region) plus the endpoint; no ~/.aws files.
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN

status=0
total_passed=0
total_failed=0
# scenario LABEL COMMAND...: runs one scenario; shows its failures and summary, adds up counts.
scenario() {
    local label="$1"
    shift
    local out="$cache/${label//\//-}.out" rc=0 started=$SECONDS
    "$@" >"$out" 2>&1 || rc=$?
    grep -v '^PASS ' "$out" | sed "s|^|[$label] |"
    local summary
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
    echo "[$label] took $((SECONDS - started)) s (full output: $out)"
}

for venv in boto3-current boto3-query; do
    scenario "$venv/sqs" "$cache/$venv/bin/python" "$here/sqs_scenario.py"
    scenario "$venv/matrix" "$cache/$venv/bin/python" "$here/scenario.py"
done
# EventBridge and Lambda (AWS JSON 1.1, REST-JSON): the latest boto3 only.
scenario boto3-current/events "$cache/boto3-current/bin/python" "$here/events_scenario.py"
scenario boto3-current/lambda "$cache/boto3-current/bin/python" "$here/lambda_scenario.py"
scenario awscli/matrix "$cache/awscli/bin/python" "$here/cli_scenario.py"
scenario awscli/events "$cache/awscli/bin/python" "$here/cli_events_scenario.py"
scenario awscli/lambda "$cache/awscli/bin/python" "$here/cli_lambda_scenario.py"
# --no-warnings: the SDK warns that a future release will need a newer node.
for js in matrix:scenario events:events_scenario lambda:lambda_scenario; do
    scenario "js-sdk-v3/${js%%:*}" env NODE_PATH="$cache/js/node_modules" node --no-warnings "$here/js/${js#*:}.cjs"
done

# The example order pipeline as a user runs it: lyrebird provisioned from its SAM template.
pipeline_port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pipeline_log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-pipeline-server.XXXXXX.log")"
"$bin" --in-memory --host 127.0.0.1 --port "$pipeline_port" \
    --test-endpoints --init "$root/examples/order-pipeline/template.yaml" >"$pipeline_log" 2>&1 &
pipeline_pid=$!
trap 'stop_server; kill "$pipeline_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
    "$bin" --host 127.0.0.1 --port "$pipeline_port" healthcheck >/dev/null 2>&1 && break
    kill -0 "$pipeline_pid" 2>/dev/null || break
    sleep 0.1
done
scenario pipeline env AWS_ENDPOINT_URL="http://127.0.0.1:$pipeline_port" \
    "$cache/boto3-current/bin/python" "$root/examples/order-pipeline/pipeline.py"

echo "clients: $total_passed passed, $total_failed failed"
exit "$status"
