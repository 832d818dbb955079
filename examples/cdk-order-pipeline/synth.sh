#!/usr/bin/env bash
# Synthesizes this CDK app offline into a cloud assembly: `bash synth.sh [OUT]` (default: the
# committed ./cdk.out). npm packages are installed from package-lock.json into
# ${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/cdk-order-pipeline, never into the repository;
# synthesis itself needs no network (--no-lookups, no version check, notices or telemetry).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "${1:-$here/cdk.out}")"
work="${LYREBIRD_CLIENT_CACHE:-/tmp/lyrebird-clients}/cdk-order-pipeline"
mkdir -p "$work"

# Reinstall only when the lock file changed.
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
    cp "$here/package.json" "$here/package-lock.json" "$work/"
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$here/app.js" "$here/cdk.json" "$work/"

export CDK_DISABLE_STACK_TRACE=1 CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1 CDK_DISABLE_LEGACY_EXPORT_WARNING=1
rm -rf "$out"
(cd "$work" && npx --no-install cdk synth --no-lookups --quiet --no-notices \
    --no-version-reporting --no-path-metadata --no-asset-metadata --ci -o "$out" >/dev/null)
echo "synthesized $out"
