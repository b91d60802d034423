"""Batches in the admin: a Batch page listing its jobs and the files refused before they
became jobs, and the jobs list's batch column and filter."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.models import Batch, Job
from tests import images

pytestmark = pytest.mark.django_db(transaction=True)  # the answer's wait gives its connection back


@pytest.fixture
def batch(client, account, settings) -> Batch:
    settings.SYNC_WAIT_MAX_SECONDS = 0  # no worker here: answer at once, jobs still queued
    files = [
        SimpleUploadedFile("one.png", images.png()),
        SimpleUploadedFile("broken.png", b"broken"),
        SimpleUploadedFile("two.png", images.png(seed=2)),
    ]
    r = client.post(
        "/v1/services/image-upscaling/batch?scale_factor=2",
        {"files": files},
        HTTP_AUTHORIZATION=f"Bearer {account.raw_key}",
    )
    assert r.status_code == 200, r.content
    return Batch.objects.get(pk=r.json()["batch_id"])


def test_the_batch_list_counts_its_jobs(admin_client, batch):
    page = admin_client.get(reverse("admin:jobs_batch_changelist")).content.decode()
    assert str(batch.pk)[:8] in page and "0 / 2 / 2" in page


def test_the_batch_page_lists_its_jobs_and_refused_files(admin_client, batch):
    page = admin_client.get(reverse("admin:jobs_batch_change", args=[batch.pk])).content.decode()
    for job in batch.jobs.all():
        assert reverse("admin:jobs_job_change", args=[job.pk]) in page
    assert "broken.png: The image is not a JPEG, PNG or WebP file" in page
    assert f"{reverse('admin:jobs_job_changelist')}?batch={batch.pk}" in page


def test_the_job_list_filters_by_batch_and_links_to_it(admin_client, batch, api):
    loose = api.post_form("precise-upscale", {"image": SimpleUploadedFile("x.png", images.png())}).json()["id"]
    url = reverse("admin:jobs_job_changelist")
    in_batch = admin_client.get(url, {"batch": str(batch.pk)}).content.decode()
    batch_job_ids = [str(pk) for pk in batch.jobs.values_list("pk", flat=True)]
    assert all(pk[:8] in in_batch for pk in batch_job_ids) and loose[:8] not in in_batch
    assert reverse("admin:jobs_batch_change", args=[batch.pk]) in in_batch
    outside = admin_client.get(url, {"batch": "none"}).content.decode()
    assert loose[:8] in outside and not any(pk[:8] in outside for pk in batch_job_ids)
    assert Job.objects.count() == 3
