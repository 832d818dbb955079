#!/usr/bin/env bash
# CI check of docker/docker-compose.yml, run by .ci/run after docker/smoke.sh: the example as a
# user runs it, under its own project name (lyrebird-ci-PID) and any free host port.
#   1. `up --build --exit-code-from app`: lyrebird is built, becomes healthy, then the app (the
#      AWS CLI) talks to http://lyrebird:4566: a queue round trip, and a publish to the
#      template's topic that reaches the template's filtered queue. The app must exit 0.
#   2. a message is left unreceived, `down` (the volume stays), and after `up` it is still there.
#   3. `down -v` removes everything it made (also on failure).
# Any failing step prints one line `docker/compose-check.sh: FAILED - <step>: <why>` and exits 1;
# only a missing Docker engine skips, loudly, exit 0.
#
#   bash docker/compose-check.sh
set -euo pipefail

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "############################################################################" >&2
    echo "docker/compose-check.sh: SKIPPED - no Docker engine available (\`docker info\` failed)." >&2
    echo "############################################################################" >&2
    exit 0
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="lyrebird-ci-$$"
out="$(mktemp)"
# No buildx on the CI machines: the legacy builder, unless the caller chose otherwise.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"
# Any free host port, so CI never collides with a lyrebird already on 4566.
export LYREBIRD_HOST_PORT="${LYREBIRD_HOST_PORT:-0}"

compose() { docker compose -p "$project" -f "$here/docker-compose.yml" "$@"; }

cleanup() {
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -f "$out"
}
trap cleanup EXIT
trap 'echo "docker/compose-check.sh: FAILED - interrupted" >&2; exit 1' INT TERM

fail() {
    echo "--- lyrebird's log:" >&2
    compose logs --no-color --tail 30 lyrebird >&2 || true
    echo "docker/compose-check.sh: FAILED - $*" >&2
    exit 1
}

docker compose version >/dev/null 2>&1 || fail "compose: no \`docker compose\` plugin (docker-standin.sh --with-compose installs it)"

# run_app SCRIPT: a one-off app container running SCRIPT (sh -ec); it waits for lyrebird's
# health as the app service does, starting lyrebird if needed.
run_app() { compose run --rm -T app "$1"; }

echo "== compose up --build (project $project)"
t0=$SECONDS
compose up --build --exit-code-from app 2>&1 | tee "$out" || fail "up: the app or the build failed (exit ${PIPESTATUS[0]}; output above)"
echo "== up finished in $((SECONDS - t0)) s"
grep -q "app-1 .*hello from the app container" "$out" ||
    fail "app: did not receive its own message through http://lyrebird:4566"
grep -q 'app-1 .*orderId' "$out" || fail "app: the publish to order-events did not reach the orders queue"

inbox=http://lyrebird:4566/000000000000/app-inbox
run_app "aws sqs send-message --queue-url $inbox --message-body kept-across-down-up" >/dev/null ||
    fail "send before down: the app could not send to app-inbox"

echo "== compose down (the volume stays), then up again"
compose down || fail "down"
docker volume inspect "${project}_lyrebird-data" >/dev/null 2>&1 || fail "down: the lyrebird-data volume is gone"
compose up -d --wait lyrebird || fail "up after down: lyrebird did not become healthy"
bodies="$(run_app "aws sqs receive-message --queue-url $inbox --max-number-of-messages 10 \
    --query 'Messages[].Body' --output text")" || fail "receive after down/up: the app could not receive"
[[ "$bodies" == *kept-across-down-up* ]] ||
    fail "state: the message sent before \`down\` is gone after \`up\` (received '$bodies')"
echo "== state kept across down/up in ${project}_lyrebird-data"

compose down -v || fail "down -v"
echo "docker/compose-check.sh: PASSED"
