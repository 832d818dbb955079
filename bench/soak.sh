#!/usr/bin/env bash
# The soak (issue 17 item 9), one command: builds the release binaries, starts a fresh lyrebird on
# a data directory and runs 30 minutes of mixed load (SendMessageBatch, SendMessage, Publish to a
# subscribed topic, receive + DeleteMessageBatch from both queues) at half of the rate the same
# mix reaches unpaced on this machine. Samples throughput, p50/p99, errors, RSS and queue depth
# every minute; exits non-zero unless there were no errors, the RSS grew at most 10 % after the
# first minute and p99 stayed steady (bench/src/soak.rs). Results in BENCHMARKS.md ("Soak").
#
# Environment: SOAK_SECONDS (1800), SOAK_SAMPLE (60), SOAK_RATE (calls/s; 0 = half the maximum),
# SOAK_STORE (disk | memory), SOAK_JSON (soak.jsonl), SOAK_BUILD (1; 0 = use what is built).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${SOAK_BUILD:-1}" == 1 ]]; then
    cargo build --release --locked --bins
fi
target="${CARGO_TARGET_DIR:-$PWD/target}/release"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
if [[ "${SOAK_STORE:-disk}" == memory ]]; then
    store=(--server-arg --in-memory)
else
    store=(--server-arg --data-dir --server-arg "$dir/data")
fi
"$target/lyrebird-bench" --server-bin "$target/lyrebird" "${store[@]}" \
    --workloads soak --connections 16 \
    --soak-seconds "${SOAK_SECONDS:-1800}" --soak-sample "${SOAK_SAMPLE:-60}" \
    --soak-rate "${SOAK_RATE:-0}" --json "${SOAK_JSON:-soak.jsonl}"
