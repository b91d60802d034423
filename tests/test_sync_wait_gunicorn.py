"""Synchronous waits on the real web server: gunicorn with the deployments' config and a
real Celery worker. While many submits wait on their jobs (`Prefer: wait=N`), status polls
and the health probe keep answering in under a second, and every wait ends with its job's
final payload."""

from __future__ import annotations

import base64
import threading
import time

import pytest
import requests

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

WAITS = 12
QUICK = 1.0


def test_polls_answer_while_waits_are_held(gunicorn_server, make_worker, account):
    # Polls are not rate limited here: the test polls as fast as it can.
    web = gunicorn_server(
        WEB_CONCURRENCY="2", SYNC_WAIT_MAX_CONCURRENT=str(WAITS), RATE_LIMIT_STATUS_PER_MINUTE="1000000"
    )
    make_worker()
    headers = {"Authorization": f"Bearer {account.raw_key}"}
    body = {"input": {"imageBase64": base64.b64encode(images.png(24, 20)).decode(), "upscaleFactor": 2}}
    polled = requests.post(f"{web}/api/v1/precise-upscale", json=body, headers=headers, timeout=30).json()["id"]

    answers: list[tuple[requests.Response, float]] = []
    lock = threading.Lock()

    def wait_on_a_job():
        started = time.monotonic()
        r = requests.post(
            f"{web}/api/v1/precise-upscale", json=body, headers={**headers, "Prefer": "wait=240"}, timeout=300
        )
        with lock:
            answers.append((r, time.monotonic() - started))

    waiters = [threading.Thread(target=wait_on_a_job) for _ in range(WAITS)]
    for waiter in waiters:
        waiter.start()

    probes: list[tuple[int, float]] = []
    while any(waiter.is_alive() for waiter in waiters):
        for path in (f"/api/v1/status/{polled}", "/healthz"):
            started = time.monotonic()
            r = requests.get(web + path, headers=headers, timeout=10)
            probes.append((r.status_code, time.monotonic() - started))
        time.sleep(0.1)
    for waiter in waiters:
        waiter.join()

    slowest = max(t for _, t in probes)
    assert len(probes) >= 10 and all(code == 200 for code, _ in probes), probes[:10]
    assert slowest < QUICK, f"slowest poll {slowest:.2f}s over {len(probes)} polls"
    assert len(answers) == WAITS
    for r, _ in answers:
        assert r.status_code == 200 and r.headers["Preference-Applied"] == "wait=240", r.text
        assert r.json()["status"] == "SUCCESS" and r.json()["imageUrl"], r.text
    assert Job.objects.filter(status="SUCCESS").count() >= WAITS
    account.refresh_from_db()
    assert account.balance == account.ledger_sum() == 100 - LedgerEntry.objects.filter(kind="debit").count()
