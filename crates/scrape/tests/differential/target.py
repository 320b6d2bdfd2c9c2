import http.server, sys
BODY = b'''# HELP m a gauge
# TYPE m gauge
m{job="inner",instance="i2",exported_job="e"} 1
m{a="x"} 2
m{a="y",le="z"} 3
# TYPE other_total counter
other_total 3
# TYPE ts gauge
ts{k="v"} 5 1700000000000
'''
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
