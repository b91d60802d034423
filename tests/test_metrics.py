"""/metrics: request counts and latencies from the middleware, and job, queue, inference
and webhook metrics derived from the database at scrape time."""

from __future__ import annotations

import pytest
import redis
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs import lifecycle
from jobs.models import Job, WebhookDelivery
from tests.test_admin_actions import make_job
from tests.test_health import start_own_redis

pytestmark = pytest.mark.django_db

MIDDLEWARE = ["jobs.operators.metrics.PrometheusMiddleware"]


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_it_counts_requests_and_latencies(client, settings):
    assert MIDDLEWARE[0] in settings.MIDDLEWARE
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/status/00000000-0000-0000-0000-000000000000")  # 401
    after = scrape(client)
    labels = {"method": "GET", "view": "healthz", "status": "200"}
    assert (
        value(after, "upscaler_http_requests_total", **labels) - value(before, "upscaler_http_requests_total", **labels)
        == 3
    )
    latency = {"method": "GET", "view": "healthz"}
    assert (
        value(after, "upscaler_http_request_duration_seconds_count", **latency)
        - value(before, "upscaler_http_request_duration_seconds_count", **latency)
        == 3
    )
    # Job ids in paths do not become labels: the route's view name does.
    assert not any("00000000" in str(key) for key in after)


def test_job_metrics_move_when_jobs_run(client, account):
    first = scrape(client)
    queued = make_job(account, Job.Status.IN_QUEUE)
    # 4 MP output processed in 2 s: 0.5 s/MP; 2 MP in 20 s: 10 s/MP.
    make_job(account, Job.Status.SUCCESS, output=(2000, 2000), processing_seconds=2)
    make_job(account, Job.Status.SUCCESS, output=(2000, 1000), processing_seconds=20)
    second = scrape(client)

    hist = "upscaler_inference_seconds_per_megapixel"

    def moved(name, **labels):
        return value(second, name, **labels) - value(first, name, **labels)

    assert moved("upscaler_jobs", status="IN_QUEUE") == 1
    assert moved("upscaler_jobs", status="SUCCESS") == 2
    assert moved(f"{hist}_count") == 2
    assert moved(f"{hist}_sum") == pytest.approx(10.5)
    assert moved(f"{hist}_bucket", le="0.25") == 0
    assert moved(f"{hist}_bucket", le="0.5") == 1
    assert moved(f"{hist}_bucket", le="5.0") == 1
    assert moved(f"{hist}_bucket", le="10.0") == 2
    assert moved(f"{hist}_bucket", le="+Inf") == 2

    # The queued job runs and fails: it leaves IN_QUEUE for FAILED.
    Job.objects.filter(pk=queued.pk).update(status=Job.Status.IN_PROGRESS)
    lifecycle.fail(queued, "Boom")
    third = scrape(client)
    in_queue = {"status": "IN_QUEUE"}
    assert value(third, "upscaler_jobs", **in_queue) == value(first, "upscaler_jobs", **in_queue)
    failed = {"status": "FAILED"}
    assert value(third, "upscaler_jobs", **failed) - value(second, "upscaler_jobs", **failed) == 1


def test_webhook_attempts_by_outcome(client, account):
    job = make_job(account, Job.Status.SUCCESS, webhook_url="https://example.com/hook")
    before = scrape(client)
    done = {"job": job, "url": job.webhook_url, "completed_at": timezone.now()}
    WebhookDelivery.objects.create(attempt=1, status_code=503, **done)
    WebhookDelivery.objects.create(attempt=2, error="timed out", **done)
    WebhookDelivery.objects.create(attempt=3, status_code=200, succeeded=True, **done)
    WebhookDelivery.objects.create(job=job, attempt=4, url=job.webhook_url)  # being sent: no outcome yet
    after = scrape(client)
    for outcome in ("delivered", "http_error", "network_error"):
        assert (
            value(after, "upscaler_webhook_attempts_total", outcome=outcome)
            - value(before, "upscaler_webhook_attempts_total", outcome=outcome)
            == 1
        )


@pytest.fixture
def own_redis(tmp_path):
    server = start_own_redis(tmp_path)
    yield server
    server.kill()


def test_queue_depth_follows_the_broker(client, own_redis, settings):
    """On its own Redis, so no other test's worker consumes the messages counted here."""
    r = redis.Redis.from_url(own_redis.url)
    prefix = settings.REDIS_KEY_PREFIX  # the broker's keys carry it (global_keyprefix)
    with override_settings(CELERY_BROKER_URL=own_redis.url):
        before = scrape(client)
        assert value(before, "upscaler_broker_up") == 1
        assert value(before, "upscaler_queue_depth", queue="inference") == 0
        # A kombu Redis queue is a list named after it, plus one per priority step.
        r.lpush(f"{prefix}inference", "{}", "{}")
        r.lpush(f"{prefix}inference\x06\x163", "{}")
        r.lpush(f"{prefix}webhooks", "{}")
        after = scrape(client)
        assert value(after, "upscaler_queue_depth", queue="inference") == 3
        assert value(after, "upscaler_queue_depth", queue="webhooks") == 1
        assert value(after, "upscaler_queue_depth", queue="maintenance") == 0

        own_redis.kill()
        down = scrape(client)
    assert value(down, "upscaler_broker_up") == 0
    assert not any(name == "upscaler_queue_depth" for name, _ in down)


def test_it_requires_the_token_when_one_is_set(client):
    with override_settings(METRICS_TOKEN="s3cret"):
        assert client.get("/metrics").status_code == 403
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


SQLITE_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from datetime import timedelta
from django.utils import timezone
from billing.models import Account
from jobs.models import Job
from jobs.operators.metrics import inference_seconds_per_megapixel
account = Account.objects.create(name="a")
now = timezone.now()
for seconds, size in ((2, (2000, 2000)), (20, (2000, 1000))):
    Job.objects.create(account=account, mode="precise", status="SUCCESS", credit_cost=1,
        input_name="x", input_width=1, input_height=1, output_width=size[0],
        output_height=size[1], started_at=now - timedelta(seconds=seconds), finished_at=now)
family = inference_seconds_per_megapixel()
print({(s.name, s.labels.get("le")): s.value for s in family.samples})
"""


@pytest.mark.slow
def test_the_histogram_query_runs_on_sqlite_too(tmp_path):
    """The embedded default runs on SQLite, where durations are integers of microseconds."""
    import ast
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "UPSCALER_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    samples = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    hist = "upscaler_inference_seconds_per_megapixel"
    assert samples[(f"{hist}_count", None)] == 2
    assert samples[(f"{hist}_sum", None)] == pytest.approx(10.5)
    assert samples[(f"{hist}_bucket", "0.5")] == 1
    assert samples[(f"{hist}_bucket", "10.0")] == 2
