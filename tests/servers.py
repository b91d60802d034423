"""Real HTTP servers on 127.0.0.1 for tests: an image host and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __init__(self, handler_cls, port: int = 0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _FilesHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        owner = self.server.owner
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
    """Serves bytes at paths: `server.add("/a.png", data)`; redirects with `redirect`."""

    def __init__(self):
        self.files: dict[str, tuple[int, dict, bytes]] = {}
        super().__init__(_FilesHandler)

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

    def __init__(self, responses: list | None = None, port: int = 0, delay: float = 0.0):
        self.requests: list[dict] = []
        self.responses = list(responses or [])
        self.delay = delay
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
