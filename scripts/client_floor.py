#!/usr/bin/env python3
"""Latency floor of the benchmark harness' HTTP client.

Times instant queries with the harness' own keep-alive `Client`
(../shared/bench/lib/bench.py, or $BONGSU_BENCH_HARNESS/lib) so a query's
median can be compared with what a trivial query costs through the same
client. Usage:

    scripts/client_floor.py http://127.0.0.1:9090 1795754044 '1' 'up{job="x"}'

prints the median, 10th and 90th percentile over 300 requests per query.
"""
import os
import statistics
import sys
import time
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
harness = os.environ.get("BONGSU_BENCH_HARNESS", os.path.join(here, "..", "..", "shared", "bench"))
sys.path.insert(0, os.path.join(harness, "lib"))
from bench import Client  # noqa: E402

if len(sys.argv) < 4:
    sys.exit(__doc__)
url, t = sys.argv[1], sys.argv[2]
c = Client(url)
for q in sys.argv[3:]:
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t})
    for _ in range(20):
        c.get(path)
    lat = []
    for _ in range(300):
        t0 = time.perf_counter()
        _, body = c.get(path)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    print("%-60s median %.3f ms  p10 %.3f  p90 %.3f  bytes %d"
          % (q[:60], statistics.median(lat) * 1000, lat[30] * 1000, lat[270] * 1000, len(body)))
