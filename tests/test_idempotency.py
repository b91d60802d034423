"""Idempotency-Key: one job and one charge per key and body, for 24 hours."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

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
    """One of the burst runs; the others get its answer if it has finished, else a 409 at
    once with Retry-After, and a retry after that gets its answer."""
    barrier = threading.Barrier(10)
    payload = body()
    headers = {"Authorization": f"Bearer {account.raw_key}", "Idempotency-Key": "burst"}

    def submit(_):
        barrier.wait()
        return requests.post(f"{live_server.url}/api/v1/precise-upscale", json=payload, timeout=90, headers=headers)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(submit, range(10)))
    answered = [r for r in responses if r.status_code == 200]
    busy = [r for r in responses if r.status_code == 409]
    assert len(answered) + len(busy) == 10 and answered, [r.text for r in responses]
    for r in busy:
        assert "still being processed" in r.json()["error"] and r.headers["Retry-After"] == "5", r.text
    retry = requests.post(f"{live_server.url}/api/v1/precise-upscale", json=payload, timeout=90, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert len({r.json()["id"] for r in [*answered, retry]}) == 1
    assert Job.objects.count() == 1 and LedgerEntry.objects.filter(kind="debit").count() == 1
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()


def in_flight(record: IdempotencyRecord, *, started_ago: timedelta, job: bool) -> None:
    """Put the key back in the state of a first request still running (or that died):
    no response recorded, started `started_ago`, with or without the job it created."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=None,
        response_body=None,
        job=record.job if job else None,
        created_at=timezone.now() - started_ago,
    )


@pytest.mark.django_db
def test_a_duplicate_of_a_request_in_flight_is_refused_at_once(
    api, account, django_assert_max_num_queries, monkeypatch
):
    first = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="slow")
    in_flight(IdempotencyRecord.objects.get(), started_ago=timedelta(seconds=1), job=False)
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("a duplicate waited"))
    with django_assert_max_num_queries(12):  # auth, the rate limiter, and one look at the key: no loop
        r = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="slow")
    assert r.status_code == 409 and r.headers["Retry-After"] == "5", r.content
    assert r.json() == {
        "status": "FAILED",
        "error": "A request with this Idempotency-Key is still being processed; retry in 5 seconds to get its answer.",
    }
    assert first.status_code == 200 and Job.objects.count() == 1


@pytest.mark.django_db
def test_a_key_whose_request_died_after_creating_its_job_resolves_to_that_job(api, account, settings):
    first = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="crashed")
    record = IdempotencyRecord.objects.get()
    assert str(record.job_id) == first.json()["id"]  # recorded with the job, in its transaction
    # The process died after the job was committed, before the answer was recorded.
    in_flight(record, started_ago=timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS - 30), job=True)
    assert api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="crashed").status_code == 409  # may still run
    in_flight(record, started_ago=timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS + 1), job=True)
    retry = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="crashed")
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    again = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="crashed")
    assert again.json() == first.json()
    assert Job.objects.count() == 1
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()


@pytest.mark.django_db
def test_a_key_whose_request_died_before_creating_a_job_is_released(api, account, settings):
    api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="template")
    # The same request under another key, whose first request died before its job.
    lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    IdempotencyRecord.objects.create(
        account=account, key="died-early", fingerprint=IdempotencyRecord.objects.get().fingerprint
    )
    IdempotencyRecord.objects.filter(key="died-early").update(created_at=timezone.now() - lease / 2)
    assert api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="died-early").status_code == 409
    IdempotencyRecord.objects.filter(key="died-early").update(created_at=timezone.now() - lease - timedelta(seconds=1))
    retry = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="died-early")
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry
    assert str(IdempotencyRecord.objects.get(key="died-early").job_id) == retry.json()["id"]
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_a_request_that_fails_after_charging_keeps_its_key_on_the_job(api, account, monkeypatch):
    """An error after the job was created and charged (here, building the answer) does not
    release the key: a retry gets that job instead of a second charge."""
    from jobs.api import views

    real = views.submit_answer
    calls = []

    def broken_once(job):
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("the process fell over here")
        return real(job)

    monkeypatch.setattr(views, "submit_answer", broken_once)
    with pytest.raises(RuntimeError):
        api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="after-charge")
    retry = api.post("precise-upscale", body(), HTTP_IDEMPOTENCY_KEY="after-charge")
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == str(calls[0].id)
    assert Job.objects.count() == 1
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()
