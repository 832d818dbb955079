"""Parses a /metrics exposition (stdin) with Python's prometheus_client parsers, as Prometheus
tooling would, and prints its samples as JSON: [{"name", "labels", "value"}]. Used by
tests/metrics.rs (LYREBIRD_PROMETHEUS_PYTHON); fails loudly if either parser rejects the text."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus

text = sys.stdin.read()
# The OpenMetrics parser is strict (# EOF, _total, units); the Prometheus one is what most
# scrapers use. Both must accept the text and agree on every sample.
strict = [(s.name, s.labels, s.value) for f in openmetrics(text) for s in f.samples]
loose = [(s.name, s.labels, s.value) for f in prometheus(text) for s in f.samples]
strict_keys = {(n, tuple(sorted(l.items()))): v for n, l, v in strict}
for name, labels, value in loose:
    key = (name, tuple(sorted(labels.items())))
    if key in strict_keys and strict_keys[key] != value:
        sys.exit(f"parsers disagree on {key}: {strict_keys[key]} != {value}")
json.dump([{"name": n, "labels": l, "value": v} for n, l, v in strict], sys.stdout)
