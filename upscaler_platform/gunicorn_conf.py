"""The web server's settings, in one place. `make run`, the image, Compose and Kubernetes all
start the API as

    gunicorn --config=python:upscaler_platform.gunicorn_conf upscaler_platform.wsgi --bind=...

(Compose also passes --workers). gthread workers: a request holds one thread, not the
process, and the main loop keeps accepting connections, serving kept-alive ones and telling
the arbiter it is alive while threads wait. So the API keeps answering as long as some
threads are free.

What holds a thread, and how long (per worker process):
- every request while it runs: milliseconds for most;
- a submit with an imageUrl while it downloads: at most IMAGE_FETCH_DEADLINE_SECONDS, and at
  most IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS of them at once (more get a 429);
- a synchronous answer (`Prefer: wait=N`, the vendor APIs that answer when the upscale is
  done) while it waits for its job: at most SYNC_WAIT_MAX_SECONDS, and at most
  SYNC_WAIT_MAX_CONCURRENT at once (past it the request is answered without waiting);
- a client that sends its body slowly, as long as it takes: keep a buffering proxy in
  front (the Kubernetes Ingress, nginx, buffers request bodies).
Whatever else comes to hold threads for long must be capped per process too: add the cap to
THREADS_HELD and its longest wait to LONGEST_REQUEST_SECONDS, and the defaults below follow.
"""

from __future__ import annotations

import contextlib
import math

from upscaler_platform import settings as app
from upscaler_platform.env import env_int

# Threads slow requests may hold at once in one process, and threads kept for the rest.
THREADS_HELD = app.IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS + app.SYNC_WAIT_MAX_CONCURRENT
RESERVED_THREADS = 8
# The longest request allowed (settings.py says what it covers).
LONGEST_REQUEST_SECONDS = app.LONGEST_REQUEST_SECONDS

# gunicorn's gthread worker, answering the requests it refuses itself (a URL or headers over
# its limits: 414, 431) in the vendor API's error shape when the path is one of theirs.
worker_class = "jobs.api.server.ThreadWorker"
workers = env_int("WEB_CONCURRENCY", 4)
threads = env_int("WEB_THREADS", THREADS_HELD + RESERVED_THREADS)
# With gthread, `timeout` only catches a process whose main loop is stuck; graceful_timeout
# lets requests in flight finish on a restart or a scale-down. Both outlast the longest
# request, and so must the platforms' own grace periods (terminationGracePeriodSeconds in
# deploy/k8s/web.yaml, stop_grace_period in docker-compose.yml; tests/test_deploy.py checks).
timeout = math.ceil(LONGEST_REQUEST_SECONDS) + 10
graceful_timeout = timeout
accesslog = "-"


def _listening_url(server) -> str:
    """http://host:port of the first TCP address gunicorn listens on ("" for a UNIX socket);
    a wildcard address as localhost."""
    for listener in server.LISTENERS:
        address = listener.sock.getsockname()
        if isinstance(address, tuple):
            host = address[0]
            if host in ("0.0.0.0", "::", ""):
                host = "localhost"
            elif ":" in host:
                host = f"[{host}]"
            return f"http://{host}:{address[1]}"
    return ""


def when_ready(server) -> None:
    """Record where this server listens, for links handed out of band (create_account's
    set-password link) when PUBLIC_BASE_URL is unset: `PORT=18533 make run` hands out
    links to port 18533."""
    url = _listening_url(server)
    if url and not app.PUBLIC_BASE_URL:
        with contextlib.suppress(OSError):
            app.WEB_SERVER_URL_FILE.write_text(url + "\n")
            server._recorded_url = url


def on_exit(server) -> None:
    """Forget the address once the server stops (unless another server recorded its own)."""
    url = getattr(server, "_recorded_url", "")
    with contextlib.suppress(OSError):
        if url and app.WEB_SERVER_URL_FILE.read_text().strip() == url:
            app.WEB_SERVER_URL_FILE.unlink()
