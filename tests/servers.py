"""Real HTTP servers on 127.0.0.1 for tests: an image host (plain or TLS) and a webhook
receiver."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_certificate(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A self-signed certificate for `hostname` (its own CA): (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{hostname}.pem", directory / f"{hostname}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Server:
    def __init__(self, handler_cls, port: int = 0, tls: tuple[Path, Path] | None = None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
        self.httpd.owner = self
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _FilesHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        owner = self.server.owner
        owner.hosts.append(self.headers.get("Host"))
        entry = owner.files.get(self.path)
        if entry is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = entry
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FileServer(_Server):
    """Serves bytes at paths: `server.add("/a.png", data)`; redirects with `redirect`. Records
    the Host header of every request in `hosts`."""

    def __init__(self, tls: tuple[Path, Path] | None = None):
        self.files: dict[str, tuple[int, dict, bytes]] = {}
        self.hosts: list[str | None] = []
        super().__init__(_FilesHandler, tls=tls)

    def add(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[path] = (200, {"Content-Type": content_type}, body)
        return self.url + path

    def redirect(self, path: str, location: str) -> str:
        self.files[path] = (302, {"Location": location}, b"")
        return self.url + path


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with owner.lock:
            status = owner.responses.pop(0) if owner.responses else 200
            owner.requests.append({"headers": dict(self.headers), "body": body, "status": status, "at": time.time()})
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class WebhookReceiver(_Server):
    """Records every POST; answers with the queued statuses, then 200."""

    def __init__(self, responses: list[int] | None = None, port: int = 0):
        self.requests: list[dict] = []
        self.responses = list(responses or [])
        self.lock = threading.Lock()
        super().__init__(_WebhookHandler, port)

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} webhook calls, got {len(self.requests)}")

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]
