"""Maskr's batch over HTTP with a real worker: one job per file, grouped by a Batch, the
answer when all have ended with one result per file in upload order. A bad file fails
alone; when the credits run out part way the rest fail, uncharged."""

from __future__ import annotations

import os

import pytest
import requests

from billing.models import LedgerEntry
from jobs.models import Batch, Job
from tests import images, maskr
from tests.flows import download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def answer(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == maskr.BATCH_KEYS
    for result in body["results"]:
        assert set(result) == maskr.RESULT_KEYS
    return body


def test_a_bad_file_fails_alone_and_the_others_run(celery_worker, live_server, account, settings):
    settings.MAX_INPUT_BYTES = 2**20
    files = [
        ("first.png", images.png(24, 20)),
        ("notes.txt", b"this is not an image"),
        ("huge.png", os.urandom(2**20 + 1000)),
        ("last.jpg", images.jpeg(20, 16)),
    ]
    body = answer(maskr.batch(live_server.url, account.raw_key, files, scale_factor=2, output_format="png"))
    assert (body["status"], body["total_files"], body["completed"], body["failed"]) == ("completed", 4, 2, 2)
    assert body["error"] is None
    assert [r["input_filename"] for r in body["results"]] == [name for name, _ in files]
    assert [r["status"] for r in body["results"]] == ["completed", "failed", "failed", "completed"]

    bad, huge = body["results"][1], body["results"][2]
    assert bad["error"] == "The image is not a JPEG, PNG or WebP file (detected: unknown format)."
    assert huge["error"] == "Image exceeds the maximum file size limit (1 MB)."
    for refused in (bad, huge):
        assert refused["job_id"] is None and refused["output_url"] is None and refused["credits_used"] == 0

    for result, size in ((body["results"][0], (48, 40)), (body["results"][3], (40, 32))):
        image, _ = download_image(result["output_url"])
        assert (image.format, image.size) == ("PNG", size)
        assert (result["output_width"], result["output_height"]) == size and result["credits_used"] == 1
    times = [r["processing_time_ms"] for r in body["results"] if r["processing_time_ms"] is not None]
    assert len(times) == 2 and body["total_processing_time_ms"] == round(sum(times), 1)
    assert body["total_credits_used"] == 2

    batch = Batch.objects.get(pk=body["batch_id"])
    assert (batch.surface, batch.total_files, batch.jobs.count()) == ("maskr", 4, 2)
    assert {str(pk) for pk in batch.jobs.values_list("pk", flat=True)} == {
        body["results"][0]["job_id"],
        body["results"][3]["job_id"],
    }
    auth = maskr.headers(account.raw_key)
    listed = requests.get(f"{live_server.url}/api/v1/jobs?batch={batch.pk}", headers=auth, timeout=10).json()
    assert listed["count"] == 2 and {job["batchId"] for job in listed["results"]} == {str(batch.pk)}
    lookup = requests.get(f"{live_server.url}/v1/services/image-upscaling/batch/{batch.pk}", headers=auth, timeout=10)
    assert lookup.json() == body
    account.refresh_from_db()
    assert account.balance == 98 == account.ledger_sum()


def test_when_credits_run_out_part_way_the_rest_fail_uncharged(celery_worker, live_server):
    client = maskr.account_with(2)
    files = [(f"{i}.png", images.png(24, 20, seed=i)) for i in range(4)]
    body = answer(maskr.batch(live_server.url, client.raw_key, files, scale_factor=2))
    assert (body["status"], body["completed"], body["failed"], body["total_credits_used"]) == ("completed", 2, 2, 2)
    assert [r["status"] for r in body["results"]] == ["completed", "completed", "failed", "failed"]
    for result in body["results"][2:]:
        assert result["error"] == "Insufficient credits"
        assert result["credits_used"] == 0 and result["job_id"] is None
        assert (result["original_width"], result["output_width"]) == (24, 48)  # the image was read
    client.refresh_from_db()
    assert client.balance == 0 == client.ledger_sum()
    kinds = sorted(LedgerEntry.objects.filter(account=client).values_list("kind", "amount"))
    assert kinds == [("debit", -1), ("debit", -1), ("topup", 2)]
    assert Job.objects.filter(account=client).count() == 2
    assert set(Job.objects.filter(account=client).values_list("status", flat=True)) == {"SUCCESS"}


def test_a_storage_or_database_error_fails_that_file_alone(celery_worker, live_server, account, monkeypatch):
    """Partial failure is per file, always (jobs/batches.py): trouble of ours on one file
    (its input cannot be stored, or the database refuses its job) fails that file uncharged;
    the files before and after it run and are charged, and the client gets the batch_id."""
    from django.db import DatabaseError

    from jobs import storage, submission

    calls = {"save": 0, "cap": 0}
    real_save, real_cap = storage.save, submission.check_unfinished_cap

    def save(name, data):
        calls["save"] += 1
        if calls["save"] == 2:
            raise OSError("No space left on device")
        return real_save(name, data)

    def check_unfinished_cap(acct):
        calls["cap"] += 1
        if calls["cap"] == 2:
            raise DatabaseError("server closed the connection unexpectedly")
        return real_cap(acct)

    monkeypatch.setattr(storage, "save", save)
    monkeypatch.setattr(submission, "check_unfinished_cap", check_unfinished_cap)
    files = [(f"{i}.png", images.png(24, 20, seed=i)) for i in range(4)]
    body = answer(maskr.batch(live_server.url, account.raw_key, files, scale_factor=2, output_format="png"))

    assert [r["status"] for r in body["results"]] == ["completed", "failed", "failed", "completed"]
    assert [r["input_filename"] for r in body["results"]] == [name for name, _ in files]
    for failed in body["results"][1:3]:
        assert failed["job_id"] is None and failed["credits_used"] == 0
        assert "server error" in failed["error"] and "not charged" in failed["error"]
    batch = Batch.objects.get(pk=body["batch_id"])
    assert batch.jobs.count() == 2 and body["total_credits_used"] == 2
    assert Job.objects.filter(account=account).count() == 2
    account.refresh_from_db()
    assert account.balance == 98 == account.ledger_sum()
