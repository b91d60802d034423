"""Racing submits: never more accepted than the credits or the unfinished-jobs cap allow
(PostgreSQL row locking)."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from billing import ledger
from billing.models import Account, ApiKey
from jobs.models import Job
from tests import images

pytestmark = [pytest.mark.django_db(transaction=True)]


def race(url: str, key: str, n: int = 20) -> list[requests.Response]:
    body = {"input": {"imageBase64": base64.b64encode(images.png(16, 16)).decode()}}
    barrier = threading.Barrier(n)

    def submit(_):
        barrier.wait()
        return requests.post(f"{url}/api/v1/restore", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(submit, range(n)))


def test_it_accepts_exactly_as_many_jobs_as_the_balance_covers(live_server, broker):
    account = Account.objects.create(name="racer")
    ledger.top_up(account, 7 * 8)  # covers 7 restore jobs at 8 credits
    _, key = ApiKey.issue(account)
    responses = race(live_server.url, key)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [403] * 13, [r.text for r in responses if r.status_code not in (200, 403)]
    assert all("Insufficient credits" in r.json()["error"] for r in responses if r.status_code == 403)
    account.refresh_from_db()
    assert account.balance == 0 == account.ledger_sum()
    assert Job.objects.filter(account=account).count() == 7


def test_it_accepts_exactly_as_many_jobs_as_the_unfinished_cap_allows(live_server, broker, settings):
    settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT = 5
    account = Account.objects.create(name="burst")
    ledger.top_up(account, 1000)
    _, key = ApiKey.issue(account)
    responses = race(live_server.url, key)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [429] * 15, [r.text for r in responses if r.status_code not in (200, 429)]
    assert all(
        "unfinished jobs" in r.json()["error"] and r.headers["Retry-After"]
        for r in responses[5:]
        if r.status_code == 429
    )
    assert Job.objects.filter(account=account).count() == 5
    account.refresh_from_db()
    assert account.balance == 1000 - 5 * 8 == account.ledger_sum()
