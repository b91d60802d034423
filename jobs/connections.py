"""Giving a thread's database connection back while it waits on something else."""

from __future__ import annotations

from django.db import connection


def give_back() -> None:
    """Before a wait that needs no database (a held answer between looks, an image download,
    a webhook POST): return this thread's connection to its process's pool (or close it,
    without a pool), so waiting threads do not hold connections the others need. The next
    query takes one again. Inside a transaction it keeps the connection."""
    if not connection.in_atomic_block:
        connection.close()
