"""The account's webhook secret (read, rotate), a job's delivery log and redelivery."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from jobs import webhooks
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


def finished(api, webhook_url: str) -> Job:
    body = {"webhook": webhook_url, "input": {"imageBase64": base64.b64encode(images.png()).decode()}}
    r = api.post("precise-upscale", body)
    assert r.status_code == 200, r.content
    Job.objects.filter(pk=r.json()["id"]).update(status="FAILED", error="x", finished_at=timezone.now())
    return Job.objects.select_related("account").get(pk=r.json()["id"])


def test_the_account_shows_its_secret_and_rotation_keeps_the_old_one_valid(api, account, webhook_receiver):
    old = api.get("account").json()["webhookSecret"]
    assert old.startswith("whsec_") and old == account.webhook_secret
    r = api.post("account/webhook-secret")
    assert r.status_code == 200
    new = r.json()["webhookSecret"]
    assert new != old and api.get("account").json()["webhookSecret"] == new
    assert r.json()["previousSecretValidUntil"].endswith("Z")

    job = finished(api, webhook_receiver.url)
    webhooks.deliver(job, 1)
    [call] = webhook_receiver.wait_for(1)
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert len(headers["webhook-signature"].split()) == 2  # signed with both during the grace period
    for secret in (old, new):
        assert Webhook(secret).verify(call["body"], headers)["id"] == str(job.pk)

    account.refresh_from_db()
    account.previous_webhook_secret_expires_at = timezone.now()
    account.save()
    webhook_receiver.requests.clear()
    job.account.refresh_from_db()
    webhooks.deliver(job, 2)
    [call] = webhook_receiver.wait_for(1)
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert Webhook(new).verify(call["body"], headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(call["body"], headers)


def test_the_delivery_log_and_redelivery(api, account, other_account, webhook_receiver, monkeypatch):
    job = finished(api, webhook_receiver.url + "/hook")
    webhook_receiver.responses = [500]
    webhooks.deliver(job, 1)
    log = api.get(f"jobs/{job.pk}/webhook-deliveries").json()
    assert [(d["attempt"], d["statusCode"], d["succeeded"]) for d in log] == [(1, 500, False)]
    assert api.as_key(other_account.raw_key).get(f"jobs/{job.pk}/webhook-deliveries").status_code == 404

    from jobs import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", lambda args, kwargs: sent.append((args, kwargs)))
    r = api.post(f"jobs/{job.pk}/redeliver-webhook")
    assert r.status_code == 202 and sent == [([str(job.pk)], {"manual": True})]
    assert r.json() == {"id": str(job.pk), "status": "QUEUED"}
    tasks.deliver_webhook(str(job.pk), manual=True)
    log = api.get(f"jobs/{job.pk}/webhook-deliveries").json()
    assert [(d["attempt"], d["statusCode"], d["succeeded"]) for d in log] == [(1, 500, False), (2, 200, True)]
    assert json.loads(webhook_receiver.requests[-1]["body"])["status"] == "FAILED"


def test_redelivery_needs_a_finished_job_with_a_webhook(api):
    r = api.post("precise-upscale", {"input": {"imageBase64": base64.b64encode(images.png()).decode()}})
    job_id = r.json()["id"]
    assert api.post(f"jobs/{job_id}/redeliver-webhook").status_code == 409
