"""Webhook delivery: signed, retried with backoff, every attempt recorded."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from jobs import webhooks
from jobs.api.serializers import status_payload
from jobs.models import Job
from jobs.tasks import deliver_webhook
from tests import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_job(api, webhook_receiver):
    body = {
        "webhook": webhook_receiver.url + "/hook",
        "input": {"imageBase64": base64.b64encode(images.png()).decode()},
    }
    r = api.post("precise-upscale", body)
    assert r.status_code == 200, r.content
    Job.objects.filter(pk=r.json()["id"]).update(
        status="SUCCESS",
        image_url="https://cdn.example/a.png",
        compressed_image_url="https://cdn.example/a.jpg",
        expires_at=timezone.now(),
        finished_at=timezone.now(),
    )
    return Job.objects.select_related("account").get(pk=r.json()["id"])


def test_it_posts_the_status_payload_signed(finished_job, webhook_receiver):
    deliver_webhook(str(finished_job.pk))
    [call] = webhook_receiver.wait_for(1)
    payload = json.loads(call["body"])
    assert payload == status_payload(finished_job, finished_job.public_base_url())
    headers = {k.lower(): v for k, v in call["headers"].items()}
    verified = Webhook(finished_job.account.webhook_secret).verify(call["body"], headers)
    assert verified["id"] == str(finished_job.pk)
    [attempt] = finished_job.webhook_deliveries.all()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.attempt == 1


def test_it_retries_failures_up_to_three_times(finished_job, webhook_receiver, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # retries run inline instead of after the countdown
    from upscaler_platform.celery import app

    app.conf.task_always_eager = True
    try:
        webhook_receiver.responses = [500, 502, 500, 200]
        deliver_webhook(str(finished_job.pk))
    finally:
        app.conf.task_always_eager = False
    calls = webhook_receiver.wait_for(4)
    assert len({c["headers"]["webhook-id"] for c in calls}) == 1  # stable across retries
    attempts = list(finished_job.webhook_deliveries.values_list("attempt", "status_code", "succeeded"))
    assert attempts == [(1, 500, False), (2, 502, False), (3, 500, False), (4, 200, True)]


def test_it_gives_up_after_three_retries(finished_job, webhook_receiver):
    from upscaler_platform.celery import app

    app.conf.task_always_eager = True
    try:
        webhook_receiver.responses = [500] * 10
        deliver_webhook(str(finished_job.pk))
    finally:
        app.conf.task_always_eager = False
    assert finished_job.webhook_deliveries.count() == 4
    assert len(webhook_receiver.requests) == 4


def test_it_stops_on_410_and_does_not_follow_redirects(finished_job, webhook_receiver):
    webhook_receiver.responses = [410]
    deliver_webhook(str(finished_job.pk))
    [attempt] = finished_job.webhook_deliveries.all()
    assert attempt.status_code == 410 and not webhooks.should_retry(attempt)

    webhook_receiver.responses = [302]
    record, _ = webhooks.deliver(finished_job, 2)
    assert not record.succeeded and record.error == "redirects are not followed"


def test_it_records_unreachable_receivers(finished_job):
    Job.objects.filter(pk=finished_job.pk).update(webhook_url="http://127.0.0.1:9/hook")
    finished_job.refresh_from_db()
    record, _ = webhooks.deliver(finished_job, 1)
    assert not record.succeeded and record.status_code is None and "Connection" in record.error


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    for attempt, nominal in ((1, 10), (2, 20), (3, 40)):
        delay = webhooks.backoff_seconds(attempt)
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert webhooks.backoff_seconds(1, retry_after=120) == 120
    assert webhooks.backoff_seconds(1, retry_after=10**9) == webhooks.MAX_RETRY_AFTER_SECONDS


def test_the_signature_is_the_standard_webhooks_one_for_each_valid_secret(account):
    from datetime import UTC, datetime

    old = account.webhook_secret
    new = account.rotate_webhook_secret()
    header = webhooks.signature_header(account, "msg_1", 1_700_000_000, '{"a":1}')
    when = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert header.split(" ") == [Webhook(s).sign("msg_1", when, '{"a":1}') for s in (new, old)]
