"""Real HTTP servers on 127.0.0.1 for tests: an image host (plain or TLS), a slow one that
trickles its answer, and a webhook receiver."""

from __future__ import annotations

import datetime
import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.flows import wait_until


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
            status, headers = status if isinstance(status, tuple) else (status, {})
            owner.requests.append({"headers": dict(self.headers), "body": body, "status": status, "at": time.time()})
        time.sleep(owner.delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class WebhookReceiver(_Server):
    """Records every POST; answers with the queued statuses (a status, or a status and its
    headers), then 200, each after `delay` seconds."""

    def __init__(
        self,
        responses: list | None = None,
        port: int = 0,
        delay: float = 0.0,
        tls: tuple[Path, Path] | None = None,
    ):
        self.requests: list[dict] = []
        self.responses = list(responses or [])
        self.delay = delay
        self.lock = threading.Lock()
        super().__init__(_WebhookHandler, port, tls=tls)

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        def arrived() -> list[dict] | None:
            with self.lock:
                return list(self.requests) if len(self.requests) >= count else None

        return wait_until(
            arrived, timeout, f"{count} webhook calls", interval=0.05, context=lambda: f"got {len(self.requests)}"
        )

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


class TrickleServer:
    """A slow HTTP server, one byte of its answer every `interval` seconds:

    - "body": the head at once, then the body (Content-Length 100000) byte by byte;
    - "head": the status line and headers themselves byte by byte;
    - "redirect": each answer after `interval`, a redirect from /rN to /rN+1, until /r3
      answers 200 "ok";
    - "silent": accepts the connection (and a TLS handshake, if any) and sends nothing.

    `accepted` counts connections, `open` those still open: one ends when the client closes
    it or the server stops. With `tls`, connections are TLS (the handshake in the handler).
    """

    HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"

    def __init__(self, mode: str = "body", interval: float = 2.0, tls: tuple[Path, Path] | None = None):
        self.mode, self.interval = mode, interval
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.context = None
        if tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*tls)
        self.accepted = 0
        self.open = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def url(self, path: str = "/a.png", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.context else 'http'}://{host}:{self.port}{path}"

    def __enter__(self):
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in list(self.threads):
            thread.join(timeout=10)
        self.listener.close()

    def wait_until_idle(self, timeout: float) -> bool:
        """True once every connection is closed (within `timeout` seconds)."""

        def idle() -> bool:
            with self.lock:
                return self.open == 0

        try:
            return wait_until(idle, timeout, "every connection to close", interval=0.05)
        except AssertionError:
            return False

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.context:
                conn = self.context.wrap_socket(conn, server_side=True)
            if self.mode == "silent":
                self._wait(conn, 3600)
                return
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode()
            if self.mode == "redirect":
                if not self._wait(conn, self.interval):
                    return
                number = int(path.removeprefix("/r") or 0)
                if number >= 3:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                else:
                    location = f"/r{number + 1}".encode()
                    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n")
                self._wait(conn, 3600)
                return
            if self.mode == "body":
                conn.sendall(self.HEAD)
                payload = b"x" * 100000
            else:
                payload = self.HEAD + b"x" * 100000
            for i in range(len(payload)):
                if not self._wait(conn, self.interval):
                    return
                conn.sendall(payload[i : i + 1])
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            with self.lock:
                self.open -= 1

    def _wait(self, conn: socket.socket, seconds: float) -> bool:
        """Wait `seconds`; False as soon as the client closes the connection or the server stops."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.stopping.is_set():
                return False
            readable, _, _ = select.select([conn], [], [], min(left, 0.05))
            if readable:
                try:
                    if not conn.recv(1024):
                        return False
                except (OSError, ValueError):
                    return False
        return not self.stopping.is_set()
