"""Fault tests with real processes: nothing lost, nothing charged twice."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from billing.models import LedgerEntry
from jobs.models import Job, WebhookDelivery
from tests import images
from tests.conftest import gunicorn_command, worker_env
from tests.flows import Client, download_image, wait_until
from tests.ports import free_port
from tests.servers import WebhookReceiver

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A worker that notices dead jobs fast: heartbeat every 0.5 s, orphaned after 4 s, swept every second.
FAST_RECOVERY = dict(
    JOB_HEARTBEAT_SECONDS="0.5", JOB_STALE_AFTER_SECONDS="4", JOB_REQUEUE_AFTER_SECONDS="3", SWEEP_INTERVAL_SECONDS="1"
)


def test_a_job_survives_its_worker_being_killed(make_worker, live_server, account):
    first = make_worker(**FAST_RECOVERY)
    client = Client(live_server.url, account.raw_key)
    # ~20 s of CPU for the 23-block network: long enough to kill it mid-way.
    data = base64.b64encode(images.png(192, 160)).decode()
    r = client.submit("precise-upscale", {"input": {"imageBase64": data, "upscaleFactor": 4}})
    assert r.status_code == 200, r.text
    job_id = r.json()["id"]
    wait_until(
        lambda: Job.objects.filter(pk=job_id, status="IN_PROGRESS", progress__gt=0).exists(),
        120,
        "the job to be running",
    )
    first.kill(signal.SIGKILL)  # the whole worker, main process and pool children
    assert Job.objects.get(pk=job_id).status == "IN_PROGRESS"

    make_worker(beat=True, **FAST_RECOVERY)
    final, _ = client.wait(job_id, timeout=300)
    assert_completed_once(job_id, final)
    # How many runs it took depends on timing (a sweep can catch a slow restart too); it
    # was interrupted, so at least two, and within the limit, or it would have failed.
    assert 2 <= Job.objects.get(pk=job_id).attempts <= settings.JOB_MAX_ATTEMPTS
    png, _ = download_image(final["imageUrl"])
    assert png.size == (768, 640)
    account.refresh_from_db()
    assert account.balance == 100 - final["creditCost"] == account.ledger_sum()


def assert_completed_once(job_id: str, final: dict) -> None:
    """The property that matters, whatever the timing: one SUCCESS with its output, charged
    once (one debit row, no refund)."""
    assert final["status"] == "SUCCESS", final
    job = Job.objects.get(pk=job_id)
    assert job.status == "SUCCESS" and job.image_name and job.compressed_image_name
    assert final["imageUrl"] and final["compressedImageUrl"]
    assert [e.kind for e in LedgerEntry.objects.filter(job=job)] == ["debit"]


def test_a_job_failing_its_attempts_is_failed_and_refunded(live_server, account, settings):
    from django.utils import timezone

    from jobs.tasks import sweep_jobs

    settings.JOB_STALE_AFTER_SECONDS = 1
    client = Client(live_server.url, account.raw_key)
    r = client.submit("precise-upscale", {"input": {"imageBase64": base64.b64encode(images.png()).decode()}})
    job_id = r.json()["id"]
    stale = timezone.now() - timezone.timedelta(seconds=60)
    Job.objects.filter(pk=job_id).update(status="IN_PROGRESS", attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=stale)
    assert sweep_jobs()["failed"] == 1
    job = Job.objects.get(pk=job_id)
    assert job.status == "FAILED" and job.error.endswith("Your credits have been refunded.")
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of the test's own, which it can stop and start again on the same port."""
    port = free_port()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        proc = None

        def start(self):
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_until(lambda: _pings(port), 10, "redis to start")

        def stop(self):
            self.proc.kill()
            self.proc.wait()

    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed") if os.environ.get("CI") == "true" else pytest.skip(
            "no redis-server"
        )
    server = Server()
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_jobs_submitted_while_redis_is_down_all_complete(own_redis, make_worker, live_server, account, tmp_path):
    env = worker_env(live_server.url, CELERY_BROKER_URL=own_redis.url, REDIS_URL=own_redis.url, **FAST_RECOVERY)
    port = free_port()
    web = subprocess.Popen(
        gunicorn_command(port, "--workers=2"),
        cwd=REPO,
        env=env,
        stdout=open(tmp_path / "web.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(base), 60, "the web app")
        # Celery's Redis transport can crash the worker when the broker goes away (celery#7705);
        # deployments run workers under a restart policy, and so does this test.
        worker = make_worker(
            beat=True, supervised=True, CELERY_BROKER_URL=own_redis.url, REDIS_URL=own_redis.url, **FAST_RECOVERY
        )
        client = Client(base, account.raw_key)
        data = base64.b64encode(images.png(20, 16)).decode()

        def submit():
            r = client.submit("precise-upscale", {"input": {"imageBase64": data, "upscaleFactor": 2}})
            assert r.status_code == 200, r.text
            return r.json()["id"]

        before = submit()
        own_redis.stop()
        during = [submit() for _ in range(3)]
        assert Job.objects.filter(pk__in=during, status="IN_QUEUE").count() == 3
        time.sleep(2)
        own_redis.start()
        costs = 0
        for job_id in [before, *during]:
            try:
                final, _ = client.wait(job_id, timeout=120)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{worker.log()[-6000:]}") from None
            assert_completed_once(job_id, final)
            costs += final["creditCost"]
        # A worker crash while Redis was away can cost a job a run; never a second charge.
        assert all(1 <= n <= settings.JOB_MAX_ATTEMPTS for n in Job.objects.values_list("attempts", flat=True))
        assert not LedgerEntry.objects.filter(kind="refund").exists()
        account.refresh_from_db()
        assert account.balance == 100 - costs == account.ledger_sum()
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def _up(base: str) -> bool:
    try:
        return requests.get(base + "/api/v1/schema", timeout=20).status_code == 200
    except requests.RequestException:
        return False


def test_a_webhook_receiver_down_then_failing_then_up_gets_it_once(make_worker, live_server, account):
    worker = make_worker(WEBHOOK_RETRY_BASE_SECONDS="3")
    port = free_port()  # nothing listens here yet: the first attempt is refused
    client = Client(live_server.url, account.raw_key)
    data = base64.b64encode(images.png(16, 16)).decode()
    r = client.submit(
        "precise-upscale",
        {"webhook": f"http://127.0.0.1:{port}/hook", "input": {"imageBase64": data, "upscaleFactor": 2}},
    )
    job_id = r.json()["id"]
    # The first attempt's outcome recorded (refused), not just the attempt claimed: an attempt
    # still connecting when the receiver comes up would find it listening.
    refused_attempt = WebhookDelivery.objects.filter(job_id=job_id, completed_at__isnull=False, status_code=None)
    wait_until(refused_attempt.exists, 120, "the first attempt, refused")
    with WebhookReceiver(responses=[500], port=port) as receiver:
        calls = receiver.wait_for(2, timeout=60)
        # Every delivery task the worker got (retries scheduled for later included) has
        # ended: no further attempt can come. How many attempts found nobody listening
        # depends on timing; the receiver, once up, gets the payload until it answers 2xx,
        # and never again.
        wait_until(
            lambda: worker.settled("jobs.tasks.deliver_webhook"),
            120,
            "the delivery tasks to end",
            context=lambda: worker.log()[-4000:],
        )
        assert [c["status"] for c in receiver.requests] == [500, 200]
    attempts = list(WebhookDelivery.objects.filter(job_id=job_id).order_by("attempt"))
    assert [a.attempt for a in attempts] == list(range(1, len(attempts) + 1))
    refused, answered = attempts[:-2], attempts[-2:]
    assert refused and all(a.status_code is None and "connection" in a.error.lower() for a in refused)
    assert [(a.status_code, a.succeeded) for a in answered] == [(500, False), (200, True)]
    account.refresh_from_db()
    secret = account.webhook_secret
    final = client.status(job_id)
    for call in calls:
        headers = {k.lower(): v for k, v in call["headers"].items()}
        assert Webhook(secret).verify(call["body"], headers) == final
    assert calls[0]["headers"]["webhook-id"] == calls[1]["headers"]["webhook-id"]


def test_a_webhook_message_delivered_twice_sends_each_attempt_once(make_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    with WebhookReceiver(responses=[500], delay=1.0) as receiver:
        data = base64.b64encode(images.png(16, 16)).decode()
        r = client.submit("precise-upscale", {"webhook": receiver.url + "/hook", "input": {"imageBase64": data}})
        job_id = r.json()["id"]
        # Finished before any worker runs it: the only webhook messages are the test's.
        Job.objects.filter(pk=job_id).update(status="SUCCESS", finished_at=timezone.now())
        from jobs.tasks import deliver_webhook

        for _ in range(2):  # one message, delivered twice (as Redis does after a visibility timeout)
            deliver_webhook.apply_async(args=[job_id], task_id=f"webhook-{job_id}")
        worker = make_worker()  # two pool processes: both copies run at once
        receiver.wait_for(2, timeout=60)
        # Both copies of the message (and the retry) have ended: a duplicate attempt would
        # have been sent by now.
        wait_until(
            lambda: worker.settled("jobs.tasks.deliver_webhook"),
            120,
            "the delivery tasks to end",
            context=lambda: worker.log()[-4000:],
        )
        assert [c["status"] for c in receiver.requests] == [500, 200]
    attempts = WebhookDelivery.objects.filter(job_id=job_id).order_by("attempt")
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 200, True)]
    assert not attempts.filter(dispatch_at__isnull=False).exists()
