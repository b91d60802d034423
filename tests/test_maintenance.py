"""The periodic tasks beat runs (the job sweep, the purge of expired files, the webhook
dispatcher) are safe to run twice at once, as they are when two beats run: each effect
happens once, whether the short lock keeps the second run out or not."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections
from django.utils import timezone

from billing.models import LedgerEntry
from jobs import locks, storage, tasks, webhooks
from jobs.models import Job, WebhookDelivery
from tests.test_admin_actions import make_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["locked", "lock-lost"])
def lock(request, monkeypatch):
    """Both ways a second run happens: the lock keeps it out, or it gets in anyway (the
    cache is down, or the first run outlived its lock) and the conditional updates hold."""
    if request.param == "lock-lost":

        @contextmanager
        def always(name, seconds):
            yield True

        monkeypatch.setattr(locks, "held", always)
    return request.param


def twice_at_once(task) -> list:
    start = threading.Barrier(2)
    results: list = []

    def run():
        start.wait()
        try:
            results.append(task())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    return results


def slowly(calls: list, real=None):
    """A stand-in for an effect that takes a while (a broker, a storage), recording its calls:
    the other run has every chance to overlap."""

    def effect(*args, **kwargs):
        calls.append(args if args else kwargs)
        time.sleep(0.2)
        if real is not None:
            return real(*args, **kwargs)

    return effect


def total(results: list, key: str) -> int:
    return sum(r.get(key, 0) for r in results)


def test_two_sweeps_at_once_requeue_recover_and_fail_each_job_once(account, monkeypatch, lock):
    sent: list = []
    monkeypatch.setattr(tasks.run_job, "apply_async", slowly(sent))
    long_ago = timedelta(minutes=10)
    queued = [make_job(account, Job.Status.IN_QUEUE, created_ago=long_ago) for _ in range(3)]
    orphaned = make_job(account, Job.Status.IN_PROGRESS, created_ago=long_ago)
    spent = make_job(account, Job.Status.IN_PROGRESS, created_ago=long_ago)
    Job.objects.filter(pk=spent.pk).update(attempts=settings.JOB_MAX_ATTEMPTS)

    results = twice_at_once(tasks.sweep_jobs)
    assert sorted(str(args["args"][0]) for args in sent) == sorted(str(j.pk) for j in [*queued, orphaned])
    assert (total(results, "requeued"), total(results, "retried"), total(results, "failed")) == (3, 1, 1)
    if lock == "locked":
        assert {"skipped": True} in results
    assert Job.objects.get(pk=orphaned.pk).status == Job.Status.IN_QUEUE
    spent.refresh_from_db()
    assert spent.status == Job.Status.FAILED
    assert LedgerEntry.objects.filter(job=spent, kind="refund").count() == 1
    account.refresh_from_db()
    assert account.balance == account.ledger_sum()

    # The next sweep, soon after, re-sends none of them again (nor the job it put back).
    assert tasks.sweep_jobs() == {"requeued": 0, "retried": 0, "failed": 0}
    assert len(sent) == 4


def test_a_job_still_queued_is_sent_again_once_per_interval(account, monkeypatch, settings):
    sent: list = []
    monkeypatch.setattr(tasks.run_job, "apply_async", slowly(sent))
    job = make_job(account, Job.Status.IN_QUEUE, created_ago=timedelta(minutes=10))
    assert tasks.sweep_jobs()["requeued"] == 1
    assert tasks.sweep_jobs()["requeued"] == 0
    Job.objects.filter(pk=job.pk).update(
        requeued_at=timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS + 1)
    )
    assert tasks.sweep_jobs()["requeued"] == 1
    assert len(sent) == 2


def test_two_purges_at_once_delete_each_file_once(account, monkeypatch, lock):
    deleted: list = []
    monkeypatch.setattr(storage, "delete", slowly(deleted, real=storage.delete))
    done = [make_job(account, Job.Status.SUCCESS, with_files=True) for _ in range(2)]
    Job.objects.filter(pk__in=[j.pk for j in done]).update(expires_at=timezone.now() - timedelta(minutes=1))
    failed = make_job(account, Job.Status.FAILED, with_files=True, created_ago=timedelta(hours=4))

    results = twice_at_once(tasks.purge_expired_outputs)
    assert sum(results) == 3
    names = [name for call in deleted for name in call]
    expected = [n for j in done for n in (j.image_name, j.compressed_image_name, j.input_name)] + [failed.input_name]
    assert sorted(names) == sorted(expected)  # each once
    assert not any(default_storage.exists(name) for name in expected)
    assert Job.objects.filter(files_deleted_at__isnull=True).count() == 0


def test_two_dispatchers_at_once_send_each_retry_once(account, monkeypatch, lock):
    sent: list = []
    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", slowly(sent))
    now = timezone.now()
    due = []
    for _ in range(3):
        job = make_job(account, Job.Status.SUCCESS, webhook_url="https://example.com/hook")
        due.append(
            WebhookDelivery.objects.create(
                job=job, attempt=1, url=job.webhook_url, status_code=500, completed_at=now, dispatch_at=now
            )
        )
    job = make_job(account, Job.Status.SUCCESS, webhook_url="https://example.com/hook")
    stalled = webhooks.claim_attempt(job, 1)  # its worker died while sending it
    WebhookDelivery.objects.filter(pk=stalled.pk).update(created_at=now - timedelta(hours=1))

    results = twice_at_once(tasks.dispatch_webhooks)
    assert sorted(call["kwargs"]["retry_of"] for call in sent) == sorted(d.pk for d in due)
    assert (total(results, "sent"), total(results, "stalled")) == (3, 1)
    stalled.refresh_from_db()
    assert stalled.completed_at and "worker stopped" in stalled.error and stalled.dispatch_at > now
