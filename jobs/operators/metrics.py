"""Prometheus metrics at /metrics.

Two kinds:
- HTTP request counts and latencies, counted in this process by PrometheusMiddleware.
  Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (an empty directory,
  the same for all workers, wiped at start) so a scrape sees every worker's counts.
- Everything about jobs, queues and webhooks, read from the database and the broker at
  scrape time by DatabaseCollector. Jobs run in worker processes (often other machines),
  so counters kept in the web tier would never see them; the database is the one place
  that has every job. Finished jobs and webhook attempts never change, so the counts
  derived from them only grow and are honest Prometheus counters and histograms.
"""

from __future__ import annotations

import hmac
import os
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
)
from django.db.models.lookups import LessThanOrEqual
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

# Seconds of processing per output megapixel: GPUs land around 0.05-1, CPUs 5-100.
SECONDS_PER_MP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250)

REQUESTS = Counter(
    "upscaler_http_requests",
    "HTTP requests answered, by method, route (the URL pattern's view name) and status.",
    ["method", "view", "status"],
)
LATENCY = Histogram(
    "upscaler_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class PrometheusMiddleware:
    """Counts every request and its latency. Labels use the resolved view name, never the
    raw path, so job ids in URLs do not create a time series each."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route) if match else "unresolved"
        LATENCY.labels(request.method, view).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


class DatabaseCollector:
    """Job, queue and webhook metrics, queried when Prometheus scrapes."""

    def describe(self):
        return []  # no queries at registration time

    def collect(self):
        from jobs.operators.dashboard import queue_depths, status_counts

        jobs = GaugeMetricFamily("upscaler_jobs", "Jobs in each status now.", labels=["status"])
        for status, n in sorted(status_counts().items()):
            jobs.add_metric([status], n)
        yield jobs

        depths = queue_depths()
        up = GaugeMetricFamily("upscaler_broker_up", "1 when the Celery broker answered.")
        up.add_metric([], 1 if depths is not None else 0)
        yield up
        queue = GaugeMetricFamily("upscaler_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        for name, depth in (depths or {}).items():
            queue.add_metric([name], depth)
        yield queue

        yield inference_seconds_per_megapixel()
        yield webhook_attempts()


def inference_seconds_per_megapixel() -> HistogramMetricFamily:
    """A cumulative histogram over every successful job, computed by the database:
    (finished_at - started_at) per output megapixel. Counting bucket by bucket in SQL keeps
    a scrape to one aggregate query whatever the number of jobs.

    s/MP equals µs/pixel, so job j is within bucket b when its duration is at most
    b µs × its output pixels; the comparison is interval arithmetic on both SQLite and
    PostgreSQL.
    """
    from jobs.models import Job

    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    # Typed as a plain integer: SQLite's duration arithmetic refuses "PositiveIntegerField".
    pixels = ExpressionWrapper(F("output_width") * F("output_height"), output_field=IntegerField())
    jobs = Job.objects.filter(
        status=Job.Status.SUCCESS,
        started_at__isnull=False,
        finished_at__isnull=False,
        output_width__gt=0,
        output_height__gt=0,
    )
    aggregates: dict[str, Count | Sum] = {
        f"le{i}": Count(
            "pk",
            filter=LessThanOrEqual(
                duration,
                ExpressionWrapper(
                    Value(timedelta(microseconds=1)) * pixels * Value(float(bound)),
                    output_field=DurationField(),
                ),
            ),
        )
        for i, bound in enumerate(SECONDS_PER_MP_BUCKETS)
    }
    aggregates["count"] = Count("pk")
    # Sum of (duration × 1e6 / pixels): as an interval its seconds are the s/MP values.
    aggregates["sum"] = Sum(
        ExpressionWrapper(
            duration * Value(1e6) / pixels,
            output_field=DurationField(),
        )
    )
    row = jobs.order_by().aggregate(**aggregates)
    buckets = [(_bound(bound), row[f"le{i}"]) for i, bound in enumerate(SECONDS_PER_MP_BUCKETS)]
    buckets.append(("+Inf", row["count"]))
    total = row["sum"].total_seconds() if row["sum"] is not None else 0.0
    family = HistogramMetricFamily(
        "upscaler_inference_seconds_per_megapixel",
        "Processing time (claim to result) per output megapixel of successful jobs, "
        "derived from the job timestamps at scrape time.",
    )
    family.add_metric([], buckets, sum_value=total)
    return family


def webhook_attempts() -> CounterMetricFamily:
    """Every completed delivery attempt by outcome: delivered (2xx), http_error (any other
    status), network_error (no response: timeout, refused, blocked address)."""
    from jobs.models import WebhookDelivery

    completed = WebhookDelivery.objects.filter(completed_at__isnull=False).order_by()
    row = completed.aggregate(
        delivered=Count("pk", filter=Q(succeeded=True)),
        http_error=Count("pk", filter=Q(succeeded=False, status_code__isnull=False)),
        network_error=Count("pk", filter=Q(succeeded=False, status_code__isnull=True)),
    )
    family = CounterMetricFamily(
        "upscaler_webhook_attempts", "Webhook delivery attempts by outcome.", labels=["outcome"]
    )
    for outcome in ("delivered", "http_error", "network_error"):
        family.add_metric([outcome], row[outcome])
    return family


def _bound(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}.0"


DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
DATABASE_REGISTRY.register(DatabaseCollector())


def _process_registry():
    """This process's metrics, or every gunicorn worker's when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@never_cache
def metrics_view(request):
    """The exposition text. With METRICS_TOKEN set, a scrape must send it as a bearer token."""
    token = getattr(settings, "METRICS_TOKEN", "") or os.environ.get("METRICS_TOKEN", "")
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponseForbidden("A valid metrics token is required.\n")
    body = generate_latest(_process_registry()) + generate_latest(DATABASE_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
