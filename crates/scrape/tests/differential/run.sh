#!/usr/bin/env bash
# Differential check of target relabelling, honor_labels, exported_ prefixes,
# metric relabelling and the synthetic series against a real Prometheus:
# both scrape target.py with prom.yml; the stored label sets must agree.
# Needs `prometheus` and `python3`. Usage: crates/scrape/tests/differential/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
python3 "$here/target.py" 18080 & tpid=$!
prometheus --config.file="$here/prom.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:19090 >"$work/prom.log" 2>&1 & ppid=$!
trap 'kill $tpid $ppid 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 8
norm='import json,sys
rows = json.load(sys.stdin)["data"] if sys.argv[1] == "api" else [json.loads(l[7:]) for l in sys.stdin if l.startswith("SERIES ")]
for r in sorted(json.dumps(x, sort_keys=True) for x in rows): print(r)'
curl -s 'http://127.0.0.1:19090/api/v1/series' --data-urlencode 'match[]={__name__=~".+"}' \
  | python3 -c "$norm" api >"$work/prometheus.txt"
BONGSU_DIFF_CONFIG="$here/prom.yml" cargo test -q -p bongsu-scrape --test scrape_loop differential -- --ignored --nocapture 2>/dev/null \
  | python3 -c "$norm" ours >"$work/bongsu.txt"
# Prometheus' TSDB refuses the sample with an ancient explicit timestamp
# (out of bounds); the in-test store keeps it, so `ts` of honouring jobs is ignored.
if diff <(grep -v '"ts"' "$work/prometheus.txt") <(grep -v '"ts"' "$work/bongsu.txt"); then
  echo "identical: $(wc -l <"$work/bongsu.txt") series"
else
  exit 1
fi
