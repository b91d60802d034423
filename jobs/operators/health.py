"""Liveness and readiness probes.

/healthz answers as long as the process serves requests. /readyz checks that the database,
the Celery broker and the file storage are reachable, each in its own thread with a short
deadline, so a hung dependency makes the probe fail fast instead of hanging it. Settings
are read at call time (the broker URL is not the one Celery was configured with at import).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

CHECK_TIMEOUT_SECONDS = 3.0


def check_database() -> None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # The check runs in its own thread: close that thread's connection.
        connections.close_all()


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    if url.startswith("filesystem://"):
        # The embedded broker is a folder: it must be there and writable.
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
        for key in ("data_folder_in", "data_folder_out"):
            folder = options.get(key)
            if folder and not os.access(folder, os.W_OK | os.X_OK):
                raise OSError(f"the broker folder {folder} is missing or not writable")
    from jobs.operators.dashboard import broker_connection

    with broker_connection(url) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def check_storage() -> None:
    """Write and delete a small file: proves the storage is reachable and writable."""
    from django.core.files.storage import default_storage

    name = default_storage.save(f"readyz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks(timeout: float | None = None) -> dict[str, dict]:
    """Every check at once, each in a daemon thread; one still running at the deadline has
    failed with a timeout (its thread is left to finish on its own)."""
    timeout = CHECK_TIMEOUT_SECONDS if timeout is None else timeout
    results: dict[str, dict] = {}
    lock = threading.Lock()

    def run(name: str, check: Callable[[], None]) -> None:
        started = time.monotonic()
        outcome: dict[str, object]
        try:
            check()
            outcome = {"ok": True}
        except Exception as exc:
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        outcome["ms"] = round((time.monotonic() - started) * 1000, 1)
        with lock:
            results[name] = outcome

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"readyz-{name}", daemon=True)
        for name, check in CHECKS.items()
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    with lock:
        return {name: results.get(name, {"ok": False, "error": f"timed out after {timeout:g} s"}) for name in CHECKS}


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    checks = run_checks()
    failed = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": checks}
    return JsonResponse(body, status=503 if failed else 200)
