"""The webhooks page: the signing secret revealed on request and rotated, test events sent
through the webhook delivery (signed, SSRF-guarded, recorded without a job), recent
deliveries of this account only."""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook

from jobs.models import WebhookDelivery
from jobs.tasks import send_test_webhook
from tests.ports import free_port
from tests.servers import WebhookReceiver, make_certificate
from tests.test_admin_actions import make_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def test_the_secret_is_shown_only_when_asked_for(web, account):
    page = web.get("/webhooks").content.decode()
    assert account.webhook_secret not in page and 'id="webhook-secret-masked"' in page
    assert web.get("/webhooks/secret").status_code == 405
    r = web.post("/webhooks/secret", {"action": "reveal"})
    assert account.webhook_secret in r.content.decode()
    assert "no-store" in r["Cache-Control"]


def test_rotating_keeps_the_old_secret_valid_for_a_day(web, account):
    old = account.webhook_secret
    r = web.post("/webhooks/secret", {"action": "rotate"})
    account.refresh_from_db()
    assert account.webhook_secret != old and account.previous_webhook_secret == old
    page = r.content.decode()
    assert account.webhook_secret in page and old not in page
    assert "The previous one stays valid for 24 hours" in page
    assert 'id="grace"' in web.get("/webhooks").content.decode()


def send_test_event(web, url: str):
    """POST the test-event form, then do what the worker does with the message it queues
    (tests/test_outbound_deadlines.py runs it through a real worker). The page after."""
    r = web.post("/webhooks/test", {"url": url})
    assert r.status_code == 302, r.content
    record = WebhookDelivery.objects.get(pk=int(r["Location"].rsplit("=", 1)[1]))
    pending = web.get(r["Location"])
    assert b'id="test-pending"' in pending.content and b"data-poll-url" in pending.content
    assert web.get(f"/webhooks/test/{record.pk}.json").json() == {"done": False, "succeeded": False}
    send_test_webhook(record.pk)
    assert web.get(f"/webhooks/test/{record.pk}.json").json()["done"] is True
    return web.get(r["Location"])


def test_a_test_event_is_a_signed_post_recorded_like_any_delivery(web, account, webhook_receiver):
    r = send_test_event(web, webhook_receiver.url + "/hook")
    assert b'id="test-result"' in r.content and b"Delivered" in r.content
    [call] = webhook_receiver.wait_for(1)
    headers = {k.lower(): v for k, v in call["headers"].items()}
    payload = Webhook(account.webhook_secret).verify(call["body"], headers)
    assert payload["type"] == "webhook.test" and payload["account"] == "acme"
    assert headers["webhook-id"].startswith("msg_test_")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.job, delivery.account, delivery.status_code) == ("test", None, account, 200)
    assert (delivery.url, delivery.attempt) == (webhook_receiver.url + "/hook", 1)
    assert account.webhook_secret not in r.content.decode()
    # The message delivered twice sends nothing twice.
    send_test_webhook(delivery.pk)
    assert len(webhook_receiver.requests) == 1


def test_a_failed_test_event_says_why(web, webhook_receiver):
    webhook_receiver.responses = [500]
    r = send_test_event(web, webhook_receiver.url + "/hook")
    assert b"Not delivered" in r.content and b"HTTP 500" in r.content
    assert not WebhookDelivery.objects.get().succeeded


def test_a_refused_connection_is_said_in_words(web):
    """Item 18 of issue 22: not `_GuardedHTTPPool(host=...) ... [Errno 111]`."""
    r = send_test_event(web, f"http://127.0.0.1:{free_port()}/hook")
    assert b"connection refused by the receiver" in r.content
    assert WebhookDelivery.objects.get().error == "connection refused by the receiver"
    assert b"Errno" not in r.content and b"Pool" not in r.content


def test_an_invalid_tls_certificate_is_said_in_words(web, tmp_path):
    """A receiver whose certificate no CA vouches for (self-signed)."""
    with WebhookReceiver(tls=make_certificate(tmp_path, "localhost")) as receiver:
        r = send_test_event(web, receiver.url + "/hook")
    error = WebhookDelivery.objects.get().error
    assert error.startswith("TLS certificate invalid: ") and "self-signed" in error, error
    assert error.encode() in r.content


def test_test_events_are_throttled_per_account(web, settings, other_owner, client, webhook_receiver):
    """One at a time while it is being sent, and WEBHOOK_TESTS_PER_MINUTE a minute; another
    account's owner is not held back by it."""
    settings.WEBHOOK_TESTS_PER_MINUTE = 3
    url = webhook_receiver.url + "/hook"
    first = web.post("/webhooks/test", {"url": url})
    assert first.status_code == 302
    busy = web.post("/webhooks/test", {"url": url})
    assert busy.status_code == 429 and busy["Retry-After"]
    assert b"A test event is still being sent" in busy.content and b'id="test-pending"' in busy.content
    for record in WebhookDelivery.objects.filter(completed_at__isnull=True):
        send_test_webhook(record.pk)
    assert web.post("/webhooks/test", {"url": url}).status_code == 302
    send_test_webhook(WebhookDelivery.objects.get(completed_at__isnull=True).pk)
    assert web.post("/webhooks/test", {"url": url}).status_code == 302
    send_test_webhook(WebhookDelivery.objects.get(completed_at__isnull=True).pk)
    over = web.post("/webhooks/test", {"url": url})
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert b"At most 3 test events a minute" in over.content
    assert WebhookDelivery.objects.count() == 3
    client.force_login(other_owner)
    assert client.post("/webhooks/test", {"url": url}).status_code == 302


def test_another_accounts_test_event_is_not_found(web, other_account):
    theirs = WebhookDelivery.objects.create(account=other_account, event="test", attempt=0, url="https://example.com/t")
    assert web.get(f"/webhooks/test/{theirs.pk}.json").status_code == 404
    assert web.get(f"/webhooks?test={theirs.pk}").status_code == 404


def test_test_events_go_through_the_ssrf_guard(web, settings, webhook_receiver):
    settings.UPSCALER_ALLOW_PRIVATE_URLS = False
    r = send_test_event(web, webhook_receiver.url + "/hook")
    assert b"Not delivered" in r.content and b"not sent: the address 127.0.0.1 is not public" in r.content
    assert webhook_receiver.requests == []  # refused before any packet was sent
    assert WebhookDelivery.objects.get().error.startswith("not sent:")
    for url, message in [
        ("file:///etc/passwd", b"valid http or https URL"),
        ("http://user:pw@example.com/x", b"URLs with credentials are not allowed"),
    ]:
        r = web.post("/webhooks/test", {"url": url})
        assert r.status_code == 400 and message in r.content
    assert WebhookDelivery.objects.count() == 1


def test_recent_deliveries_are_this_accounts_jobs_and_tests(web, account, other_account):
    mine = make_job(account, webhook_url="https://example.com/mine")
    theirs = make_job(other_account, webhook_url="https://example.com/theirs")
    WebhookDelivery.objects.create(job=mine, attempt=1, url=mine.webhook_url, status_code=200, succeeded=True)
    WebhookDelivery.objects.create(job=theirs, attempt=1, url=theirs.webhook_url, status_code=200, succeeded=True)
    WebhookDelivery.objects.create(account=other_account, event="test", attempt=1, url="https://example.com/t2")
    WebhookDelivery.objects.create(account=account, event="test", attempt=1, url="https://example.com/t1")
    page = web.get("/webhooks").content.decode()
    assert "example.com/mine" in page and "example.com/t1" in page
    assert "example.com/theirs" not in page and "example.com/t2" not in page
    # The API's delivery log of a job is unchanged by test events.
    log = web.get(f"/api/v1/jobs/{mine.id}/webhook-deliveries", HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert [d["url"] for d in json.loads(log.content)] == ["https://example.com/mine"]


def test_a_delivery_is_a_job_event_or_a_test_event_never_neither(account):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(attempt=1, url="https://example.com/x")
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(account=account, attempt=1, url="https://example.com/x")  # event defaults to job


def test_a_test_event_no_worker_sent_is_recorded_failed_and_not_retried(account):
    from datetime import timedelta

    from django.utils import timezone

    from jobs import webhooks

    record = WebhookDelivery.objects.create(account=account, event="test", attempt=0, url="https://example.com/t")
    long_ago = timezone.now() - timedelta(seconds=webhooks.attempt_lifetime_seconds() + 1)
    WebhookDelivery.objects.filter(pk=record.pk).update(created_at=long_ago)
    assert webhooks.pending_test_event(account) is None  # it no longer holds the next one back
    assert webhooks.recover_stalled(timezone.now()) == 1
    record.refresh_from_db()
    assert record.error == "no worker took this test event in time"
    assert record.completed_at is not None and record.dispatch_at is None
