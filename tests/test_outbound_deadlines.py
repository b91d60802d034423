"""Receivers that trickle their answer (issue 22, items 3 and 4): every outbound attempt a
worker makes (a job's webhook or callback, a test event) ends at WEBHOOK_TIMEOUT_SECONDS,
the delivery tasks have a Celery time limit past it, test events are sent by a worker and
throttled per account, and meanwhile another account's requests are answered and its jobs
run. Real servers on 127.0.0.1, a real worker, gunicorn as deployments run it."""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from jobs import tasks, webhooks
from jobs.models import Job, WebhookDelivery
from tests import images
from tests.conftest import OWNER_PASSWORD
from tests.flows import Client, post_sign_in, wait_until
from tests.servers import TrickleServer
from tests.test_admin_actions import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DEADLINE = "3"  # WEBHOOK_TIMEOUT_SECONDS of the processes these tests start
# Signed in over plain http, as on the embedded default.
PLAIN_HTTP_COOKIES = {"SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}
TIMED_OUT = f"timed out after {DEADLINE} s without a complete answer from the receiver"


def run_other_accounts_job(base_url: str, key: str) -> dict:
    client = Client(base_url, key)
    data = base64.b64encode(images.png(24, 20)).decode()
    r = client.submit(
        "precise-upscale", {"input": {"imageBase64": data, "upscaleFactor": 2, "inputImageType": "anime"}}
    )
    assert r.status_code == 200, r.text
    final, _ = client.wait(r.json()["id"])
    return final


@pytest.mark.parametrize("mode", ["head", "body"])
def test_a_trickling_webhook_receiver_is_cut_off_and_other_jobs_run(
    make_worker, live_server, account, other_account, mode
):
    """A receiver sending one byte a second, of its status line ("head") or of its body
    after a 200 ("body"), against the embedded default's one worker process: each attempt
    ends at the deadline, the connection is closed, and another account's job runs."""
    worker = make_worker(concurrency=1, WEBHOOK_TIMEOUT_SECONDS=DEADLINE, WEBHOOK_MAX_RETRIES="1")
    with TrickleServer(mode=mode, interval=1.0) as receiver:
        stalled = [make_job(account, webhook_url=receiver.url("/hook")) for _ in range(2)]
        for job in stalled:
            tasks.deliver_webhook.apply_async(args=[str(job.id)])
        wait_until(lambda: receiver.accepted >= 1, 60, "the worker to reach the receiver")

        final = run_other_accounts_job(live_server.url, other_account.raw_key)
        assert final["status"] == "SUCCESS", worker.log()[-3000:]

        # A failed attempt is retried once (WEBHOOK_MAX_RETRIES=1); a delivered one is not.
        expected = len(stalled) * (2 if mode == "head" else 1)

        def attempts_done():
            done = WebhookDelivery.objects.filter(job__in=stalled, completed_at__isnull=False)
            return list(done) if done.count() >= expected else None

        records = wait_until(attempts_done, 120, "every attempt to end")
        assert receiver.wait_until_idle(30), "the worker left connections open"
    for record in records:
        if mode == "head":
            assert (record.succeeded, record.status_code, record.error) == (False, None, TIMED_OUT)
        else:  # the receiver said 200 before trickling its body: delivered, the body cut short
            assert (record.succeeded, record.status_code, record.error) == (True, 200, "")
            assert set(record.response_body) <= {"x"} and len(record.response_body) < 1000


def test_a_trickling_callback_url_is_cut_off_too(make_worker, live_server, account, other_account):
    """APIXO's callback_url goes through the same delivery: the same deadline."""
    worker = make_worker(concurrency=1, WEBHOOK_TIMEOUT_SECONDS=DEADLINE, WEBHOOK_MAX_RETRIES="0")
    with TrickleServer(mode="head", interval=1.0) as receiver:
        job = make_job(account, webhook_url=receiver.url("/callback"), surface=Job.Surface.APIXO)
        tasks.deliver_webhook.apply_async(args=[str(job.id)])
        record = wait_until(
            lambda: WebhookDelivery.objects.filter(job=job, completed_at__isnull=False).first(), 120, "the attempt"
        )
        assert record.error == TIMED_OUT, worker.log()[-3000:]
        assert receiver.wait_until_idle(30)


def test_the_delivery_tasks_have_a_time_limit_past_the_deadline():
    for task in (tasks.deliver_webhook, tasks.send_test_webhook):
        assert task.soft_time_limit == settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS > settings.WEBHOOK_TIMEOUT_SECONDS
        assert task.time_limit > task.soft_time_limit


def test_an_attempt_the_time_limit_stops_is_recorded_and_retried(account, monkeypatch):
    job = make_job(account, webhook_url="https://example.com/hook")

    def held(*args):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(webhooks, "send", held)
    monkeypatch.setattr(tasks.deliver_webhook, "retry", lambda **kwargs: RuntimeError(kwargs))
    with pytest.raises(RuntimeError) as retried:
        tasks.deliver_webhook(str(job.id))
    record = WebhookDelivery.objects.get(job=job)
    assert record.completed_at is not None and not record.succeeded
    assert record.error.startswith("the delivery task ran out of time")
    assert "retry_of" in str(retried.value)


def test_a_test_event_flood_against_a_trickling_receiver_holds_no_web_thread(
    gunicorn_server, make_worker, live_server, account, owner, other_account
):
    """Item 4: test events are sent by a worker, one at a time per account and
    WEBHOOK_TESTS_PER_MINUTE a minute; the web app answers the flood at once, /healthz and
    another account's API keep answering (within 3 s), the outcome shows when it arrives,
    and another account's job still runs."""
    base = gunicorn_server(WEBHOOK_TIMEOUT_SECONDS=DEADLINE, **PLAIN_HTTP_COOKIES)
    worker = make_worker(concurrency=1, WEBHOOK_TIMEOUT_SECONDS=DEADLINE)
    session = requests.Session()
    assert post_sign_in(session, base, "owner@acme.example", OWNER_PASSWORD).status_code == 302
    token = session.cookies["csrftoken"]
    with TrickleServer(mode="head", interval=1.0) as receiver:

        def send_test(_):
            return session.post(
                f"{base}/webhooks/test",
                data={"url": receiver.url("/hook"), "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/webhooks"},
                allow_redirects=False,
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=20) as pool:
            flood = pool.map(send_test, range(60))
            for _ in range(5):  # while the flood runs
                assert requests.get(f"{base}/healthz", timeout=3).status_code == 200
                other = requests.get(
                    f"{base}/api/v1/account", headers={"Authorization": f"Bearer {other_account.raw_key}"}, timeout=3
                )
                assert other.status_code == 200, other.text
            answers = list(flood)
        codes = [r.status_code for r in answers]
        assert set(codes) <= {302, 429}, codes
        assert 1 <= codes.count(302) <= settings.WEBHOOK_TESTS_PER_MINUTE, codes
        assert all(r.headers.get("Retry-After") for r in answers if r.status_code == 429)
        assert WebhookDelivery.objects.filter(account=account).count() == codes.count(302)

        location = next(r.headers["Location"] for r in answers if r.status_code == 302)
        delivery_id = int(re.search(r"test=(\d+)", location).group(1))
        pending = session.get(base + location, timeout=10)
        assert 'id="test-pending"' in pending.text or 'id="test-result"' in pending.text

        def outcome():
            state = session.get(f"{base}/webhooks/test/{delivery_id}.json", timeout=10).json()
            return state if state["done"] else None

        assert wait_until(outcome, 120, "the test event's outcome") == {"done": True, "succeeded": False}
        page = session.get(base + location, timeout=10).text
        assert 'id="test-result"' in page and TIMED_OUT in page, worker.log()[-3000:]

        final = run_other_accounts_job(live_server.url, other_account.raw_key)
        assert final["status"] == "SUCCESS", worker.log()[-3000:]
    assert WebhookDelivery.objects.get(pk=delivery_id).error == TIMED_OUT
