"""The numbers behind the operators' dashboard (and some of /metrics): jobs per hour,
credits spent per day, time in queue and in processing, failures, queue depths.

Everything is computed from the database at request time, so it is the same whichever web
process answers and whichever workers ran the jobs. Percentiles are computed in Python from
the timestamps, which works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from billing.models import LedgerEntry
from jobs.models import Job
from jobs.timestamps import iso

QUEUES = (settings.INFERENCE_QUEUE, settings.WEBHOOKS_QUEUE, settings.MAINTENANCE_QUEUE)
# Upper bound on the rows read for the percentiles: enough for a busy day, bounded memory.
TIMING_SAMPLE_LIMIT = 50_000


def percentile(values: list[float], pct: int) -> float | None:
    """The pct-th percentile, interpolated between closest ranks (numpy's default, which is
    statistics' "inclusive" method); None for no values."""
    if len(values) < 2:
        return values[0] if values else None
    if pct == 100:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] if pct else min(values)


def _hour(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def jobs_per_hour(now: datetime) -> dict:
    """Jobs created in each of the last 24 hours (oldest first), by their status now."""
    first = _hour(now) - timedelta(hours=23)
    hours = [first + timedelta(hours=i) for i in range(24)]
    counts: dict[str, list[int]] = {status: [0] * 24 for status in Job.Status.values}
    rows = (
        Job.objects.filter(created_at__gte=first)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        index = int((_hour(row["hour"]) - first).total_seconds() // 3600)
        if 0 <= index < 24:
            counts[row["status"]][index] += row["n"]
    return {"hours": [iso(h) for h in hours], "counts": counts}


def credits_per_day(now: datetime, days: int = 14, account_id: int | None = None) -> dict:
    """Credits spent per day (job charges minus job refunds) over the last `days` days, by
    every account or by one."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    charged = [0] * days
    refunded = [0] * days
    entries = LedgerEntry.objects.filter(
        created_at__gte=start, kind__in=[LedgerEntry.Kind.DEBIT, LedgerEntry.Kind.REFUND]
    )
    if account_id is not None:
        entries = entries.filter(account_id=account_id)
    rows = (
        entries.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        index = (row["day"] - first).days
        if not 0 <= index < days:
            continue
        if row["kind"] == LedgerEntry.Kind.DEBIT:
            charged[index] += -row["total"]
        else:
            refunded[index] += row["total"]
    return {
        "days": [(first + timedelta(days=i)).isoformat() for i in range(days)],
        "charged": charged,
        "refunded": refunded,
        "spent": [c - r for c, r in zip(charged, refunded, strict=True)],
    }


def timings(now: datetime) -> dict:
    """p50/p95 seconds in queue (jobs started in the last 24 h) and in processing (jobs that
    ran and ended in the last 24 h)."""
    since = now - timedelta(hours=24)
    started = Job.objects.filter(started_at__gte=since).order_by("-started_at")
    queue = [
        (s - c).total_seconds()
        for c, s in started.values_list("created_at", "started_at")[:TIMING_SAMPLE_LIMIT]
        if s is not None  # never, by the filter; the column is nullable
    ]
    ran = Job.objects.filter(
        finished_at__gte=since,
        started_at__isnull=False,
        status__in=[Job.Status.SUCCESS, Job.Status.FAILED],
    ).order_by("-finished_at")
    processing = [
        (f - s).total_seconds()
        for s, f in ran.values_list("started_at", "finished_at")[:TIMING_SAMPLE_LIMIT]
        if s is not None and f is not None  # never, by the filter; the columns are nullable
    ]
    return {
        "queue": {"p50": percentile(queue, 50), "p95": percentile(queue, 95), "n": len(queue)},
        "processing": {
            "p50": percentile(processing, 50),
            "p95": percentile(processing, 95),
            "n": len(processing),
        },
    }


def failure_rate(now: datetime) -> dict:
    """FAILED / (SUCCESS + FAILED) over jobs that ended in the last 24 h; cancels excluded."""
    ended = Job.objects.filter(finished_at__gte=now - timedelta(hours=24)).aggregate(
        failed=Count("pk", filter=Q(status=Job.Status.FAILED)),
        succeeded=Count("pk", filter=Q(status=Job.Status.SUCCESS)),
    )
    total = ended["failed"] + ended["succeeded"]
    return {
        "failed": ended["failed"],
        "succeeded": ended["succeeded"],
        "rate": ended["failed"] / total if total else None,
    }


def recent_failures(limit: int = 20) -> list[dict]:
    rows = Job.objects.filter(status=Job.Status.FAILED).select_related("account")
    return [
        {
            "id": str(job.id),
            "account": job.account.name,
            "mode": job.mode,
            "engine": job.engine,
            "error": job.error,
            "finishedAt": iso(job.finished_at, "seconds"),
        }
        for job in rows.order_by("-finished_at")[:limit]
    ]


def broker_connection(url: str | None = None):
    """A kombu connection to the broker named in settings now (not when Celery was
    configured), with short timeouts so a dead broker answers quickly."""
    from kombu import Connection

    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    url = url or settings.CELERY_BROKER_URL
    timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
    if url.startswith(("redis://", "rediss://")):
        options.update(socket_timeout=timeout, socket_connect_timeout=timeout)
    return Connection(url, transport_options=options, connect_timeout=timeout)


def queue_depths(queues: tuple[str, ...] = QUEUES) -> dict[str, int] | None:
    """Messages waiting in each Celery queue, or None when the broker cannot be reached."""
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            return _redis_queue_depths(url, queues)
        return _declared_queue_depths(queues)
    except Exception:
        return None


# Kombu keeps a Redis queue as one list per priority step: the queue's name, then the name
# plus this separator and the step (kombu's defaults).
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def _redis_queue_depths(url: str, queues: tuple[str, ...]) -> dict[str, int]:
    """LLEN over each queue's lists, as KEDA's scaler reads them. (Kombu's passive declare
    ignores `global_keyprefix` when it checks that a queue exists.)"""
    import redis

    prefix = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get("global_keyprefix", "")
    timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for name in queues:
            pipe.llen(f"{prefix}{name}")
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{prefix}{name}{_PRIORITY_SEPARATOR}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(queues)}


def _declared_queue_depths(queues: tuple[str, ...]) -> dict[str, int]:
    """A passive queue_declare gives the message count on other transports; a queue that
    does not exist yet is empty."""
    from amqp.exceptions import NotFound
    from kombu.exceptions import ChannelError

    with broker_connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
        depths = {}
        for name in queues:
            channel = conn.channel()
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except (ChannelError, NotFound):
                depths[name] = 0
            finally:
                _close_quietly(channel)
        return depths


def _close_quietly(channel) -> None:
    with contextlib.suppress(Exception):
        channel.close()


def jobs_by_surface(now: datetime) -> list[dict]:
    """Jobs created in the last 24 hours per API surface: by status, and credits charged."""
    since = now - timedelta(hours=24)
    rows = (
        Job.objects.filter(created_at__gte=since)
        .values("surface", "status")
        .annotate(n=Count("pk"), credits=Sum("credit_cost"))
        .order_by()
    )
    surfaces: dict[str, dict] = {}
    for row in rows:
        entry = surfaces.setdefault(
            row["surface"], {"surface": row["surface"], "total": 0, "unfinished": 0, "credits": 0, "byStatus": {}}
        )
        entry["byStatus"][row["status"]] = row["n"]
        entry["total"] += row["n"]
        if row["status"] in Job.UNFINISHED:
            entry["unfinished"] += row["n"]
        if row["status"] not in (Job.Status.FAILED, Job.Status.CANCELED):  # those were refunded
            entry["credits"] += row["credits"] or 0
    return sorted(surfaces.values(), key=lambda entry: -entry["total"])


def dashboard_data(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    depths = queue_depths()
    return {
        "generatedAt": iso(now),
        "jobsPerHour": jobs_per_hour(now),
        "creditsPerDay": credits_per_day(now),
        "timings": timings(now),
        "failures": failure_rate(now),
        "surfaces": jobs_by_surface(now),
        "queues": {name: (depths or {}).get(name) for name in QUEUES},
        "brokerAvailable": depths is not None,
        "recentFailures": recent_failures(),
    }


def status_counts() -> dict[str, int]:
    counts = defaultdict(int, {status: 0 for status in Job.Status.values})
    for row in Job.objects.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return dict(counts)
