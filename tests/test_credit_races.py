"""Two submits racing for the last credits never both pass (PostgreSQL row locking)."""

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


def test_it_accepts_exactly_as_many_jobs_as_the_balance_covers(live_server, broker):
    account = Account.objects.create(name="racer")
    ledger.top_up(account, 7 * 8)  # covers 7 restore jobs at 8 credits
    _, key = ApiKey.issue(account)
    body = {"input": {"imageBase64": base64.b64encode(images.png(16, 16)).decode()}}
    barrier = threading.Barrier(20)

    def submit(_):
        barrier.wait()
        return requests.post(
            f"{live_server.url}/api/v1/restore", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(submit, range(20)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [403] * 13, [r.text for r in responses if r.status_code not in (200, 403)]
    assert all("Insufficient credits" in r.json()["error"] for r in responses if r.status_code == 403)
    account.refresh_from_db()
    assert account.balance == 0 == account.ledger_sum()
    assert Job.objects.filter(account=account).count() == 7
