"""Maskr's answer shapes for the states the HTTP tests reach only by chance: a job that
failed on the worker (refunded, so it cost nothing), a canceled one, and a batch's status
as its files end."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs import lifecycle
from jobs.api.maskr import payloads
from jobs.api.maskr.params import Options, submission
from jobs.models import Job
from jobs.submission import submit
from tests import images

pytestmark = pytest.mark.django_db


def maskr_job(account) -> Job:
    upload = SimpleUploadedFile("shot.png", images.png())
    return submit(account, submission(Options(2, "png", 85), upload.name, "http://testserver"), upload.read())


def test_a_job_that_failed_on_the_worker_is_failed_and_free(account):
    job = maskr_job(account)
    Job.objects.filter(pk=job.pk).update(status="IN_PROGRESS")
    lifecycle.fail(job, "The upscaling engine failed with an internal error")
    job.refresh_from_db()
    answer = payloads.single(job, "http://testserver")
    assert answer["status"] == answer["result"]["status"] == "failed"
    assert (
        answer["error"]
        == answer["result"]["error"]
        == ("The upscaling engine failed with an internal error. Your credits have been refunded.")
    )
    assert answer["result"]["output_url"] is None and answer["result"]["credits_used"] == 0
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()


def test_a_canceled_job_is_failed(account):
    job = maskr_job(account)
    assert lifecycle.cancel(job)
    job.refresh_from_db()
    result = payloads.result(job, "")
    assert (result["status"], result["credits_used"]) == ("failed", 0)
    assert result["error"] == "The job was canceled. Your credits have been refunded."


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pending", "pending"], "pending"),
        (["pending", "failed"], "processing"),
        (["completed", "processing"], "processing"),
        (["completed", "failed"], "completed"),
        (["failed", "failed"], "failed"),
    ],
)
def test_a_batch_is_pending_then_processing_then_completed_or_failed(statuses, expected):
    assert payloads.batch_status([{"status": s} for s in statuses]) == expected
