"""Maskr's single upload over HTTP with a real worker: the answer comes when the job is
done, in Maskr's shape, with an expiring URL to a file of the asked format and exact size;
the job is an ordinary precise job of the `maskr` surface, charged from the one ledger."""

from __future__ import annotations

import pytest
import requests

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images, maskr
from tests.flows import download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


def completed(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"job_id", "status", "result", "error"}
    result = body["result"]
    assert set(result) == maskr.RESULT_KEYS
    assert body["status"] == result["status"] == "completed", body
    assert body["error"] is None and result["error"] is None
    assert result["job_id"] == body["job_id"]
    return result


def test_each_format_and_scale_is_that_format_at_the_exact_size(celery_worker, live_server, account):
    for scale in (2, 4):
        for output_format, pil_format in FORMATS.items():
            r = maskr.upload(
                live_server.url, account.raw_key, images.png(24, 20), scale_factor=scale, output_format=output_format
            )
            result = completed(r)
            assert result["input_filename"] == "photo.png"
            assert (result["original_width"], result["original_height"]) == (24, 20)
            assert (result["output_width"], result["output_height"]) == (24 * scale, 20 * scale)
            assert result["credits_used"] == 1
            assert isinstance(result["processing_time_ms"], float) and result["processing_time_ms"] > 0
            image, _ = download_image(result["output_url"])
            assert (image.format, image.size) == (pil_format, (24 * scale, 20 * scale)), (scale, output_format)
            assert "expires=" in result["output_url"] and "signature=" in result["output_url"]

            job = Job.objects.get(pk=result["job_id"])
            assert (job.surface, job.mode, job.status) == ("maskr", "precise", "SUCCESS")
            assert job.params == {"upscaleFactor": scale, "inputImageType": "universal", "inputFilename": "photo.png"}
            assert job.output_format == {"jpeg": "jpg"}.get(output_format, output_format)
    account.refresh_from_db()
    assert account.balance == 100 - 6 == account.ledger_sum()
    assert LedgerEntry.objects.filter(kind="debit").count() == 6
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_the_defaults_are_4x_jpeg_at_quality_85(celery_worker, live_server, account):
    result = completed(maskr.upload(live_server.url, account.raw_key, images.png(24, 20), name="cat.png"))
    image, _ = download_image(result["output_url"])
    assert (image.format, image.size) == ("JPEG", (96, 80))
    job = Job.objects.get(pk=result["job_id"])
    assert (job.output_format, job.output_quality, job.params["upscaleFactor"]) == ("jpg", 85, 4)
    assert result["input_filename"] == "cat.png"


def test_quality_reaches_the_file(celery_worker, live_server, account):
    sizes = {}
    for quality in (10, 95):
        r = maskr.upload(
            live_server.url, account.raw_key, images.png(24, 20), scale_factor=2, output_format="webp", quality=quality
        )
        _, raw = download_image(completed(r)["output_url"])
        sizes[quality] = len(raw)
        assert Job.objects.get(pk=r.json()["job_id"]).output_quality == quality
    assert sizes[10] < sizes[95] * 0.6, sizes


def test_the_job_is_visible_like_any_other(celery_worker, live_server, account):
    result = completed(maskr.upload(live_server.url, account.raw_key, images.jpeg(24, 20), scale_factor=2))
    auth = maskr.headers(account.raw_key)
    status = requests.get(f"{live_server.url}/api/v1/status/{result['job_id']}", headers=auth, timeout=10).json()
    assert (status["status"], status["surface"], status["mode"], status["creditCost"]) == (
        "SUCCESS",
        "maskr",
        "precise",
        1,
    )
    assert "batchId" not in status
    listed = requests.get(f"{live_server.url}/api/v1/jobs", headers=auth, timeout=10).json()
    assert [job["id"] for job in listed["results"]] == [result["job_id"]]
    # The lookup answers what the upload answered.
    again = requests.get(f"{live_server.url}/v1/services/image-upscaling/jobs/{result['job_id']}", headers=auth)
    assert again.status_code == 200 and again.json()["result"] == result
