#!/usr/bin/env python3
"""Collector cost, side by side with the exporters doing the same work.

  BONGSU_BIN=target/release/bongsu python3 scripts/bench_collect.py [--rounds 5] [--cycles 40]

Measures, on this machine, with every process started fresh:
  * host collectors: CPU time (utime+stime from /proc/PID/stat, minus the
    same process' idle CPU over the same wall time) per collection and RSS
    after the cycles — Debian's prometheus-node-exporter (its default
    collectors, GET /metrics) vs `bongsu run` with an empty scrape config
    (GET /collect/node);
  * one blackbox http_2xx probe of a local HTTP target — Debian's
    prometheus-blackbox-exporter vs Bongsu's /probe (same module);
  * idling: `bongsu agent` with its defaults (host and cgroup collectors +
    itself every 15 s, remote_write to a local 204 receiver) vs an idle
    node_exporter, CPU seconds and RSS over 60 s of wall time;
  * per second: `bongsu agent` collecting host, cgroup (per unit) and
    per-process metrics every 1 s and shipping them, vs node_exporter and
    prometheus-process-exporter each scraped every 1 s by this script, over
    the same 60 s; --per-second-rounds times for each process population
    (--extra-procs: idle `sleep` processes added to the host's own).
Prints a table (median and min–max over the rounds) and appends JSON lines
to OUT (docs/bench/collect.jsonl by default).
"""
import argparse, http.server, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_http(url, secs=30):
    end = time.time() + secs
    while time.time() < end:
        try:
            get(url, 1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def serve_local():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def measure(pid, url, cycles):
    """CPU ms per request and RSS after `cycles` requests, idle CPU subtracted."""
    get(url)  # warm up (first-use allocations)
    c0, t0 = cpu_seconds(pid), time.time()
    for _ in range(cycles):
        get(url)
    busy, wall = cpu_seconds(pid) - c0, time.time() - t0
    # The same wall time idle, to subtract the process' background work.
    c1 = cpu_seconds(pid)
    time.sleep(min(wall, 5))
    idle = (cpu_seconds(pid) - c1) * wall / min(wall, 5)
    return max(0.0, busy - idle) / cycles * 1000, rss_bytes(pid)


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=log)


def per_second_run(binary, ne, work, local, log, wall, tag):
    """`bongsu agent` collecting host, cgroups and every process each second
    and shipping them, vs node_exporter and process-exporter each scraped
    every second by this script, over the same `wall` seconds."""
    pe = shutil.which("prometheus-process-exporter")
    pcfg = os.path.join(work, "processes.yml")
    with open(pcfg, "w") as f:
        f.write("process_names:\n  - name: '{{.Comm}}'\n    cmdline: ['.+']\n")
    agentcfg = os.path.join(work, "agent1s.yml")
    pa, pn, pp = free_port(), free_port(), free_port()
    with open(agentcfg, "w") as f:
        f.write(f"global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nremote_write:\n  - url: http://127.0.0.1:{local.server_address[1]}/api/v1/write\n"
                f"scrape_configs:\n"
                f"  - {{job_name: node, metrics_path: /collect/node, static_configs: [{{targets: ['127.0.0.1:{pa}']}}]}}\n"
                f"  - {{job_name: cadvisor, metrics_path: /collect/containers, static_configs: [{{targets: ['127.0.0.1:{pa}']}}]}}\n"
                f"  - {{job_name: processes, metrics_path: /collect/processes, static_configs: [{{targets: ['127.0.0.1:{pa}']}}]}}\n")
    procs = [start([binary, "agent", f"--config.file={agentcfg}", f"--storage.agent.path={work}/agent1s-{tag}", f"--web.listen-address=127.0.0.1:{pa}",
                    f"--collector.processes.config={pcfg}"], log),
             start([ne, f"--web.listen-address=127.0.0.1:{pn}"], log)]
    if pe:
        procs.append(start([pe, f"-config.path={pcfg}", f"-web.listen-address=127.0.0.1:{pp}"], log))
    stop = threading.Event()

    def scrape_loop():
        while not stop.is_set():
            t = time.time()
            for u in [f"http://127.0.0.1:{pn}/metrics"] + ([f"http://127.0.0.1:{pp}/metrics"] if pe else []):
                try:
                    get(u)
                except Exception:
                    pass
            stop.wait(max(0.0, 1.0 - (time.time() - t)))
    try:
        wait_http(f"http://127.0.0.1:{pa}/-/ready")
        wait_http(f"http://127.0.0.1:{pn}/metrics")
        if pe:
            wait_http(f"http://127.0.0.1:{pp}/metrics")
        th = threading.Thread(target=scrape_loop, daemon=True)
        th.start()
        time.sleep(3)
        c = [cpu_seconds(p.pid) for p in procs]
        time.sleep(wall)
        used = [cpu_seconds(p.pid) - c0 for p, c0 in zip(procs, c)]
        out = {"agent_cpu_s": used[0], "agent_rss": rss_bytes(procs[0].pid), "ne_cpu_s": used[1], "ne_rss": rss_bytes(procs[1].pid),
               "pe_cpu_s": used[2] if pe else None, "pe_rss": rss_bytes(procs[2].pid) if pe else None, "wall_s": wall}
        try:
            for line in get(f"http://127.0.0.1:{pa}/metrics").decode().splitlines():
                if line.startswith("prometheus_remote_storage_samples_total"):
                    out["agent_samples_sent"] = float(line.rsplit(" ", 1)[1])
        except Exception:
            pass
        stop.set()
        return out
    finally:
        stop.set()
        for p in procs:
            p.terminate()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--idle", type=int, default=60, help="wall seconds of the idle and per-second runs")
    ap.add_argument("--per-second-rounds", type=int, default=3)
    ap.add_argument("--extra-procs", type=lambda v: [int(x) for x in v.split(",")], default=[0, 500],
                    help="idle `sleep` processes added for the per-second runs, one population per value (default 0,500)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/bench/collect.jsonl"))
    a = ap.parse_args()
    binary = os.environ.get("BONGSU_BIN", os.path.join(ROOT, "target/release/bongsu"))
    ne = shutil.which("prometheus-node-exporter")
    bb = shutil.which("prometheus-blackbox-exporter")
    if not ne or not bb:
        sys.exit("needs Debian's prometheus-node-exporter and prometheus-blackbox-exporter")
    work = tempfile.mkdtemp(prefix="bongsu-bench-collect-")
    local = serve_local()
    target = f"http://127.0.0.1:{local.server_address[1]}/"
    bbcfg = os.path.join(work, "blackbox.yml")
    with open(bbcfg, "w") as f:
        f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
    empty = os.path.join(work, "empty.yml")
    with open(empty, "w") as f:
        f.write("scrape_configs: []\n")
    results = {k: [] for k in ["node_ne", "node_bongsu", "probe_bb", "probe_bongsu"]}
    log = open(os.path.join(work, "log.txt"), "w")
    try:
        for r in range(a.rounds):
            pn, pb, pk = free_port(), free_port(), free_port()
            procs = [
                start([ne, f"--web.listen-address=127.0.0.1:{pn}"], log),
                start([binary, "run", f"--config.file={empty}", f"--storage.tsdb.path={work}/data{r}", f"--web.listen-address=127.0.0.1:{pb}",
                       f"--probe.config.file={bbcfg}"], log),
                start([bb, f"--config.file={bbcfg}", f"--web.listen-address=127.0.0.1:{pk}"], log),
            ]
            try:
                wait_http(f"http://127.0.0.1:{pn}/metrics")
                wait_http(f"http://127.0.0.1:{pb}/-/ready")
                wait_http(f"http://127.0.0.1:{pk}/metrics")
                results["node_ne"].append(measure(procs[0].pid, f"http://127.0.0.1:{pn}/metrics", a.cycles))
                results["node_bongsu"].append(measure(procs[1].pid, f"http://127.0.0.1:{pb}/collect/node", a.cycles))
                q = f"probe?target={target}&module=http_2xx"
                results["probe_bb"].append(measure(procs[2].pid, f"http://127.0.0.1:{pk}/{q}", a.cycles))
                results["probe_bongsu"].append(measure(procs[1].pid, f"http://127.0.0.1:{pb}/{q}", a.cycles))
            finally:
                for p in procs:
                    p.terminate()
                    p.wait()
            print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{k} {v[-1][0]:.2f} ms" for k, v in results.items()), flush=True)
        # Idle: bongsu agent vs node_exporter over the same wall time.
        pa, pn = free_port(), free_port()
        agentcfg = os.path.join(work, "agent.yml")
        with open(agentcfg, "w") as f:
            f.write(f"global: {{scrape_interval: 15s}}\nremote_write:\n  - url: http://127.0.0.1:{local.server_address[1]}/api/v1/write\n")
        procs = [start([binary, "agent", f"--config.file={agentcfg}", f"--storage.agent.path={work}/agent", f"--web.listen-address=127.0.0.1:{pa}"], log),
                 start([ne, f"--web.listen-address=127.0.0.1:{pn}"], log)]
        try:
            wait_http(f"http://127.0.0.1:{pa}/-/ready")
            wait_http(f"http://127.0.0.1:{pn}/metrics")
            time.sleep(2)
            c = [cpu_seconds(p.pid) for p in procs]
            time.sleep(a.idle)
            idle = {"agent_cpu_s": cpu_seconds(procs[0].pid) - c[0], "agent_rss": rss_bytes(procs[0].pid),
                    "ne_cpu_s": cpu_seconds(procs[1].pid) - c[1], "ne_rss": rss_bytes(procs[1].pid), "wall_s": a.idle}
        finally:
            for p in procs:
                p.terminate()
                p.wait()
        # Per second, over each process population, several times.
        per_second = []
        for extra in a.extra_procs:
            sleepers = [subprocess.Popen(["sleep", "86400"], executable="sleep", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                        for _ in range(extra)]
            try:
                time.sleep(1)
                for rep in range(a.per_second_rounds):
                    ps = per_second_run(binary, ne, work, local, log, a.idle, f"{extra}-{rep}")
                    ps["extra_procs"] = extra
                    ps["processes"] = sum(1 for d in os.listdir("/proc") if d.isdigit())
                    per_second.append(ps)
                    print(f"per second, {ps['processes']} processes, run {rep + 1}/{a.per_second_rounds}: agent {100 * ps['agent_cpu_s'] / ps['wall_s']:.2f}%, "
                          f"node_exporter {100 * ps['ne_cpu_s'] / ps['wall_s']:.2f}%"
                          + (f", process-exporter {100 * ps['pe_cpu_s'] / ps['wall_s']:.2f}%" if ps["pe_cpu_s"] is not None else ""), flush=True)
            finally:
                for p in sleepers:
                    p.kill()
                    p.wait()
    finally:
        log.close()
        local.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    def row(name, key_a, key_b):
        ca = [x[0] for x in results[key_a]]
        cb = [x[0] for x in results[key_b]]
        ra = [x[1] / 2**20 for x in results[key_a]]
        rb = [x[1] / 2**20 for x in results[key_b]]
        ratio = statistics.median(cb) / statistics.median(ca) if statistics.median(ca) > 0 else float("nan")
        print(f"| {name} | {statistics.median(ca):.2f} ({min(ca):.2f}–{max(ca):.2f}) | {statistics.median(cb):.2f} ({min(cb):.2f}–{max(cb):.2f}) | {ratio:.2f} | "
              f"{statistics.median(ra):.1f} | {statistics.median(rb):.1f} |")

    print("\n| work | peer CPU ms/op median (min–max) | Bongsu CPU ms/op | Bongsu/peer | peer RSS MiB | Bongsu RSS MiB |")
    print("|---|---|---|---|---|---|")
    row("host collection (node_exporter defaults vs /collect/node)", "node_ne", "node_bongsu")
    row("one http_2xx probe (blackbox_exporter vs /probe)", "probe_bb", "probe_bongsu")
    print(f"\nidle {idle['wall_s']} s: bongsu agent {idle['agent_cpu_s']:.2f} CPU s, {idle['agent_rss'] / 2**20:.1f} MiB RSS; "
          f"node_exporter {idle['ne_cpu_s']:.2f} CPU s, {idle['ne_rss'] / 2**20:.1f} MiB RSS")
    print("\n| processes | bongsu agent % of a core, median (min–max) | node_exporter % | process-exporter % | exporters together % | agent / exporters | agent RSS MiB | exporters RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for extra in a.extra_procs:
        runs = [p for p in per_second if p["extra_procs"] == extra]
        pct = lambda key: [100 * p[key] / p["wall_s"] for p in runs]
        ag, nx = pct("agent_cpu_s"), pct("ne_cpu_s")
        px = pct("pe_cpu_s") if all(p["pe_cpu_s"] is not None for p in runs) else [0.0] * len(runs)
        both = [x + y for x, y in zip(nx, px)]
        m = statistics.median
        print(f"| {m([p['processes'] for p in runs]):.0f} | {m(ag):.2f} ({min(ag):.2f}–{max(ag):.2f}) | {m(nx):.2f} | {m(px):.2f} | {m(both):.2f} | {m(ag) / m(both):.2f} | "
              f"{m([p['agent_rss'] for p in runs]) / 2**20:.1f} | {m([p['ne_rss'] + (p['pe_rss'] or 0) for p in runs]) / 2**20:.1f} |")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        f.write(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": a.rounds, "cycles": a.cycles,
                            "results": results, "idle": idle, "per_second": per_second}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
