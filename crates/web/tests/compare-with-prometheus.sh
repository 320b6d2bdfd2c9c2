#!/usr/bin/env bash
# Runs the API side by side with a real Prometheus (Debian's `prometheus`,
# `promtool`) loaded with testdata/compare.om, and prints every request from
# testdata/compare-paths.txt whose status or body differ.
# Known differences with Prometheus 2.42 (Debian 12), where we follow 3.x:
# label values in results are not HTML-escaped, "invalid time value" is
# lower-case, range-vector range queries are `invalid parameter "query"`,
# status/tsdb validates `limit`, `limit` on query/labels/series exists, the
# empty query error says "unknown position", annotations (warnings) exist.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
promtool tsdb create-blocks-from openmetrics "$here/testdata/compare.om" "$work/data" >/dev/null
printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
port=${PROM_PORT:-19091}
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" >"$work/prom.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
PROM_ADDR="127.0.0.1:$port" PROM_DATA="$here/testdata/compare.om" PROM_PATHS="$here/testdata/compare-paths.txt" \
  cargo test -p bongsu-web --test api compare_with_prometheus -- --ignored --nocapture
