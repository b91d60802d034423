"""Idempotency-Key: one job and one charge per key and body, for 24 hours."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from billing.models import LedgerEntry
from jobs.models import IdempotencyRecord, Job
from tests import images


def body(size=24):
    return {"input": {"imageBase64": base64.b64encode(images.png(size, size)).decode(), "upscaleFactor": 2}}


@pytest.mark.django_db
def test_it_replays_the_first_response(api, account):
    first = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="order-1")
    again = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1
    account.refresh_from_db()
    assert account.balance == 99


@pytest.mark.django_db
def test_it_refuses_the_same_key_with_another_body(api, account):
    assert api.post("precise-upscale", body(24), HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    r = api.post("precise-upscale", body(32), HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 409 and "different request" in r.json()["error"]
    r = api.post("dynamic-upscale", body(24), HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 409
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_first_request_does_not_burn_the_key(api, account):
    bad = api.post("precise-upscale", {"input": {"imageBase64": "bad!"}}, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 400
    assert api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="retry-me").status_code == 200


@pytest.mark.django_db
def test_keys_expire_after_24_hours(api, account):
    api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - timedelta(hours=25))
    api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="old")
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_keys_are_per_account(api, account, other_account):
    api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="shared")
    api.as_key(other_account.raw_key).post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="shared")
    assert Job.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_job(live_server, account, broker):
    barrier = threading.Barrier(10)
    payload = body()

    def submit(_):
        barrier.wait()
        return requests.post(
            f"{live_server.url}/api/v1/precise-upscale",
            json=payload,
            timeout=90,
            headers={"Authorization": f"Bearer {account.raw_key}", "Idempotency-Key": "burst"},
        )

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(submit, range(10)))
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Job.objects.count() == 1 and LedgerEntry.objects.filter(kind="debit").count() == 1
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()
