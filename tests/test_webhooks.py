"""Webhook delivery: signed, retried with backoff, every attempt recorded."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.db import connections
from django.utils import timezone
from standardwebhooks import Webhook

from jobs import webhooks
from jobs.api.serializers import status_payload
from jobs.models import Job, WebhookDelivery
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


def test_it_retries_failures_up_to_three_times(finished_job, webhook_receiver):
    webhook_receiver.responses = [500, 502, 500, 200]
    # apply() runs the task as a worker would, its retries inline instead of after the countdown.
    assert deliver_webhook.apply(args=[str(finished_job.pk)]).successful()
    calls = webhook_receiver.wait_for(4)
    assert len({c["headers"]["webhook-id"] for c in calls}) == 1  # stable across retries
    attempts = list(finished_job.webhook_deliveries.values_list("attempt", "status_code", "succeeded"))
    assert attempts == [(1, 500, False), (2, 502, False), (3, 500, False), (4, 200, True)]
    assert not finished_job.webhook_deliveries.filter(dispatch_at__isnull=False).exists()


def test_it_gives_up_after_three_retries(finished_job, webhook_receiver):
    webhook_receiver.responses = [500] * 10
    assert deliver_webhook.apply(args=[str(finished_job.pk)]).successful()
    assert finished_job.webhook_deliveries.count() == 4
    assert len(webhook_receiver.requests) == 4
    assert not finished_job.webhook_deliveries.filter(dispatch_at__isnull=False).exists()


def test_it_stops_on_410_and_does_not_follow_redirects(finished_job, webhook_receiver):
    webhook_receiver.responses = [410]
    deliver_webhook(str(finished_job.pk))
    [attempt] = finished_job.webhook_deliveries.all()
    assert attempt.status_code == 410 and not webhooks.should_retry(attempt)

    webhook_receiver.responses = [302]
    record, _ = webhooks.deliver(finished_job, 2)
    assert not record.succeeded and record.error == "the receiver answered with a redirect, which is not followed"


def test_it_records_unreachable_receivers(finished_job):
    Job.objects.filter(pk=finished_job.pk).update(webhook_url="http://127.0.0.1:9/hook")
    finished_job.refresh_from_db()
    record, _ = webhooks.deliver(finished_job, 1)
    assert not record.succeeded and record.status_code is None
    assert record.error == "connection refused by the receiver"


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    for attempt, nominal in ((1, 10), (2, 20), (3, 40)):
        delay = webhooks.backoff_seconds(attempt)
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert webhooks.backoff_seconds(1, retry_after=120) == 120
    assert webhooks.backoff_seconds(1, retry_after=10**9) == webhooks.MAX_RETRY_AFTER_SECONDS


def local_file_job(job: Job) -> Job:
    """The job as local storage finishes it: app-relative signed URLs."""
    Job.objects.filter(pk=job.pk).update(
        image_url="/files/outputs/a.png?sig=1", compressed_image_url="/files/outputs/a.jpg?sig=1"
    )
    return Job.objects.select_related("account").get(pk=job.pk)


def test_urls_in_the_webhook_use_the_host_the_job_was_submitted_through(finished_job, webhook_receiver, settings):
    settings.PUBLIC_BASE_URL = ""
    job = local_file_job(finished_job)
    assert job.base_url == "http://testserver"  # the Django test client's host
    deliver_webhook(str(job.pk))
    [call] = webhook_receiver.wait_for(1)
    payload = json.loads(call["body"])
    assert payload["imageUrl"] == "http://testserver/files/outputs/a.png?sig=1"
    assert payload["compressedImageUrl"] == "http://testserver/files/outputs/a.jpg?sig=1"


def test_public_base_url_wins_over_the_submit_host(finished_job, webhook_receiver, settings):
    settings.PUBLIC_BASE_URL = "https://api.example.com"
    job = local_file_job(finished_job)
    deliver_webhook(str(job.pk))
    [call] = webhook_receiver.wait_for(1)
    assert json.loads(call["body"])["imageUrl"] == "https://api.example.com/files/outputs/a.png?sig=1"


def test_the_signature_is_the_standard_webhooks_one_for_each_valid_secret(account):
    from datetime import UTC, datetime

    old = account.webhook_secret
    new = account.rotate_webhook_secret()
    header = webhooks.signature_header(account, "msg_1", 1_700_000_000, '{"a":1}')
    when = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert header.split(" ") == [Webhook(s).sign("msg_1", when, '{"a":1}') for s in (new, old)]


@pytest.fixture
def later(monkeypatch):
    """What deliver_webhook and the dispatcher ask Celery to send (now or after a
    countdown), recorded instead of sent."""
    sent: list[dict] = []

    def retry(countdown=None, kwargs=None, **options):
        sent.append({"countdown": countdown, "kwargs": kwargs or {}})
        return Retry("recorded by the test", when=countdown)

    def apply_async(args=None, kwargs=None, countdown=None, **options):
        sent.append({"countdown": countdown, "kwargs": kwargs or {}})

    monkeypatch.setattr(deliver_webhook, "retry", retry)
    monkeypatch.setattr(deliver_webhook, "apply_async", apply_async)
    return sent


def run(job_id: str, **kwargs) -> None:
    """deliver_webhook as a worker runs one message: a Retry is the task asking for its retry."""
    with contextlib.suppress(Retry):
        deliver_webhook(job_id, **kwargs)


def run_twice_at_once(job_id: str, **kwargs) -> None:
    """The same message run by two workers at the same moment (a redelivery, say)."""
    start = threading.Barrier(2)

    def worker():
        start.wait()
        try:
            run(job_id, **kwargs)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def attempts(job) -> list[tuple]:
    return list(job.webhook_deliveries.order_by("attempt").values_list("attempt", "status_code", "succeeded"))


@pytest.mark.django_db(transaction=True)
def test_an_attempt_is_sent_once_when_its_message_runs_twice_at_once(finished_job, webhook_receiver, later):
    webhook_receiver.delay = 0.5  # both copies are running while the first POST is answered
    webhook_receiver.responses = [500]
    run_twice_at_once(str(finished_job.pk))
    assert len(webhook_receiver.requests) == 1
    assert attempts(finished_job) == [(1, 500, False)]
    [retry] = later  # one retry asked for, not two

    run_twice_at_once(str(finished_job.pk), **retry["kwargs"])
    assert [r["status"] for r in webhook_receiver.requests] == [500, 200]
    assert attempts(finished_job) == [(1, 500, False), (2, 200, True)]
    assert len(later) == 1


def test_a_retry_delivered_again_later_sends_nothing(finished_job, webhook_receiver, later):
    webhook_receiver.responses = [500]
    run(str(finished_job.pk))
    [retry] = later
    assert retry["kwargs"] == {"retry_of": finished_job.webhook_deliveries.get().pk}
    run(str(finished_job.pk), **retry["kwargs"])
    run(str(finished_job.pk), **retry["kwargs"])  # the same message again, after the first ran
    run(str(finished_job.pk))  # and the first attempt's message, redelivered
    assert [r["status"] for r in webhook_receiver.requests] == [500, 200]
    assert attempts(finished_job) == [(1, 500, False), (2, 200, True)]


def test_a_retry_after_longer_than_the_visibility_timeout_waits_in_the_database(finished_job, webhook_receiver, later):
    assert settings.BROKER_VISIBILITY_TIMEOUT_SECONDS < 3600  # Redis would deliver a held message again
    webhook_receiver.responses = [(503, {"Retry-After": "3600"})]
    run(str(finished_job.pk))
    assert later == []  # no countdown at all, let alone one over the visibility timeout
    from jobs.tasks import dispatch_webhooks

    first = finished_job.webhook_deliveries.get()
    wait = (first.dispatch_at - first.completed_at).total_seconds()
    assert 3600 <= wait < 3601

    assert dispatch_webhooks()["sent"] == 0  # not due yet
    WebhookDelivery.objects.filter(pk=first.pk).update(dispatch_at=timezone.now())  # an hour on
    assert dispatch_webhooks()["sent"] == 1
    assert dispatch_webhooks()["sent"] == 0  # leased: a second run does not send it again
    [retry] = later
    assert retry == {"countdown": None, "kwargs": {"retry_of": first.pk}}
    run(str(finished_job.pk), **retry["kwargs"])
    assert [r["status"] for r in webhook_receiver.requests] == [503, 200]
    assert attempts(finished_job) == [(1, 503, False), (2, 200, True)]


def test_no_countdown_reaches_the_visibility_timeout(finished_job, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 400
    cap = settings.WEBHOOK_MAX_COUNTDOWN_SECONDS
    assert cap < settings.BROKER_VISIBILITY_TIMEOUT_SECONDS
    for attempt, retry_after in [(1, None), (1, cap - 1), (1, cap + 1), (1, 3600), (2, 10**9), (3, None)]:
        record = WebhookDelivery.objects.create(job=finished_job, attempt=attempt, status_code=503)
        before = timezone.now()
        countdown = webhooks.schedule_retry(record, retry_after)
        wanted = min(max(retry_after or 0, 400 * 2 ** (attempt - 1) * 0.8), webhooks.MAX_RETRY_AFTER_SECONDS)
        if countdown is None:  # the dispatcher sends it when due
            assert (record.dispatch_at - before).total_seconds() >= wanted - 1
        else:
            assert wanted * 0.99 <= countdown <= cap
            assert record.dispatch_at > before + timedelta(seconds=countdown)  # the fallback, if lost
        record.delete()


def test_a_retry_whose_message_was_lost_is_sent_by_the_dispatcher(finished_job, webhook_receiver, later):
    from jobs.tasks import dispatch_webhooks

    webhook_receiver.responses = [500]
    run(str(finished_job.pk))
    [countdown_retry] = later  # sent to Celery with its countdown, then lost
    assert 0.3 * 0.8 <= countdown_retry["countdown"] <= 0.3 * 1.2
    first = finished_job.webhook_deliveries.get()
    assert first.dispatch_at >= first.completed_at + timedelta(seconds=webhooks.LOST_RETRY_GRACE_SECONDS)
    assert dispatch_webhooks()["sent"] == 0  # Celery's message may still come
    WebhookDelivery.objects.filter(pk=first.pk).update(dispatch_at=timezone.now())
    assert dispatch_webhooks()["sent"] == 1
    assert later[1]["kwargs"] == countdown_retry["kwargs"] == {"retry_of": first.pk}
    run(str(finished_job.pk), **later[1]["kwargs"])
    run(str(finished_job.pk), **countdown_retry["kwargs"])  # Celery's message turns up after all
    assert [r["status"] for r in webhook_receiver.requests] == [500, 200]


def test_an_attempt_whose_worker_died_while_sending_is_retried(finished_job, webhook_receiver, later):
    from jobs.tasks import dispatch_webhooks

    claimed = webhooks.claim_attempt(finished_job, 1)  # and then the worker was killed
    assert dispatch_webhooks()["stalled"] == 0  # it may still be sending
    WebhookDelivery.objects.filter(pk=claimed.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert dispatch_webhooks()["stalled"] == 1
    claimed.refresh_from_db()
    assert claimed.completed_at and not claimed.succeeded and "worker stopped" in claimed.error
    assert claimed.dispatch_at is not None
    run(str(finished_job.pk))  # its message, redelivered: the attempt is not sent twice
    assert webhook_receiver.requests == []
    WebhookDelivery.objects.filter(pk=claimed.pk).update(dispatch_at=timezone.now())
    assert dispatch_webhooks()["sent"] == 1
    run(str(finished_job.pk), **later[-1]["kwargs"])
    assert attempts(finished_job) == [(1, None, False), (2, 200, True)]
