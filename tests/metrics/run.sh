#!/usr/bin/env bash
# /metrics checked by a real Prometheus text parser: installs Python's prometheus_client into a
# venv under ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/prometheus (never the repository)
# and runs tests/metrics.rs with it (LYREBIRD_PROMETHEUS_PYTHON): queues, topics, requests and the
# store, then rules, buses and functions (a Node handler: node must be on PATH). Non-interactive.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/prometheus"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1

if ! "$venv/bin/python" -c "import prometheus_client" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q prometheus_client
fi
cd "$root"
log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-metrics-test.XXXXXX.log")"
LYREBIRD_PROMETHEUS_PYTHON="$venv/bin/python" cargo test --locked --test metrics -- --nocapture >"$log" 2>&1 ||
    { cat "$log"; exit 1; }
# The parse must really have gone through prometheus_client.
grep "parsed .* samples with prometheus_client" "$log"
grep "test result" "$log"
