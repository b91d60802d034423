"""Output URLs stop working when their TTL is up: signed app URLs locally, presigned on S3."""

from __future__ import annotations

import base64
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from jobs import lifecycle, storage
from jobs.models import Job
from tests import images
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def running_job(api) -> Job:
    r = api.post("precise-upscale", {"input": {"imageBase64": base64.b64encode(images.png()).decode()}})
    assert r.status_code == 200, r.content
    Job.objects.filter(pk=r.json()["id"]).update(status="IN_PROGRESS")
    return Job.objects.get(pk=r.json()["id"])


def later(monkeypatch, seconds: float) -> None:
    """The maintenance tasks' clock, `seconds` ahead: a lifetime runs out without waiting
    for the wall clock (on a loaded machine a short real lifetime can end before the test
    even reads the URL)."""
    from jobs import tasks

    real_now = timezone.now
    monkeypatch.setattr(tasks.timezone, "now", lambda: real_now() + timedelta(seconds=seconds))


def finish(job: Job) -> Job:
    png = storage.save(f"outputs/{job.pk}.png", images.png())
    jpg = storage.save(f"outputs/{job.pk}.jpg", images.jpeg())
    assert lifecycle.succeed(job, image_name=png, compressed_name=jpg, engine="test")
    job.refresh_from_db()
    return job


def test_local_urls_are_signed_and_expire(api, live_server, settings):
    settings.OUTPUT_TTL_SECONDS = 3600
    job = finish(running_job(api))
    url = live_server.url + job.image_url
    assert requests.get(url, timeout=10).content == images.png()
    assert job.expires_at == job.finished_at + timedelta(seconds=3600)
    tampered = url.replace("signature=", "signature=0")
    assert requests.get(tampered, timeout=10).status_code == 404
    # The same file's URL, signed for a moment already past (no waiting for a clock to run
    # out): refused as expired, not as a bad signature.
    name = urlsplit(job.image_url).path.removeprefix("/files/")
    expired = live_server.url + storage.expiring_url(name, timezone.now() - timedelta(seconds=1))
    gone = requests.get(expired, timeout=10)
    assert gone.status_code == 410 and "expired" in gone.text


@pytest.fixture
def s3_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket="outputs")
    yield endpoint, creds
    server.stop()


def s3_storages(endpoint, creds):
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "outputs",
                "endpoint_url": endpoint,
                "access_key": creds["aws_access_key_id"],
                "secret_key": creds["aws_secret_access_key"],
                "region_name": "us-east-1",
                "querystring_auth": True,
                "signature_version": "s3v4",
                "addressing_style": "path",
                "file_overwrite": True,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def test_s3_urls_are_presigned_and_stop_working_after_the_ttl(api, s3_server, settings, monkeypatch):
    """Moto's server does not enforce X-Amz-Expires (real S3 and MinIO do), so this checks
    that the presigned expiry is the job's expiresAt, and that the purge after the TTL
    removes the objects so the URLs stop working even there."""
    from datetime import datetime
    from urllib.parse import parse_qs, urlsplit

    from jobs.tasks import purge_expired_outputs

    endpoint, creds = s3_server
    settings.OUTPUT_TTL_SECONDS = 60
    with override_settings(STORAGE_BACKEND="s3", STORAGES=s3_storages(endpoint, creds)):
        job = finish(running_job(api))
        for url in (job.image_url, job.compressed_image_url):
            assert url.startswith(f"{endpoint}/outputs/outputs/{job.pk}.")
            query = parse_qs(urlsplit(url).query)
            assert query["X-Amz-Signature"][0] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
            signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            valid_until = signed_at.timestamp() + int(query["X-Amz-Expires"][0])
            assert abs(valid_until - job.expires_at.timestamp()) <= 2
        ok = requests.get(job.image_url, timeout=10)
        assert ok.status_code == 200 and ok.content == images.png()
        assert requests.get(job.compressed_image_url, timeout=10).content == images.jpeg()

        later(monkeypatch, 61)
        assert purge_expired_outputs() == 1
        assert requests.get(job.image_url, timeout=10).status_code == 404
        assert requests.get(job.compressed_image_url, timeout=10).status_code == 404
        listed = boto3.client("s3", endpoint_url=endpoint, **creds).list_objects_v2(Bucket="outputs")
        assert not [o["Key"] for o in listed.get("Contents", []) if str(job.pk) in o["Key"] and "outputs/" in o["Key"]]


def test_the_purge_deletes_expired_files(api, settings, monkeypatch):
    from django.core.files.storage import default_storage

    from jobs.tasks import purge_expired_outputs

    settings.OUTPUT_TTL_SECONDS = 0
    job = finish(running_job(api))
    later(monkeypatch, 0.1)
    assert default_storage.exists(job.image_name)
    assert purge_expired_outputs() == 1
    job.refresh_from_db()
    assert job.files_deleted_at is not None
    for name in (job.image_name, job.compressed_image_name, job.input_name):
        assert not default_storage.exists(name)
    assert purge_expired_outputs() == 0


def test_each_job_keeps_its_own_lifetime(api, settings, monkeypatch):
    """A surface can promise its own lifetime (Ximilar: 24 hours): the URL's expiry and the
    purge follow the job's output_ttl_seconds, not the global default."""
    from django.core.files.storage import default_storage

    from jobs.tasks import purge_expired_outputs

    settings.OUTPUT_TTL_SECONDS = 3600
    default_job = running_job(api)
    short_job = running_job(api)
    day_job = running_job(api)
    Job.objects.filter(pk=short_job.pk).update(output_ttl_seconds=1)
    Job.objects.filter(pk=day_job.pk).update(output_ttl_seconds=24 * 3600)
    default_job, short_job, day_job = (finish(Job.objects.get(pk=j.pk)) for j in (default_job, short_job, day_job))
    for job, ttl in ((default_job, 3600), (short_job, 1), (day_job, 24 * 3600)):
        assert abs((job.expires_at - job.finished_at).total_seconds() - ttl) < 1
        assert str(int(job.expires_at.timestamp())) in job.image_url  # the signed URL's expiry
    later(monkeypatch, 1.5)
    assert purge_expired_outputs() == 1
    assert not default_storage.exists(short_job.image_name)
    assert default_storage.exists(default_job.image_name) and default_storage.exists(day_job.image_name)


def test_a_failed_jobs_input_is_deleted_when_its_lifetime_ends(api, monkeypatch):
    from django.core.files.storage import default_storage

    from jobs.tasks import purge_expired_outputs

    job = running_job(api)
    Job.objects.filter(pk=job.pk).update(output_ttl_seconds=1)
    job.refresh_from_db()
    assert lifecycle.fail(job, "broken")
    later(monkeypatch, 1.5)
    assert purge_expired_outputs() == 1
    assert not default_storage.exists(job.input_name)
