"""The web server's own refusals in the vendor surfaces' shapes.

gunicorn refuses a request line over `limit_request_line` (414) and headers over its limits
(431) before the application sees the request, with an HTML page. Clients of the vendor
APIs parse JSON: this worker class (gunicorn's gthread worker, named by
upscaler_platform/gunicorn_conf.py) answers those refusals for a path under a surface's
prefix in that surface's error shape (jobs/api/fallback.py), and leaves every other
refusal, and every other path, to gunicorn. It remembers the first bytes of each request
as they are read, which is where the path is: nothing else of gunicorn changes."""

from __future__ import annotations

import contextlib

import gunicorn.http
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.workers import gthread

HEAD_BYTES = 2048  # enough of a request's start to hold its method and the start of its path


class _Request(Request):
    head = b""

    def read_into(self, unreader, buf, stop=False):
        super().read_into(unreader, buf, stop)
        if len(self.head) < HEAD_BYTES:
            self.head = bytes(buf[:HEAD_BYTES])

    def parse(self, unreader):
        try:
            return super().parse(unreader)
        except (LimitRequestLine, LimitRequestHeaders) as exc:
            exc.request_head = self.head
            raise


class _RequestParser(RequestParser):
    mesg_class = _Request


def request_path(head: bytes) -> str:
    """The path of a request from its first bytes ("GET /path?query HTTP/1.1..."); "" if
    they do not say."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        return ""
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def refusal(exc: Exception, limit_line: int, limit_field: int) -> tuple[int, str] | None:
    if isinstance(exc, LimitRequestLine):
        return 414, f"The URL is too long: a request line may be at most {limit_line} bytes."
    if isinstance(exc, LimitRequestHeaders):
        return 431, (
            f"The request's headers are too large: at most {limit_field} bytes a header line, and a limited number "
            "of headers."
        )
    return None


class ThreadWorker(gthread.ThreadWorker):
    def init_process(self):
        # gthread makes each connection's parser with gunicorn.http.get_parser, which names
        # RequestParser from gunicorn.http: this process's parsers remember each request's start.
        gunicorn.http.RequestParser = _RequestParser
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        answer = None
        refused = refusal(exc, self.cfg.limit_request_line, self.cfg.limit_request_field_size)
        if refused is not None:
            from jobs.api.fallback import error_response_bytes

            answer = error_response_bytes(request_path(getattr(exc, "request_head", b"")), *refused)
        if answer is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        with contextlib.suppress(OSError):  # the client went away
            client.sendall(answer)
