"""A slow image server cannot stall the API. Real gunicorn, with the deployments' config
(upscaler_platform/gunicorn_conf.py), on the test database and Redis; an image server that
sends a byte every 2 seconds; 12 submits pointing at it held at once from three accounts,
while a fourth account and the health probe keep getting answers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from billing.models import LedgerEntry
from jobs.models import Job
from tests.servers import TrickleServer

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

DEADLINE = 3  # IMAGE_FETCH_DEADLINE_SECONDS for this run
PER_ACCOUNT = 2  # IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT
SUBMITTERS, SUBMITS_EACH = 3, 4
QUICK = 1.0  # "answers in under a second"


def make_account(name: str):
    from billing import ledger
    from billing.models import Account, ApiKey

    account = Account.objects.create(name=name)
    ledger.top_up(account, 100)
    _, account.raw_key = ApiKey.issue(account)
    return account


@pytest.fixture
def web(gunicorn_server):
    """gunicorn on a free port: two worker processes with the config's threads."""
    return gunicorn_server(
        IMAGE_FETCH_DEADLINE_SECONDS=str(DEADLINE),
        IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT=str(PER_ACCOUNT),
        WEB_CONCURRENCY="2",
        # The probes poll as fast as they can; this test is about threads, not the limiter.
        RATE_LIMIT_STATUS_PER_MINUTE="1000000",
    )


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, **kwargs)
    return response, time.monotonic() - started


def test_slow_image_servers_do_not_stall_the_api(web):
    submitters = [make_account(f"submitter{i}") for i in range(SUBMITTERS)]
    observer = make_account("observer")
    observer_headers = {"Authorization": f"Bearer {observer.raw_key}"}
    assert requests.get(f"{web}/api/v1/account", headers=observer_headers, timeout=10).status_code == 200

    with TrickleServer("body", interval=2.0) as image_server:
        results: list[tuple[int, requests.Response, float]] = []
        lock = threading.Lock()
        start = threading.Barrier(SUBMITTERS * SUBMITS_EACH)

        def submit(i: int, account) -> None:
            start.wait(timeout=30)
            response, elapsed = timed(
                "POST",
                f"{web}/api/v1/precise-upscale",
                json={"input": {"imageUrl": image_server.url(f"/{i}.png")}},
                headers={"Authorization": f"Bearer {account.raw_key}"},
                timeout=DEADLINE + 30,
            )
            with lock:
                results.append((account.pk, response, elapsed))

        threads = [
            threading.Thread(target=submit, args=(i, account)) for account in submitters for i in range(SUBMITS_EACH)
        ]
        for thread in threads:
            thread.start()

        # While the admitted downloads are held, the API answers everyone else, repeatedly.
        probes: list[tuple[str, int, float]] = []
        held_seen = 0
        give_up = time.monotonic() + DEADLINE + 30
        while any(thread.is_alive() for thread in threads):
            assert time.monotonic() < give_up, "the submits did not end"
            held_seen = max(held_seen, image_server.open)
            for path, headers in (("/healthz", {}), ("/api/v1/account", observer_headers)):
                response, elapsed = timed("GET", web + path, headers=headers, timeout=10)
                probes.append((path, response.status_code, elapsed))
        for thread in threads:
            thread.join()
        assert image_server.wait_until_idle(10), "a download's connection was left open"

    admitted = [(pk, r, t) for pk, r, t in results if r.status_code == 400]
    refused = [(pk, r, t) for pk, r, t in results if r.status_code == 429]
    report = {
        "probes": len(probes),
        "slowest probe": max(t for _, _, t in probes),
        "held downloads seen at once": held_seen,
        "400s (s)": sorted(round(t, 2) for _, _, t in admitted),
        "429s (s)": sorted(round(t, 2) for _, _, t in refused),
    }
    print(report)

    # Every admitted download ends by the deadline with a 400 saying why...
    assert len(admitted) == SUBMITTERS * PER_ACCOUNT, [(r.status_code, r.text) for _, r, _ in results]
    for _, response, elapsed in admitted:
        assert "the download took too long" in response.json()["error"], response.text
        assert elapsed < DEADLINE + 2.0, report
    # ...the ones over each account's cap are refused at once, with Retry-After...
    assert len(refused) == SUBMITTERS * (SUBMITS_EACH - PER_ACCOUNT)
    for _, response, elapsed in refused:
        assert "image downloads in progress" in response.json()["error"] and int(response.headers["Retry-After"]) >= 1
        assert elapsed < QUICK, report
    assert {pk for pk, _, _ in admitted} == {a.pk for a in submitters}
    assert image_server.accepted == len(admitted)
    assert held_seen == len(admitted), "the admitted downloads were not all held at once"
    # ...and meanwhile every probe answered, each in under a second.
    assert len(probes) >= 4 and all(code == 200 for _, code, _ in probes), probes
    assert all(elapsed < QUICK for _, _, elapsed in probes), report
    # Nothing was charged.
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
    for account in submitters:
        account.refresh_from_db()
        assert account.balance == 100
