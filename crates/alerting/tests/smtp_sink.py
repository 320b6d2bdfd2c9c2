"""A real SMTP server for the email integration's tests: aiosmtpd (PyPI)
with a handler that appends every received message to a file, one JSON
object a line: envelope, the AUTH login used, whether the session was
encrypted, the raw DATA, and the message as Python's email parser reads it
(headers decoded, each MIME part decoded).

Usage: smtp_sink.py PORT OUTFILE [--auth USER:PASS] [--tls CERT KEY]
                                 [--exclude MECH]
Prints READY once it accepts connections; runs until killed.
"""

import json
import sys
import time
from email import message_from_bytes, policy
from email.header import decode_header, make_header

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    args = sys.argv[1:]
    port, out = int(args[0]), args[1]
    auth = tls = None
    exclude = []
    i = 2
    while i < len(args):
        if args[i] == "--auth":
            auth = args[i + 1].split(":", 1)
            i += 2
        elif args[i] == "--tls":
            tls = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == "--exclude":
            exclude.append(args[i + 1])
            i += 2
        else:
            raise SystemExit("unknown argument " + args[i])

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            msg = message_from_bytes(envelope.original_content, policy=policy.compat32)
            headers = {k: str(make_header(decode_header(v))) for k, v in msg.items()}
            parts = []
            for p in msg.walk():
                if p.is_multipart():
                    continue
                parts.append({
                    "content_type": p.get_content_type(),
                    "charset": p.get_content_charset(),
                    "transfer_encoding": p.get("Content-Transfer-Encoding"),
                    "body": p.get_payload(decode=True).decode("utf-8"),
                })
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            rec = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "helo": session.host_name,
                "login": login,
                "encrypted": session.ssl is not None,
                "raw": envelope.original_content.decode("ascii", "replace"),
                "headers": headers,
                "content_type": msg.get_content_type(),
                "parts": parts,
            }
            with open(out, "a") as f:
                f.write(json.dumps(rec) + "\n")
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth is not None
              and auth_data.login.decode() == auth[0]
              and auth_data.password.decode() == auth[1])
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    kw = {}
    if auth is not None:
        kw["authenticator"] = authenticator
        kw["auth_require_tls"] = tls is not None
        kw["auth_exclude_mechanism"] = exclude
    if tls is not None:
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls[0], tls[1])
        kw["tls_context"] = ctx
        kw["require_starttls"] = True
    c = Controller(Sink(), hostname="127.0.0.1", port=port, **kw)
    c.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
