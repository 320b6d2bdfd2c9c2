#!/usr/bin/env python3
"""Alerting benchmark: N active alerts in G groups, from a rule's condition
becoming true to a webhook receiving the notification.

Runs two stacks on the same workload, one after the other, on 127.0.0.1:
  bongsu   : one `bongsu run` (rules + built-in Alertmanager, no HTTP hop)
  prom+am  : Debian's `prometheus` sending to Debian's `prometheus-alertmanager`

Workload: a target serves N series `bench_value{grp="gK", i="J"}` (G groups
of N/G). At T0 every value flips from 0 to 1; the alerting rule
`bench_value > 0` (for: 0) fires for all of them; the route groups by `grp`
(group_wait 1s, group_interval 5s). A webhook receiver on loopback records
when it first sees each alert.

Reported per stack and repeat: latency from T0 to the first notification
of each alert (p50, p99, max), notifications/s over the burst (G
notifications from the first to the last), and resident memory (sum of the
stack's processes) after the burst. Usage:
  scripts/bench_alerting.py --bongsu target/release/bongsu [--alerts 10000 --groups 1000 --repeats 3]
"""
import argparse, http.server, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server(http.server.ThreadingHTTPServer):
    # Python's default listen backlog is 5: a burst of 1000 simultaneous
    # notifications would then wait on TCP SYN retries (1 s, 3 s, 7 s …) and
    # measure the receiver, not the stack under test.
    request_queue_size = 4096
    daemon_threads = True


class Target:
    """Serves the exposition; `flip()` turns every value to 1."""

    def __init__(self, n, groups):
        self.on = False
        self.lines_off = self._render(n, groups, 0)
        self.lines_on = self._render(n, groups, 1)
        self.port = free_port()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = (me.lines_on if me.on else me.lines_off).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    @staticmethod
    def _render(n, groups, v):
        per = n // groups
        out = ["# TYPE bench_value gauge"]
        for g in range(groups):
            for i in range(per):
                out.append(f'bench_value{{grp="g{g}",i="{i}"}} {v}')
        return "\n".join(out) + "\n"


class Hook:
    """Webhook receiver: first receipt time of each alert (by labels)."""

    def __init__(self):
        self.first = {}
        self.notifications = []
        self.lock = threading.Lock()
        self.port = free_port()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                t = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    msg = json.loads(body)
                except ValueError:
                    return
                with me.lock:
                    me.notifications.append(t)
                    for a in msg.get("alerts", []):
                        if a.get("status") != "firing":
                            continue
                        k = (a["labels"].get("grp"), a["labels"].get("i"))
                        me.first.setdefault(k, t)

            def log_message(self, *a):
                pass

        self.srv = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_http(port, path, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            if b" 200 " in c.recv(64):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"port {port} not ready")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def run_stack(kind, args, repeat):
    n, g = args.alerts, args.groups
    target, hook = Target(n, g), Hook()
    d = tempfile.mkdtemp(prefix=f"bench-alert-{kind}-")
    am_yml = (
        "route:\n  receiver: hook\n  group_by: ['grp']\n  group_wait: 1s\n  group_interval: 5s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{hook.port}/\n"
    )
    write(f"{d}/alertmanager.yml", am_yml)
    write(f"{d}/rules.yml", "groups:\n  - name: bench\n    rules:\n      - alert: Bench\n        expr: bench_value > 0\n")
    procs = []
    port = free_port()
    am_port = free_port()
    alerting = ""
    if kind == "prom+am":
        alerting = f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
    write(
        f"{d}/prometheus.yml",
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\n"
        + alerting
        + f"scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: ['127.0.0.1:{target.port}']\n",
    )
    log = open(f"{d}/log.txt", "w")
    if kind == "bongsu":
        procs.append(subprocess.Popen([args.bongsu, "run", f"--config.file={d}/prometheus.yml", f"--alertmanager.config.file={d}/alertmanager.yml",
                                       f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=log, stderr=log))
        wait_http(port, "/-/ready")
    else:
        procs.append(subprocess.Popen([args.alertmanager, f"--config.file={d}/alertmanager.yml", f"--storage.path={d}/am",
                                       f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=warn"], stdout=log, stderr=log))
        wait_http(am_port, "/-/ready")
        procs.append(subprocess.Popen([args.prometheus, f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
                                       f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=log, stderr=log))
        wait_http(port, "/-/ready")
    time.sleep(args.settle)  # a few scrapes and evaluations with everything at 0
    rss_before = sum(rss_kib(p.pid) for p in procs)
    t0 = time.time()
    target.on = True
    end = t0 + args.timeout
    while time.time() < end and len(hook.first) < n:
        time.sleep(0.2)
    got = len(hook.first)
    time.sleep(2)
    rss_after = sum(rss_kib(p.pid) for p in procs)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    lat = sorted(t - t0 for t in hook.first.values())
    notes = sorted(hook.notifications)
    burst = (notes[-1] - notes[0]) if len(notes) > 1 else 0.0
    res = {
        "stack": kind, "repeat": repeat, "alerts": n, "groups": g, "received": got,
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p99_s": round(lat[int(len(lat) * 0.99) - 1], 3) if lat else None,
        "latency_max_s": round(lat[-1], 3) if lat else None,
        "notifications": len(notes),
        "notifications_per_s": round(len(notes) / burst, 1) if burst > 0 else None,
        "rss_mib_before": round(rss_before / 1024, 1), "rss_mib_after": round(rss_after / 1024, 1),
    }
    target.srv.shutdown()
    hook.srv.shutdown()
    shutil.rmtree(d, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bongsu", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus"))
    ap.add_argument("--alertmanager", default=shutil.which("prometheus-alertmanager"))
    ap.add_argument("--alerts", type=int, default=10000)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settle", type=float, default=8.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    results = []
    for r in range(args.repeats):
        for kind in ("bongsu", "prom+am"):
            if kind == "prom+am" and not (args.prometheus and args.alertmanager):
                print("!! prometheus / prometheus-alertmanager not installed: skipping prom+am", file=sys.stderr)
                continue
            res = run_stack(kind, args, r)
            print(json.dumps(res), flush=True)
            results.append(res)
    if args.out:
        with open(args.out, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
