#!/usr/bin/env bash
# Smoke test of the Docker image, run by .ci/run: builds the image (timed; its size must stay
# under LYREBIRD_IMAGE_MAX_MB, default 40), then, driven by the AWS CLI as a user would:
#   - starts it with `-p 127.0.0.1::4566` on a named volume and waits for its HEALTHCHECK;
#   - checks the process runs as uid 65532 and `lyrebird healthcheck` works inside;
#   - SQS: create a queue, send, receive, delete; SNS: a topic with a subscribed queue, publish,
#     the notification received;
#   - leaves one message unreceived, stops the container (`docker stop` must exit 0 within 2 s),
#     starts a new one on the same volume: the queues, the topic and that message are there;
#   - starts one with `--port 4568` (published as such): it must become healthy too;
#   - stops the last one cleanly within 2 s.
# Any failing step (the build included) prints one line `docker/smoke.sh: FAILED - <step>: <why>`
# (after the container's log) and exits 1. Only a missing Docker engine skips, loudly, exit 0.
#
# The client: the host's `aws` (CLI v1 or v2) if it runs, else pip's `awscli` in a virtualenv
# under ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/awscli (shared with tests/clients/run.sh).
# The image is left tagged as lyrebird:smoke, so the next build reuses its layers (the
# dependency layer is rebuilt only when Cargo.toml or Cargo.lock change); containers and the
# volumes it made (the anonymous ones too) are removed, also after a failed build.
#
#   bash docker/smoke.sh
set -euo pipefail

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "############################################################################" >&2
    echo "docker/smoke.sh: SKIPPED - no Docker engine available (\`docker info\` failed)." >&2
    echo "The image was NOT built or tested." >&2
    echo "############################################################################" >&2
    exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${LYREBIRD_SMOKE_TAG:-lyrebird:smoke}"
max_mb="${LYREBIRD_IMAGE_MAX_MB:-40}"
prefix="lyrebird-smoke-$$"
volume="$prefix-data"
containers=()
current="" # the container whose log a failure shows
port=""    # its published port on 127.0.0.1
# No buildx on the CI machines: the legacy builder, unless the caller chose otherwise.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

cleanup() {
    local c
    for c in "${containers[@]}"; do docker rm -f -v "$c" >/dev/null 2>&1 || true; done
    docker volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'echo "docker/smoke.sh: FAILED - interrupted" >&2; exit 1' INT TERM

fail() {
    if [[ -n "$current" ]]; then
        echo "--- last lines of $current's log:" >&2
        docker logs --tail 30 "$current" >&2 || true
    fi
    echo "docker/smoke.sh: FAILED - $*" >&2
    exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- the client ---------------------------------------------------------------------------------
if command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1; then
    aws_bin="$(command -v aws)"
else
    venv="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/awscli"
    if [[ ! -x "$venv/bin/aws" ]]; then
        echo "== installing awscli into $venv"
        { python3 -m venv "$venv" && PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
            "$venv/bin/python" -m pip install -q --upgrade awscli && printf awscli >"$venv/.lyrebird-spec"; } ||
            fail "client: cannot install awscli with pip into $venv"
    fi
    aws_bin="$venv/bin/aws"
fi
echo "== client: $("$aws_bin" --version 2>&1)"

# aws ARGS...: the CLI against the current container; the endpoint is its only special setting.
aws_cli() {
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" \
        "$aws_bin" --endpoint-url "http://127.0.0.1:$port" --output text "$@"
}

# --- build --------------------------------------------------------------------------------------
echo "== building $tag (DOCKER_BUILDKIT=$DOCKER_BUILDKIT)"
t0=$SECONDS
docker build --force-rm -t "$tag" "$root" || fail "build: \`docker build\` exited $? (see its output above)"
echo "== built $tag in $((SECONDS - t0)) s"
size="$(docker image inspect -f '{{.Size}}' "$tag")"
size_mb=$(((size + 999999) / 1000000))
echo "== image size: $size_mb MB ($size bytes)"
((size_mb < max_mb)) || fail "image size: $size_mb MB, the limit is $max_mb MB"
user="$(docker image inspect -f '{{.Config.User}}' "$tag")"
[[ "$user" == 65532:65532 ]] || fail "image user: '$user', expected 65532:65532"

# start NAME PORT [ARGS...]: runs the image detached as NAME with container port PORT published
# on 127.0.0.1 (any free host port); ARGS go to `docker run` before the image, then `--`, then
# lyrebird's. Waits for the HEALTHCHECK to say healthy; sets $current and $port.
start() {
    local name="$1" cport="$2" status="" i
    shift 2
    local run_args=() app_args=()
    while (($#)); do
        if [[ "$1" == -- ]]; then shift; app_args=("$@"); break; fi
        run_args+=("$1"); shift
    done
    containers+=("$name")
    current="$name"
    docker run -d --name "$name" -p "127.0.0.1::$cport" "${run_args[@]}" "$tag" "${app_args[@]}" >/dev/null ||
        fail "start $name: \`docker run\` failed"
    for i in $(seq 1 60); do
        status="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$name")"
        [[ "$status" == healthy ]] && break
        [[ "$(docker inspect -f '{{.State.Running}}' "$name")" == true ]] ||
            fail "start $name: the container exited (code $(docker inspect -f '{{.State.ExitCode}}' "$name"))"
        sleep 1
    done
    [[ "$status" == healthy ]] || fail "start $name: HEALTHCHECK not healthy after 60 s (status '$status')"
    port="$(docker port "$name" "$cport/tcp" | head -n 1 | sed 's/.*://')"
    echo "== $name healthy after ${i} s, published on 127.0.0.1:$port"
}

# stop_within_2s NAME: `docker stop` (SIGTERM) must end the container with exit code 0 in < 2 s.
stop_within_2s() {
    local name="$1" t code
    t="$(now_ms)"
    docker stop -t 10 "$name" >/dev/null || fail "stop $name: \`docker stop\` failed"
    t=$(($(now_ms) - t))
    code="$(docker inspect -f '{{.State.ExitCode}}' "$name")"
    [[ "$code" == 0 ]] || fail "stop $name: exit code $code after SIGTERM, expected 0"
    ((t < 2000)) || fail "stop $name: took $t ms, expected under 2000 ms"
    echo "== $name stopped cleanly in $t ms"
}

# --- first container, on the named volume ------------------------------------------------------
docker volume create "$volume" >/dev/null || fail "volume: cannot create $volume"
start "$prefix-1" 4566 -v "$volume:/var/lib/lyrebird"

top="$(docker top "$current" -eo pid,uid,comm)" || fail "uid: \`docker top\` failed"
uids="$(awk 'NR > 1 {print $2}' <<<"$top" | sort -u | tr '\n' ' ')"
[[ "$uids" == "65532 " ]] || fail "uid: the container's processes run as uid(s) '$uids', expected 65532"
echo "== runs as uid 65532"
docker exec "$current" /usr/local/bin/lyrebird healthcheck >/dev/null ||
    fail "healthcheck: \`lyrebird healthcheck\` failed inside the container"

# SQS: create, send, receive, delete.
queue_url="$(aws_cli sqs create-queue --queue-name smoke --query QueueUrl)" || fail "sqs create-queue"
[[ "$queue_url" == */000000000000/smoke ]] || fail "sqs create-queue: unexpected QueueUrl '$queue_url'"
aws_cli sqs send-message --queue-url "$queue_url" --message-body "hello smoke" >/dev/null || fail "sqs send-message"
received="$(aws_cli sqs receive-message --queue-url "$queue_url" --wait-time-seconds 2 \
    --query 'Messages[0].[Body,ReceiptHandle]')" || fail "sqs receive-message"
body="$(cut -f1 <<<"$received")"
handle="$(cut -f2 <<<"$received")"
[[ "$body" == "hello smoke" ]] || fail "sqs receive-message: body '$body', expected 'hello smoke'"
aws_cli sqs delete-message --queue-url "$queue_url" --receipt-handle "$handle" || fail "sqs delete-message"
left="$(aws_cli sqs get-queue-attributes --queue-url "$queue_url" \
    --attribute-names ApproximateNumberOfMessages ApproximateNumberOfMessagesNotVisible \
    --query 'Attributes.[ApproximateNumberOfMessages,ApproximateNumberOfMessagesNotVisible]')" ||
    fail "sqs get-queue-attributes"
[[ "$(tr -s '[:space:]' ' ' <<<"$left")" == "0 0 " ]] || fail "sqs delete-message: queue still holds '$left'"
echo "== SQS: create, send, receive, delete"

# SNS: a topic, a queue subscribed to it, a publish, the notification in the queue.
topic_arn="$(aws_cli sns create-topic --name smoke-events --query TopicArn)" || fail "sns create-topic"
inbox_url="$(aws_cli sqs create-queue --queue-name smoke-inbox --query QueueUrl)" || fail "sqs create-queue smoke-inbox"
inbox_arn="$(aws_cli sqs get-queue-attributes --queue-url "$inbox_url" --attribute-names QueueArn \
    --query Attributes.QueueArn)" || fail "sqs get-queue-attributes QueueArn"
aws_cli sns subscribe --topic-arn "$topic_arn" --protocol sqs --notification-endpoint "$inbox_arn" >/dev/null ||
    fail "sns subscribe"
aws_cli sns publish --topic-arn "$topic_arn" --message "published through sns" >/dev/null || fail "sns publish"
envelope="$(aws_cli sqs receive-message --queue-url "$inbox_url" --wait-time-seconds 5 --query 'Messages[0].Body')" ||
    fail "sns: receive the notification"
message="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["Message"])' "$envelope" 2>/dev/null)" ||
    fail "sns: the notification is not an SNS envelope: '$envelope'"
[[ "$message" == "published through sns" ]] || fail "sns: notification Message '$message'"
echo "== SNS: publish to a subscribed queue"

# One message left unreceived, for the restart.
aws_cli sqs send-message --queue-url "$queue_url" --message-body "kept across restart" >/dev/null ||
    fail "sqs send-message (before restart)"

# --- restart on the same volume -----------------------------------------------------------------
stop_within_2s "$prefix-1"
start "$prefix-2" 4566 -v "$volume:/var/lib/lyrebird"
# Queue URLs follow the address the client used: the new container has another host port.
queue_url="$(aws_cli sqs get-queue-url --queue-name smoke --query QueueUrl)" || fail "restart: queue smoke lost"
[[ "$(aws_cli sns list-topics --query 'Topics[].TopicArn')" == *"$topic_arn"* ]] || fail "restart: topic lost"
body="$(aws_cli sqs receive-message --queue-url "$queue_url" --wait-time-seconds 2 --query 'Messages[0].Body')" ||
    fail "restart: sqs receive-message"
[[ "$body" == "kept across restart" ]] || fail "restart: unreceived message lost (received '$body')"
echo "== restart on volume $volume: queue, topic and unreceived message kept"
stop_within_2s "$prefix-2"

# --- a non-default port, given as a flag after the image name -----------------------------------
start "$prefix-port" 4568 -- --port 4568 --in-memory
aws_cli sqs list-queues >/dev/null || fail "port 4568: sqs list-queues"
echo "== --port 4568: healthy and answering"
stop_within_2s "$prefix-port"

echo "docker/smoke.sh: PASSED"
