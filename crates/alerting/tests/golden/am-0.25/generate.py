"""Regenerates the goldens in this folder from a real Alertmanager (Debian's
prometheus-alertmanager, 0.25): it runs it with alertmanager.yml pointed at
a capture server, posts one alert (firing, then resolved) and writes every
request it receives as <kind>-<firing|resolved>.json.

Usage: python3 generate.py   (needs /usr/bin/prometheus-alertmanager)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
seen = []


class Capture(BaseHTTPRequestHandler):
    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        seen.append({"method": self.command, "path": self.path,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": body})
        if "/gettoken" in self.path:
            out, ctype = b'{"access_token":"wx-token"}', "application/json"
        elif self.path.startswith("/wechat/"):
            out, ctype = b'{"errcode":0,"errmsg":"ok"}', "application/json"
        elif self.path.startswith("/telegram/"):
            out, ctype = b'{"ok":true,"result":{"message_id":1,"chat":{"id":-100123}}}', "application/json"
        elif self.path.startswith("/slack/"):
            out, ctype = b"ok", "text/plain"
        else:
            out, ctype = b"{}", "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT = do_GET = _handle

    def log_message(self, *a):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kind(path):
    k = path.strip("/").split("/")[0]
    if k == "wechat":
        return "wechat-gettoken" if "/gettoken" in path else "wechat-send"
    return k


def post_alert(am, ends):
    alert = [{
        "labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
        "annotations": {"summary": "Disk is full"},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": ends,
        "generatorURL": "http://prom.example/graph",
    }]
    req = urllib.request.Request(am + "/api/v2/alerts", data=json.dumps(alert).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


def wait_for(n, timeout=30):
    end = time.time() + timeout
    while len(seen) < n and time.time() < end:
        time.sleep(0.2)
    time.sleep(1)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    tmp = tempfile.mkdtemp()
    cfg = open(os.path.join(HERE, "alertmanager.yml")).read().replace("BASE", base)
    open(os.path.join(tmp, "am.yml"), "w").write(cfg)
    port = free_port()
    am = subprocess.Popen(["/usr/bin/prometheus-alertmanager", "--config.file=" + os.path.join(tmp, "am.yml"),
                           "--storage.path=" + tmp, "--web.listen-address=127.0.0.1:%d" % port,
                           "--cluster.listen-address=", "--web.external-url=http://am.example"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d" % port
        for _ in range(50):
            try:
                urllib.request.urlopen(url + "/-/ready").read()
                break
            except Exception:
                time.sleep(0.2)
        # 8 integrations; WeChat fetches its token once, first.
        post_alert(url, "2099-01-01T00:00:00Z")
        wait_for(9)
        firing = list(seen)
        post_alert(url, "2026-01-01T00:01:00Z")
        wait_for(17)
        resolved = seen[len(firing):]
    finally:
        am.terminate()
        am.wait()
    # Email: the same alert through email.yml to an aiosmtpd server.
    smtp_port = free_port()
    mail = os.path.join(tmp, "mail.jsonl")
    sink = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "..", "smtp_sink.py"), str(smtp_port), mail],
                            stdout=subprocess.PIPE)
    sink.stdout.readline()
    cfg = open(os.path.join(HERE, "email.yml")).read().replace("SMTP_PORT", str(smtp_port))
    open(os.path.join(tmp, "email.yml"), "w").write(cfg)
    port = free_port()
    am = subprocess.Popen(["/usr/bin/prometheus-alertmanager", "--config.file=" + os.path.join(tmp, "email.yml"),
                           "--storage.path=" + os.path.join(tmp, "email-data"), "--web.listen-address=127.0.0.1:%d" % port,
                           "--cluster.listen-address=", "--web.external-url=http://am.example"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d" % port
        for _ in range(50):
            try:
                urllib.request.urlopen(url + "/-/ready").read()
                break
            except Exception:
                time.sleep(0.2)
        post_alert(url, "2099-01-01T00:00:00Z")
        end = time.time() + 30
        while time.time() < end and not (os.path.exists(mail) and open(mail).read().strip()):
            time.sleep(0.2)
    finally:
        am.terminate()
        am.wait()
        sink.terminate()
        sink.wait()
    rec = json.loads(open(mail).read().splitlines()[0])
    del rec["raw"]
    with open(os.path.join(HERE, "email-firing.json"), "w") as f:
        json.dump(rec, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")

    version = subprocess.run(["/usr/bin/prometheus-alertmanager", "--version"], capture_output=True, text=True)
    for state, reqs in (("firing", firing), ("resolved", resolved)):
        for r in reqs:
            r["body"] = json.loads(r["body"]) if r["body"].strip() else None
            r["headers"] = {k: v for k, v in r["headers"].items() if k in ("content-type", "authorization")}
            path = os.path.join(HERE, "%s-%s.json" % (kind(r["path"]), state))
            with open(path, "w") as f:
                json.dump(r, f, indent=2, sort_keys=True)
                f.write("\n")
    print("captured %d firing, %d resolved requests from %s" % (len(firing), len(resolved), (version.stdout or version.stderr).splitlines()[0]))


if __name__ == "__main__":
    sys.exit(main())
