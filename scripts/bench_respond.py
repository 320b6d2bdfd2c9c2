#!/usr/bin/env python3
"""Automated-response latency benchmark: how long from a problem to the
first remediation step, Bongsu against the classic stack.

Two stacks, one after the other, on 127.0.0.1, doing the same "restart":
  bongsu   : one `bongsu run` — scrape, rule, built-in Alertmanager, a
             `runbook_configs` receiver, an `exec` step
  prom+am  : Debian's `prometheus` → Debian's `prometheus-alertmanager` →
             webhook → a webhook-to-script bridge (a Python HTTP server that
             runs the script per firing alert, like adnanh/webhook or
             prometheus-am-executor)

The "restart" is a script that appends the wall-clock time to a file: the
moment the first step starts. The condition: a target flips `demo_broken`
from 0 to 1 at T0 (a random phase against the scrape and evaluation ticks);
the rule `demo_broken == 1` (for: 0) fires; routes have group_wait 0s.
Scrape interval = evaluation interval = 1s, then 15s.

Measured per repeat: T0 → first step start. Then, for the webhook hop on
its own: a POST of an Alertmanager webhook payload (a new alert each time)
to Bongsu's `/api/bongsu/v1/respond/webhook` and to the bridge → step start.

Usage: scripts/bench_respond.py --bongsu /path/to/release/bongsu [--repeats 10 --repeats-slow 5 --posts 200]
Prints a JSON summary (and a table) to stdout.
"""
import argparse, http.server, json, os, random, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_alerting import Server, free_port  # noqa: E402  (shared with the alerting benchmark)


class Target:
    def __init__(self):
        self.value = 0
        self.port = free_port()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                b = f"# TYPE demo_broken gauge\ndemo_broken {me.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def log_message(self, *a):
                pass

        self.srv = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


class Bridge:
    """The classic glue: Alertmanager webhook → run a script per firing alert."""

    def __init__(self, script):
        self.port = free_port()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                for a in body.get("alerts", []):
                    if a.get("status") == "firing":
                        subprocess.run(["sh", script, a["labels"].get("instance", "")], check=False)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def wait_http(url, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def lines(p):
    try:
        with open(p) as f:
            return [l for l in f.read().splitlines() if l.strip()]
    except FileNotFoundError:
        return []


def q(vals, p):
    s = sorted(vals)
    return s[min(len(s) - 1, int(round((len(s) - 1) * p)))]


def summary(vals):
    return {"n": len(vals), "median_ms": round(statistics.median(vals) * 1000, 1), "p99_ms": round(q(vals, 0.99) * 1000, 1), "worst_ms": round(max(vals) * 1000, 1), "best_ms": round(min(vals) * 1000, 1)}


RULES = "groups:\n  - name: b\n    interval: {iv}\n    rules:\n      - alert: Broken\n        expr: demo_broken == 1\n"


def run_stack(kind, args, interval, repeats, work):
    d = tempfile.mkdtemp(dir=work)
    steps = os.path.join(d, "steps.log")
    script = os.path.join(d, "restart.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\ndate +%s.%N >> {steps}\n")
    t = Target()
    procs = []
    iv = f"{interval}s"
    with open(os.path.join(d, "rules.yml"), "w") as f:
        f.write(RULES.format(iv=iv))
    prom_yml = f"global:\n  scrape_interval: {iv}\n  scrape_timeout: {min(interval, 10)}s\n  evaluation_interval: {iv}\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:{t.port}']\n"
    route = "route:\n  receiver: auto\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
    try:
        if kind == "bongsu":
            port = free_port()
            with open(os.path.join(d, "runbooks.yml"), "w") as f:
                f.write(f"runbooks:\n  - name: restart\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - exec: {{argv: [sh, '{script}', '{{{{ $labels.instance }}}}']}}\n    verify: {{disabled: true}}\n")
            with open(os.path.join(d, "am.yml"), "w") as f:
                f.write("runbook_files: ['runbooks.yml']\n" + route + "receivers:\n  - name: auto\n    runbook_configs: [{runbook: restart}]\n")
            with open(os.path.join(d, "prometheus.yml"), "w") as f:
                f.write(prom_yml)
            procs.append(subprocess.Popen([args.bongsu, "run", f"--config.file={d}/prometheus.yml", f"--alertmanager.config.file={d}/am.yml", f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "bongsu.log"), "w")))
            wait_http(f"http://127.0.0.1:{port}/-/ready")
            alerts_url = f"http://127.0.0.1:{port}/api/v2/alerts?active=true"
            rules_url = f"http://127.0.0.1:{port}/api/v1/alerts"
        else:
            bridge = Bridge(script)
            am_port, p_port = free_port(), free_port()
            with open(os.path.join(d, "am.yml"), "w") as f:
                f.write(route + f"receivers:\n  - name: auto\n    webhook_configs:\n      - url: http://127.0.0.1:{bridge.port}/hook\n")
            with open(os.path.join(d, "prometheus.yml"), "w") as f:
                f.write(prom_yml + f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n")
            procs.append(subprocess.Popen(["prometheus-alertmanager", f"--config.file={d}/am.yml", f"--storage.path={d}/am", f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(["prometheus", f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/pdata", f"--web.listen-address=127.0.0.1:{p_port}", "--rules.alert.resend-delay=1s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{am_port}/-/ready")
            wait_http(f"http://127.0.0.1:{p_port}/-/ready")
            alerts_url = f"http://127.0.0.1:{am_port}/api/v2/alerts?active=true"
            rules_url = f"http://127.0.0.1:{p_port}/api/v1/alerts"
        time.sleep(2 * interval + 2)  # the target is known and healthy
        lat, hop = [], []
        for i in range(repeats):
            time.sleep(random.uniform(0, interval))  # random phase
            before = len(lines(steps))
            t0 = time.time()
            t.value = 1
            end = t0 + 6 * interval + 30
            while len(lines(steps)) == before and time.time() < end:
                time.sleep(0.01)
            got = lines(steps)
            if len(got) == before:
                print(f"  {kind} @{iv}: repeat {i}: no step within {end - t0:.0f}s", file=sys.stderr)
                continue
            lat.append(float(got[before]) - t0)
            # The alerting hop alone: the rule's alert fired (activeAt) → step.
            try:
                act = [a["activeAt"] for a in get_json(rules_url)["data"]["alerts"] if a["state"] == "firing"]
                if act:
                    ts = act[0].replace("Z", "+00:00")
                    from datetime import datetime
                    hop.append(float(got[before]) - datetime.fromisoformat(ts).timestamp())
            except Exception as e:
                print(f"  (activeAt unavailable: {e})", file=sys.stderr)
            print(f"  {kind} @{iv}: repeat {i}: {lat[-1] * 1000:.0f} ms (alert → step {hop[-1] * 1000 if hop else float('nan'):.0f} ms)", file=sys.stderr)
            t.value = 0
            # resolved everywhere before the next repeat
            end = time.time() + 8 * interval + 60
            while time.time() < end:
                try:
                    if not get_json(alerts_url):
                        break
                except Exception:
                    pass
                time.sleep(0.2)
            time.sleep(interval + 1)
        return lat, hop
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        t.srv.shutdown()


def webhook_hop(args, posts, work):
    """POST → step start, Bongsu's webhook endpoint vs the bridge."""
    d = tempfile.mkdtemp(dir=work)
    out = {}
    for kind in ("bongsu", "bridge"):
        steps = os.path.join(d, f"{kind}.log")
        script = os.path.join(d, f"{kind}.sh")
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\ndate +%s.%N >> {steps}\n")
        procs = []
        if kind == "bongsu":
            port = free_port()
            with open(os.path.join(d, "token"), "w") as f:
                f.write("bench\n")
            with open(os.path.join(d, "runbooks.yml"), "w") as f:
                f.write(f"runbooks:\n  - name: restart\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - exec: {{argv: [sh, '{script}']}}\n    verify: {{disabled: true}}\n    guards: {{max_concurrent: 1000, lock_lease: 1s}}\n")
            with open(os.path.join(d, "am.yml"), "w") as f:
                f.write("runbook_files: ['runbooks.yml']\nresponder:\n  api_token_file: token\nroute:\n  receiver: none\nreceivers:\n  - name: none\n")
            procs.append(subprocess.Popen([args.bongsu, "run", f"--alertmanager.config.file={d}/am.yml", f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{port}/-/ready")
            url = f"http://127.0.0.1:{port}/api/bongsu/v1/respond/webhook?runbook=restart"
            headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
        else:
            b = Bridge(script)
            url = f"http://127.0.0.1:{b.port}/hook"
            headers = {"Content-Type": "application/json"}
        lat = []
        try:
            for i in range(posts):
                body = json.dumps({"version": "4", "groupKey": f"g{i}", "status": "firing", "receiver": "x", "groupLabels": {}, "externalURL": "",
                                   "alerts": [{"status": "firing", "labels": {"alertname": "Down", "instance": f"host-{i}"}, "annotations": {},
                                               "startsAt": "2026-11-26T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": ""}]}).encode()
                before = len(lines(steps))
                t0 = time.time()
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                urllib.request.urlopen(req, timeout=10).read()
                end = time.time() + 10
                while len(lines(steps)) == before and time.time() < end:
                    time.sleep(0.0005)
                got = lines(steps)
                if len(got) > before:
                    lat.append(float(got[before]) - t0)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=20)
        out[kind] = summary(lat) if lat else {"n": 0}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bongsu", required=True)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--repeats-slow", type=int, default=5)
    ap.add_argument("--posts", type=int, default=200)
    args = ap.parse_args()
    for tool in ("prometheus", "prometheus-alertmanager"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not installed (apt-get install prometheus prometheus-alertmanager)")
    work = tempfile.mkdtemp(prefix="bench-respond-")
    res = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "condition_to_step": {}, "alert_to_step": {}, "webhook_to_step": None}
    try:
        for interval, n in ((1, args.repeats), (15, args.repeats_slow)):
            for kind in ("bongsu", "prom+am+bridge"):
                lat, hop = run_stack(kind, args, interval, n, work)
                res["condition_to_step"][f"{kind}@{interval}s"] = summary(lat) if lat else {"n": 0}
                res["alert_to_step"][f"{kind}@{interval}s"] = summary(hop) if hop else {"n": 0}
        res["webhook_to_step"] = webhook_hop(args, args.posts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=2))
    print("\n| path | n | median | p99 | worst | best |", file=sys.stderr)
    print("|---|---|---|---|---|---|", file=sys.stderr)
    for k, v in list(res["condition_to_step"].items()) + [(f"alert fired → step ({k})", v) for k, v in res["alert_to_step"].items()] + [(f"webhook POST → step ({k})", v) for k, v in res["webhook_to_step"].items()]:
        if v.get("n"):
            print(f"| {k} | {v['n']} | {v['median_ms']} ms | {v['p99_ms']} ms | {v['worst_ms']} ms | {v['best_ms']} ms |", file=sys.stderr)


if __name__ == "__main__":
    main()
