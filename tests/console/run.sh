#!/usr/bin/env bash
# The console in a real browser: starts lyrebird (--in-memory, --init template.yaml) and drives
# /_lyrebird/console/ with playwright-core in Debian's chromium (console.test.cjs). Installs
# chromium with apt-get when it is missing (root or sudo), and playwright-core with npm into
# ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/console, never into the repository.
# LYREBIRD_BIN: the binary to test (default: a release build). Screenshots go to
# ${LYREBIRD_SCREENSHOTS:-/tmp/lyrebird-console-screenshots}. Non-interactive.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/console"
chromium="${CHROMIUM:-$(command -v chromium || true)}"

if [[ -z "$chromium" ]]; then
    echo "== installing chromium (Debian package)"
    sudo_cmd=""
    [[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
    chromium="$(command -v chromium)"
fi
"$chromium" --version

mkdir -p "$cache"
if ! cmp -s "$here/package.json" "$cache/package.json" || [[ ! -d "$cache/node_modules/playwright-core" ]]; then
    cp "$here/package.json" "$cache/package.json"
    (cd "$cache" && npm install --no-audit --no-fund --loglevel=error)
fi

if [[ -n "${LYREBIRD_BIN:-}" ]]; then
    bin="$LYREBIRD_BIN"
else
    (cd "$root" && cargo build --release --quiet --bin lyrebird)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/lyrebird"
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp "${TMPDIR:-/tmp}/lyrebird-console-server.XXXXXX.log")"
# A small function and a queue mapped to it, for the Lambda pages (template.yaml).
"$bin" --in-memory --host 127.0.0.1 --port "$port" --init "$here/template.yaml" >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for attempt in $(seq 1 100); do
    "$bin" --host 127.0.0.1 --port "$port" healthcheck >/dev/null 2>&1 && break
    if ! kill -0 "$server_pid" 2>/dev/null || [[ $attempt == 100 ]]; then
        echo "lyrebird did not come up; log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done

NODE_PATH="$cache/node_modules" CHROMIUM="$chromium" \
    SCREENSHOTS="${LYREBIRD_SCREENSHOTS:-/tmp/lyrebird-console-screenshots}" \
    node "$here/console.test.cjs" "http://127.0.0.1:$port" || {
    echo "== server log ($log):"
    tail -n 50 "$log"
    exit 1
}
