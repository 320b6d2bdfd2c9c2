#!/usr/bin/env python3
"""Web UI benchmark: time to first render of a 30-panel dashboard over 1k
series for 24 h, in headless Chromium, against a release Bongsu.

  BONGSU_BIN=target/release/bongsu python3 scripts/bench_ui.py [--repeats 7]

Generates 1,000 series (500 counters, 500 gauges in 10 groups) at a 60 s
interval for 24 h as OpenMetrics, backfills them with `bongsu tsdb
create-blocks-from openmetrics` twice — as 24 h blocks (the compacted
layout a server that has run for a day reads: 2 blocks across the day
boundary) and as 13 freshly backfilled 2 h blocks (before any compaction)
— and measures each, writes a dashboard of 30 panels (20
timeseries, 4 stat, 3 gauge, 3 bar gauge; each panel's queries touch
50–500 series), serves it with --dashboards.dir, and runs
ui/tests/bench-render.mjs: open /d/bench-30 with a cold browser context,
stop the clock when every panel has drawn (data-loaded on all 30). Prints
the median and the spread; the JSON of every run goes to OUT.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def write_openmetrics(path, end):
    start = end - 24 * 3600
    with open(path, "w") as f:
        f.write("# TYPE bench_requests counter\n")
        for i in range(500):
            g = i % 10
            v = 0.0
            for t in range(start, end, 60):
                v += (i % 7) + 1 + (t // 60 % 13)
                f.write(f'bench_requests_total{{group="g{g}",series="s{i}"}} {v} {t}\n')
        f.write("# TYPE bench_temperature gauge\n")
        for i in range(500):
            g = i % 10
            for t in range(start, end, 60):
                f.write(f'bench_temperature{{group="g{g}",series="s{i}"}} {20 + (i % 17) + ((t // 60 + i) % 29) / 10} {t}\n')
        f.write("# EOF\n")


def dashboard():
    panels = []
    pid = 1
    def add(kind, title, exprs, w, h, x, y, unit="short"):
        nonlocal pid
        p = {"id": pid, "type": kind, "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
             "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 35}]}}, "overrides": []},
             "options": {"reduceOptions": {"calcs": ["lastNotNull"]}},
             "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": "{{group}}"} for i, e in enumerate(exprs)]}
        panels.append(p)
        pid += 1
    y = 0
    for i in range(4):
        add("stat", f"total rate g{i}", [f'sum(rate(bench_requests_total{{group="g{i}"}}[$__rate_interval]))'], 6, 4, i * 6, y, "reqps")
    y += 4
    for i in range(3):
        add("gauge", f"avg temperature g{i}", [f'avg(bench_temperature{{group="g{i}"}})'], 4, 5, i * 4, y, "celsius")
    for i in range(3):
        add("bargauge", f"max temperature by group {i}", [f'max by (group) (bench_temperature{{group=~"g[{i*3}-{i*3+2}]"}})'], 4, 5, 12 + i * 4, y, "celsius")
    y += 5
    for i in range(20):
        x = (i % 2) * 12
        if i % 2 == 0 and i:
            y += 8
        if i % 4 == 0:
            exprs = [f'sum by (group) (rate(bench_requests_total[$__rate_interval]))']
        elif i % 4 == 1:
            exprs = [f'bench_temperature{{group="g{i % 10}"}}']
        elif i % 4 == 2:
            exprs = [f'avg by (group) (bench_temperature)', f'max by (group) (bench_temperature)']
        else:
            exprs = [f'topk(5, rate(bench_requests_total{{group="g{i % 10}"}}[$__rate_interval]))']
        add("timeseries", f"panel {i}", exprs, 12, 8, x, y)
    return {"uid": "bench-30", "title": "Bench 30 panels", "schemaVersion": 39, "time": {"from": "now-24h", "to": "now"}, "panels": panels}


def measure(binary, cfg, data, dash_dir, repeats):
    """Starts Bongsu on `data` and runs bench-render.mjs against it."""
    port = free_port()
    srv = subprocess.Popen([binary, "run", f"--config.file={cfg}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                            f"--dashboards.dir={dash_dir}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        out = subprocess.run(["node", "tests/bench-render.mjs", f"http://127.0.0.1:{port}", str(repeats)], cwd=os.path.join(ROOT, "ui"),
                             capture_output=True, text=True, check=True)
        return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    finally:
        srv.terminate()
        srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/bench/ui-render.jsonl"))
    a = ap.parse_args()
    binary = os.environ.get("BONGSU_BIN", os.path.join(ROOT, "target/release/bongsu"))
    work = tempfile.mkdtemp(prefix="bongsu-bench-ui-")
    try:
        end = int(time.time()) // 60 * 60
        om = os.path.join(work, "data.om")
        t0 = time.time()
        write_openmetrics(om, end)
        print(f"== generated 1,000 series × 1,440 samples in {time.time() - t0:.1f} s", flush=True)
        layouts = {"24h": os.path.join(work, "data-24h"), "2h": os.path.join(work, "data-2h")}
        for dur, data in layouts.items():
            subprocess.run([binary, "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={dur}", om, data], check=True, stdout=subprocess.DEVNULL)
        os.remove(om)
        dash_dir = os.path.join(work, "dashboards")
        os.makedirs(dash_dir)
        with open(os.path.join(dash_dir, "bench.json"), "w") as f:
            json.dump(dashboard(), f)
        cfg = os.path.join(work, "empty.yml")
        with open(cfg, "w") as f:
            f.write("scrape_configs: []\n")
        for dur, data in layouts.items():
            blocks = len([d for d in os.listdir(data) if len(d) == 26])
            runs = measure(binary, cfg, data, dash_dir, a.repeats)
            ms = [r["ms"] for r in runs]
            print(f"== {blocks} blocks of ≤{dur}: first render of 30 panels over 1,000 series × 24 h: median {statistics.median(ms):.0f} ms, "
                  f"min {min(ms):.0f}, max {max(ms):.0f} ({len(ms)} cold loads; the first screen ({runs[-1]['viewportPanels']} panels) complete at median "
                  f"{statistics.median(r['viewportMs'] for r in runs):.0f} ms; last query answered at median "
                  f"{statistics.median(r['lastAnswer'] for r in runs):.0f} ms; panels with data: {runs[-1]['withData']}/{runs[-1]['panels']}, "
                  f"errors: {runs[-1]['errors']})", flush=True)
            os.makedirs(os.path.dirname(a.out), exist_ok=True)
            with open(a.out, "a") as f:
                for r in runs:
                    f.write(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "blocks": blocks, "block_duration": dur, **r}) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
