#!/usr/bin/env bash
# Smoke test of the Docker image: builds it, runs it, waits for its HEALTHCHECK, creates a queue
# and a topic through the AWS CLI, checks they survive a container restart (the data volume is
# writable by the image's non-root user), and removes everything it made.
#
# Without a Docker engine (only the client, or none) it says so and exits 0, so CI can call it
# anywhere. Uses the host's `aws` (CLI v1 or v2) if there is one, else the amazon/aws-cli image.
#
#   bash docker/smoke.sh
set -euo pipefail

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "docker/smoke.sh: SKIPPED - no Docker engine available (\`docker info\` failed); the image was not built."
    exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="lyrebird:smoke-$$"
name="lyrebird-smoke-$$"
volume="lyrebird-smoke-data-$$"

cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker volume rm -f "$volume" >/dev/null 2>&1 || true
    docker image rm -f "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

fail() {
    echo "docker/smoke.sh: FAILED - $*" >&2
    echo "--- container log:" >&2
    docker logs "$name" >&2 || true
    exit 1
}

echo "== building $tag"
docker build -t "$tag" "$root"
docker image ls "$tag" --format 'image size: {{.Size}}'
user="$(docker image inspect -f '{{.Config.User}}' "$tag")"
[[ "$user" == 65532:65532 ]] || fail "image user is '$user', expected 65532:65532"

start() {
    docker run -d --name "$name" -p 127.0.0.1::4566 -v "$volume:/var/lib/lyrebird" "$tag" >/dev/null
    local status=""
    for _ in $(seq 1 60); do
        status="$(docker inspect -f '{{.State.Health.Status}}' "$name")"
        [[ "$status" == healthy ]] && break
        [[ "$(docker inspect -f '{{.State.Running}}' "$name")" == true ]] || fail "container exited"
        sleep 1
    done
    [[ "$status" == healthy ]] || fail "not healthy after 60 s (status: $status)"
    port="$(docker port "$name" 4566/tcp | head -n 1 | sed 's/.*://')"
    echo "== $name healthy, published on 127.0.0.1:$port"
}

# aws ARGS...: the AWS CLI against the container, with the endpoint as its only special setting.
aws_cli() {
    if command -v aws >/dev/null 2>&1; then
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
            aws --endpoint-url "http://127.0.0.1:$port" --output text "$@"
    else
        docker run --rm --network "container:$name" \
            -e AWS_ACCESS_KEY_ID=test -e AWS_SECRET_ACCESS_KEY=test -e AWS_DEFAULT_REGION=us-east-1 \
            -e AWS_ENDPOINT_URL=http://127.0.0.1:4566 \
            amazon/aws-cli --output text "$@"
    fi
}

start
docker exec "$name" /usr/local/bin/lyrebird healthcheck || fail "lyrebird healthcheck failed inside the container"

queue_url="$(aws_cli sqs create-queue --queue-name smoke --query QueueUrl)" || fail "create-queue"
topic_arn="$(aws_cli sns create-topic --name smoke --query TopicArn)" || fail "create-topic"
echo "created $queue_url and $topic_arn"
aws_cli sqs send-message --queue-url "$queue_url" --message-body hello >/dev/null || fail "send-message"

echo "== restarting: state must survive in the volume"
docker rm -f "$name" >/dev/null
start
[[ "$(aws_cli sqs list-queues --query 'QueueUrls[0]')" == */000000000000/smoke ]] || fail "queue lost across restart"
[[ "$(aws_cli sns list-topics --query 'Topics[0].TopicArn')" == "$topic_arn" ]] || fail "topic lost across restart"
[[ "$(aws_cli sqs receive-message --queue-url "$queue_url" --query 'Messages[0].Body')" == hello ]] ||
    fail "message lost across restart"

aws_cli sqs delete-queue --queue-url "$queue_url" || fail "delete-queue"
aws_cli sns delete-topic --topic-arn "$topic_arn" || fail "delete-topic"

docker stop -t 10 "$name" >/dev/null
[[ "$(docker inspect -f '{{.State.ExitCode}}' "$name")" == 0 ]] || fail "did not stop cleanly on SIGTERM"
echo "docker/smoke.sh: PASSED"
