"""A job whose engine raises ends FAILED with its credits refunded exactly once."""

from __future__ import annotations

import base64

import pytest

from billing.models import LedgerEntry
from jobs.models import Job
from jobs.tasks import run_job
from tests import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_job(api, account):
    r = api.post("dynamic-upscale", {"input": {"imageBase64": base64.b64encode(images.png(1024, 1024)).decode()}})
    assert r.status_code == 200, r.content
    return Job.objects.get(pk=r.json()["id"])


def test_it_fails_and_refunds_when_the_engine_raises(queued_job, account, monkeypatch):
    import inference.api

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA exploded at 0xdeadbeef")

    monkeypatch.setattr(inference.api, "upscale", broken)
    account.refresh_from_db()
    assert account.balance == 96

    run_job(str(queued_job.pk))

    queued_job.refresh_from_db()
    assert queued_job.status == "FAILED" and queued_job.finished_at
    assert queued_job.error == "The upscaling engine failed with an internal error. Your credits have been refunded."
    assert "deadbeef" not in queued_job.error  # internals are logged, not shown
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()
    rows = LedgerEntry.objects.filter(job=queued_job).order_by("id")
    assert [(r.kind, r.amount) for r in rows] == [("debit", -4), ("refund", 4)]

    run_job(str(queued_job.pk))  # delivered again: nothing more happens
    from billing import ledger

    assert ledger.refund_job(queued_job) is False
    assert LedgerEntry.objects.filter(job=queued_job).count() == 2


def test_it_passes_typed_engine_errors_to_the_client(queued_job, monkeypatch):
    import inference.api
    from inference.errors import ModelNotInstalledError

    def missing(*args, **kwargs):
        raise ModelNotInstalledError("RealESRGAN_x4plus", "RealESRGAN_x4plus.safetensors", "/models")

    monkeypatch.setattr(inference.api, "upscale", missing)
    run_job(str(queued_job.pk))
    queued_job.refresh_from_db()
    assert queued_job.status == "FAILED"
    assert "The model file RealESRGAN_x4plus.safetensors is missing from /models" in queued_job.error
    assert queued_job.error.endswith("Your credits have been refunded.")


def test_it_does_not_run_a_canceled_job(queued_job, api, monkeypatch):
    import inference.api

    calls = []
    monkeypatch.setattr(inference.api, "upscale", lambda *a, **k: calls.append(1))
    assert api.post(f"cancel/{queued_job.pk}").status_code == 200
    run_job(str(queued_job.pk))
    queued_job.refresh_from_db()
    assert queued_job.status == "CANCELED" and calls == []


def test_a_task_delivered_twice_produces_one_result_and_one_charge(api, account):
    from jobs import storage

    r = api.post("dynamic-upscale", {"input": {"imageBase64": base64.b64encode(images.png(24, 20)).decode()}})
    queued_job = Job.objects.get(pk=r.json()["id"])
    run_job(str(queued_job.pk))
    queued_job.refresh_from_db()
    first = (queued_job.status, queued_job.image_name, queued_job.finished_at, queued_job.attempts)
    assert first[0] == "SUCCESS" and storage.read(queued_job.image_name)[:8] == b"\x89PNG\r\n\x1a\n"

    run_job(str(queued_job.pk))  # the broker delivers the message again
    queued_job.refresh_from_db()
    assert (queued_job.status, queued_job.image_name, queued_job.finished_at, queued_job.attempts) == first
    assert [e.kind for e in LedgerEntry.objects.filter(job=queued_job)] == ["debit"]
    account.refresh_from_db()
    assert account.balance == 100 - queued_job.credit_cost == account.ledger_sum()


def test_the_time_limit_is_recorded_as_a_timeout_even_when_a_handler_wrapped_it(queued_job, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    import inference.api
    from inference.loader import ModelFileError

    def loading(*args, **kwargs):
        try:
            raise SoftTimeLimitExceeded()  # as Celery raises it when the soft limit passes
        except Exception as exc:  # the model loader's broad handler
            raise ModelFileError("RealESRGAN_x4plus.safetensors cannot be read (SoftTimeLimitExceeded)") from exc

    monkeypatch.setattr(inference.api, "upscale", loading)
    run_job(str(queued_job.pk))
    queued_job.refresh_from_db()
    assert (queued_job.status, queued_job.failure) == ("FAILED", "timeout")
    assert queued_job.error.startswith("The job took longer than ")


def test_an_image_the_worker_cannot_decode_is_recorded_as_an_image_failure(queued_job, monkeypatch):
    import inference.api
    from inference.errors import CorruptImageError

    def truncated(*args, **kwargs):
        raise CorruptImageError("The image file is truncated or corrupt: image file is truncated.")

    monkeypatch.setattr(inference.api, "upscale", truncated)
    run_job(str(queued_job.pk))
    queued_job.refresh_from_db()
    assert (queued_job.status, queued_job.failure) == ("FAILED", "image")
    assert (
        queued_job.error
        == "The image file is truncated or corrupt: image file is truncated. Your credits have been refunded."
    )
