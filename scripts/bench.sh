#!/usr/bin/env bash
# Side-by-side benchmark of Bongsu with the real peers (Prometheus, VictoriaMetrics)
# on the same synthetic load, in one run, with the shared harness (../shared/bench,
# override with BONGSU_BENCH_HARNESS). Results: $OUT/report.md and results.jsonl.
#
#   ./scripts/bench.sh                       # 100k and 1M series, 3 peers (~40 min)
#   SIZES=100000 DURATION=60 ./scripts/bench.sh   # quicker
#   QUERIES_FILE=$PWD/scripts/queries-promql.txt ./scripts/bench.sh   # + the PromQL heavy cases
#
# Needs Debian's prometheus and victoria-metrics (apt-get install prometheus victoria-metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${BONGSU_BENCH_HARNESS:-$(cd .. && pwd)/shared/bench}
[ -d "$HARNESS" ] || { echo "benchmark harness not found at $HARNESS" >&2; exit 1; }
if [ -z "${BONGSU_BIN:-}" ]; then
  cargo build --release -p bongsu
  BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/bongsu
else
  BIN=$BONGSU_BIN   # a binary you built yourself
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export OUT=${OUT:-/tmp/bench/bongsu-$STAMP}
export PEERS=${PEERS:-"prometheus victoriametrics custom"}
export CUSTOM_BIN=$BIN
export CUSTOM_ARGS='run --config.file={config} --storage.tsdb.path={data} --web.listen-address={listen} --web.enable-admin-api --log.level=warn'
export CUSTOM_READY_PATH=/-/ready
export PEER_INGEST_METRIC=prometheus_tsdb_head_samples_appended_total
export PEER_SERIES_METRIC=prometheus_tsdb_head_series
export PEER_FLUSH=prometheus-snapshot
export SIZES=${SIZES:-"100000 1000000"}
export INTERVAL=${INTERVAL:-10}
export DURATION=${DURATION:-100}
export REPEATS=${REPEATS:-5}
# Query set (default: the harness' queries.txt); must be an absolute path.
[ -n "${QUERIES_FILE:-}" ] && export QUERIES_FILE=$(realpath "$QUERIES_FILE")
echo "== ingest + queries: peers=[$PEERS] sizes=[$SIZES] interval=${INTERVAL}s window=${DURATION}s repeats=$REPEATS -> $OUT"
"$HARNESS/bench_ingest.sh"
if [ "${SKIP_DISK:-0}" != 1 ]; then
  echo "== bytes per sample at depth (2 h of 10 s samples, backfilled)"
  CUSTOM_BACKFILL_CMD="$BIN tsdb create-blocks-from openmetrics {input} {outdir}" \
    DISK_SERIES=${DISK_SERIES:-2000} HOURS=${HOURS:-2} OUT=$OUT/disk "$HARNESS/bench_disk.sh"
fi
echo "== reports: $OUT/report.md $OUT/disk/report-disk.md"
