"""The Celery app. Its configuration is the `CELERY_*` settings (queues, routes, acks,
prefetch, the beat schedule): upscaler_platform/settings.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "upscaler_platform.settings")

app = Celery("upscaler_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Connections a process had when it forked, kept referenced and never closed in the child:
# closing (or freeing) one there would end the parent's session on the shared socket.
_inherited: list = []


def _forget_inherited_connections() -> None:
    """In a forked child (Celery's prefork pool): the parent's database connections and
    connection pools belong to the parent. Forget them without any network I/O, so the
    child opens its own, and Celery's Django fixup, which closes connections and pools in
    a new child, finds nothing of the parent's to close."""
    import sys

    if "django.db" not in sys.modules:
        return
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except ImportError:  # psycopg absent (the embedded default's SQLite)
        return
    pools: dict = DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    _inherited.extend(pools.values())
    pools.clear()


os.register_at_fork(after_in_child=_forget_inherited_connections)
