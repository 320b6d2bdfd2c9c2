#!/usr/bin/env bash
# Resident memory per series over time, for several programs scraping ONE
# shared set of synthetic targets at once (so they see identical data):
# 1M series over 20 targets of the shared harness' targets.py, 10 s interval.
# Each program is 'label|command', where {data} becomes its own data dir.
#
#   scripts/mem_trace.sh 300 \
#     "new|target/release/bongsu run --config.file={config} --storage.tsdb.path={data} --web.listen-address=127.0.0.1:19600" \
#     "old|/tmp/bongsu.old run --config.file={config} --storage.tsdb.path={data} --web.listen-address=127.0.0.1:19601" \
#     "prom|prometheus --config.file={config} --storage.tsdb.path={data} --web.listen-address=127.0.0.1:19602"
#
# Prints, every 30 s, VmRSS / 1,000,100 (the series plus the targets' `up` and
# scrape_* series) per program. SERIES and TARGETS override the load.
set -uo pipefail
DUR=${1:?usage: mem_trace.sh SECONDS 'label|command' ...}; shift
HARNESS=${BONGSU_BENCH_HARNESS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/bench}
SERIES=${SERIES:-1000000}; TARGETS=${TARGETS:-20}
WORK=${WORK:-/tmp/bongsu-mem-trace}; mkdir -p "$WORK"
CONFIG=$WORK/prometheus.yml
python3 "$HARNESS/targets.py" --series "$SERIES" --targets "$TARGETS" --base-port 19300 \
  --write-config "$CONFIG" --scrape-interval 10s --scrape-timeout 10s --max-runtime $((DUR + 60)) \
  > "$WORK/targets.log" 2>&1 &
TP=$!
sleep 15
PIDS=(); LABELS=()
for spec in "$@"; do
  L=${spec%%|*}; cmd=${spec#*|}
  rm -rf "${WORK:?}/data_$L"; mkdir -p "$WORK/data_$L"
  cmd=${cmd//\{data\}/$WORK/data_$L}; cmd=${cmd//\{config\}/$CONFIG}
  $cmd > "$WORK/$L.log" 2>&1 &
  PIDS+=($!); LABELS+=("$L")
done
trap 'kill "${PIDS[@]}" $TP 2>/dev/null' EXIT
PER=$((SERIES + 5 * TARGETS))
sleep 30
for t in $(seq 30 30 "$DUR"); do
  line="t=${t}s"
  for i in "${!PIDS[@]}"; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/${PIDS[$i]}/status" 2>/dev/null || echo 0)
    line="$line  ${LABELS[$i]} $((rss * 1024 / PER))"
  done
  echo "$line"
  sleep 30
done
