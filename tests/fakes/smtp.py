"""Real SMTP servers (aiosmtpd) for the email connector's tests, with what they received readable
over HTTP.

Three listeners, each requiring AUTH (user `onset`, password `s3cret`): plain text, STARTTLS
(required before AUTH and MAIL), and implicit TLS; their certificate is signed by a CA made at
start. Recipient `nobody@example.com` is refused (550 5.1.1); the first message to
`busy@example.com` is deferred (451 4.3.0), as a greylisting server does.

HTTP: `GET /_ports` answers {"plain", "starttls", "tls", "ca"} (ports and the CA's PEM);
`GET /_seen` answers every accepted message as Python's email parser reads it: envelope, headers,
text and HTML bodies, attachments (base64), whether the session was authenticated and encrypted.

usage: python3 smtp.py   (prints `PORT <http port>`, serves until killed)
"""

import base64
import datetime
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import sys
import tempfile
import logging
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = b"onset", b"s3cret"
lock = threading.Lock()
seen = []
deferred = set()


def certificates(directory):
    """A CA and a server certificate for localhost and 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Onset test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = f"{directory}/server.pem", f"{directory}/server.key"
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, ca.public_bytes(serialization.Encoding.PEM).decode()


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    # handled=False: aiosmtpd answers a failure with its own 535.
    return AuthResult(success=ok, handled=False)


class Handler:
    def __init__(self, kind):
        self.kind = kind

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "nobody@example.com":
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
        if address == "busy@example.com":
            with lock:
                first = address not in deferred
                deferred.add(address)
            if first:
                return "451 4.3.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        attachments = [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "content": base64.b64encode(part.get_payload(decode=True)).decode(),
            }
            for part in message.iter_attachments()
        ]
        record = {
            "listener": self.kind,
            "authenticated": bool(session.authenticated),
            # STARTTLS fills session.ssl; implicit TLS shows on the transport.
            "encrypted": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": attachments,
        }
        with lock:
            seen.append(record)
            n = len(seen)
        return f"250 2.0.0 Ok: queued as FAKE{n}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    # AUTH over plain text is this fake's point on one listener: no warning about it.
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    directory = tempfile.mkdtemp()
    context, ca = certificates(directory)
    common = {"hostname": "127.0.0.1", "authenticator": authenticate, "auth_required": True}
    plain = Controller(Handler("plain"), port=free_port(), auth_require_tls=False, **common)
    starttls = Controller(Handler("starttls"), port=free_port(), tls_context=context, require_starttls=True, **common)
    implicit = Controller(Handler("tls"), port=free_port(), ssl_context=context, auth_require_tls=False, **common)
    for c in (plain, starttls, implicit):
        c.start()
    ports = {"plain": plain.port, "starttls": starttls.port, "tls": implicit.port, "ca": ca}

    class Http(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with lock:
                body = json.dumps(ports if self.path == "/_ports" else seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    print(f"PORT {http.server_address[1]}", flush=True)
    http.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
