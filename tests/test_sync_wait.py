"""`Prefer: wait=N` on a submit: the answer comes when the job ends (200, the full status
payload, `Preference-Applied`), or after N seconds with the job still running; waits are
capped per process and wake on the job's completion signal, not by polling the database."""

from __future__ import annotations

import base64
import threading
import time

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry
from jobs import completion, lifecycle
from jobs.models import Job
from tests import images
from tests.flows import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def body(size=(24, 20)) -> dict:
    return {"input": {"imageBase64": base64.b64encode(images.png(*size)).decode(), "upscaleFactor": 2}}


def post(live_server, account, prefer: str | None, timeout: float = 60) -> requests.Response:
    headers = {"Authorization": f"Bearer {account.raw_key}"}
    if prefer:
        headers["Prefer"] = prefer
    return requests.post(f"{live_server.url}/api/v1/precise-upscale", json=body(), headers=headers, timeout=timeout)


def test_without_the_header_the_answer_is_unchanged(live_server, account, broker):
    r = post(live_server, account, None)
    assert r.status_code == 200 and set(r.json()) == {"id", "status", "creditCost"}
    assert r.json()["status"] == "IN_QUEUE" and "Preference-Applied" not in r.headers


def test_a_wait_that_runs_out_answers_with_the_job_still_unfinished(live_server, account, broker):
    # No worker runs in this test: the job stays queued.
    started = time.monotonic()
    r = post(live_server, account, "wait=2")
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert r.headers["Preference-Applied"] == "wait=2"
    payload = r.json()
    assert payload["status"] == "IN_QUEUE" and payload["progress"] == 0 and payload["creditCost"] == 1
    assert elapsed >= 2  # it waited the 2 seconds asked for (and then answered, unfinished)
    job = Job.objects.get(pk=payload["id"])
    assert job.status == "IN_QUEUE"  # it simply goes on
    assert LedgerEntry.objects.filter(job=job, kind="debit").count() == 1


def test_the_wait_is_capped_by_the_setting(live_server, account, broker, settings):
    settings.SYNC_WAIT_MAX_SECONDS = 1
    r = post(live_server, account, "respond-async, wait=600")
    assert r.headers["Preference-Applied"] == "wait=1" and r.json()["status"] == "IN_QUEUE"


@pytest.mark.parametrize("prefer", ["wait=0", "wait=-3", "wait=soon", "handling=strict"])
def test_other_or_unusable_preferences_are_ignored(live_server, account, broker, prefer):
    r = post(live_server, account, prefer)
    assert r.status_code == 200 and set(r.json()) == {"id", "status", "creditCost"}
    assert "Preference-Applied" not in r.headers


def test_past_the_per_process_cap_prefer_is_ignored(live_server, account, broker, settings):
    settings.SYNC_WAIT_MAX_CONCURRENT = 1
    held = {}

    def hold_one():
        held["response"] = post(live_server, account, "wait=120")

    holder = threading.Thread(target=hold_one)
    holder.start()
    wait_until(lambda: completion.waits_in_progress() == 1, 30, "the first request to hold the wait slot")
    second = post(live_server, account, "wait=120")
    # Answered at once: while the first request still holds the only slot (it waits for its
    # job, which nothing runs), not after it.
    assert holder.is_alive() and completion.waits_in_progress() == 1
    assert set(second.json()) == {"id", "status", "creditCost"} and "Preference-Applied" not in second.headers
    first = Job.objects.exclude(pk=second.json()["id"]).get(account=account)
    Job.objects.filter(pk=first.pk).update(status="IN_PROGRESS")
    lifecycle.fail(Job.objects.get(pk=first.pk), "stopped by the test")  # wakes the first request
    holder.join(timeout=60)
    assert held["response"].headers["Preference-Applied"] == "wait=120"


def finish_later(job_id, delay: float) -> threading.Thread:
    def run():
        time.sleep(delay)
        job = Job.objects.get(pk=job_id)
        Job.objects.filter(pk=job_id).update(status="IN_PROGRESS")
        lifecycle.fail(job, "stopped by the test")
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("redis_configured", [True, False])
def test_a_waiter_wakes_when_the_job_ends(api, broker, settings, redis_configured):
    if not redis_configured:
        settings.REDIS_URL = ""  # the embedded default: backing-off polling
        settings.COUNTER_STORE = "database"
    job_id = api.post("precise-upscale", body()).json()["id"]
    finisher = finish_later(job_id, 1.0)
    with CaptureQueriesContext(connection) as queries:
        pending = completion.wait_for([job_id], timeout=120)
    finisher.join()
    # Woken by the job's end, not by the timeout (which would leave it pending): no bound on
    # the wall clock, which a loaded machine stretches.
    assert pending == set()
    assert Job.objects.get(pk=job_id).status == "FAILED"
    if redis_configured:
        # One look before sleeping, one after the signal: no polling in between.
        assert len(queries) <= 3, [q["sql"] for q in queries]


def test_a_redis_waiter_does_not_poll_the_database(api, broker):
    job_id = api.post("precise-upscale", body()).json()["id"]
    with CaptureQueriesContext(connection) as queries:
        assert completion.wait_for([job_id], timeout=3) == {job_id}
    # A look before sleeping and one at the deadline (and one when redis-py hands back the
    # subscription's confirmation early): a tight poll would be dozens.
    assert len(queries) <= 3, [q["sql"] for q in queries]


def test_waiting_for_several_jobs_returns_when_all_have_ended(api, broker):
    ids = [api.post("precise-upscale", body()).json()["id"] for _ in range(3)]
    threads = [finish_later(job_id, 0.3 * (i + 1)) for i, job_id in enumerate(ids)]
    assert completion.wait_for(ids, timeout=30) == set()
    for thread in threads:
        thread.join()
    assert set(Job.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"FAILED"}
