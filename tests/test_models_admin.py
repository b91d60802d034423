"""The operators' admin for models: the recorded models and their status (read-only, the
description editable), "Rescan now" queued on the inference queue, and each job's model."""

from __future__ import annotations

import base64
import json
import os

import pytest
import redis
from django.contrib.auth import get_user_model
from django.urls import reverse

from jobs import model_catalog
from jobs.models import Job, NetworkModel
from tests import images, model_zoo
from tests.conftest import redis_url

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def zoo_scan(tmp_path_factory):
    return model_zoo.scan(model_zoo.build(tmp_path_factory.mktemp("zoo"), ["2x_SPAN_tiny", "1x_Compact_tiny"]))


@pytest.fixture
def recorded(zoo_scan):
    model_catalog.record_scan(zoo_scan, "gpu-7")


@pytest.fixture
def staff(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123"))
    return client


def test_it_lists_the_models_and_their_status(staff, recorded):
    page = staff.get(reverse("admin:jobs_networkmodel_changelist")).content.decode()
    expected = ("2x_SPAN_tiny", "SPAN", "2x", "1x_Compact_tiny", "Compact", "gpu-7", model_zoo.BROKEN, "cannot be read")
    for text in expected:
        assert text in page, text
    spans = NetworkModel.objects.get(pk="2x_SPAN_tiny").parameters
    assert f"{spans:,}" in page
    assert 'id="models-rescan"' in page
    # Rows come from scans only.
    assert staff.get(reverse("admin:jobs_networkmodel_add")).status_code == 403
    assert staff.get(reverse("admin:jobs_networkmodel_delete", args=["2x_SPAN_tiny"])).status_code == 403


def test_only_the_description_is_edited(staff, recorded):
    url = reverse("admin:jobs_networkmodel_change", args=["2x_SPAN_tiny"])
    page = staff.get(url).content.decode()
    assert 'name="description"' in page and 'name="architecture"' not in page
    assert "jobs that ran 2x_SPAN_tiny" in page
    r = staff.post(url, {"description": "Fast 2x for photos", "architecture": "Other", "available": ""})
    assert r.status_code == 302
    row = NetworkModel.objects.get(pk="2x_SPAN_tiny")
    assert (row.description, row.architecture, row.available) == ("Fast 2x for photos", "SPAN", True)


def test_rescan_now_queues_a_scan_on_the_inference_queue(staff, recorded):
    client = redis.Redis.from_url(redis_url())
    queue = f"{os.environ['REDIS_KEY_PREFIX']}inference"

    def scans() -> list[bytes]:
        return [m for m in client.lrange(queue, 0, -1) if json.loads(m)["headers"]["task"].endswith("scan_models")]

    before = len(scans())
    r = staff.post(reverse("admin:jobs_networkmodel_rescan"), follow=True)
    assert r.status_code == 200
    assert "Queued a rescan of the model directory" in r.content.decode()
    queued = scans()
    try:
        assert len(queued) == before + 1
        assert json.loads(queued[-1])["headers"]["task"] == "jobs.model_scan.scan_models"
    finally:
        for message in queued:  # no later test's worker should run it
            client.lrem(queue, 0, message)
    assert staff.get(reverse("admin:jobs_networkmodel_rescan")).status_code == 405


def test_a_jobs_model_is_shown_and_filterable(staff, api, recorded):
    ids = {}
    for model in ("2x_SPAN_tiny", None):
        fields = {"imageBase64": base64.b64encode(images.png(24, 20)).decode(), "upscaleFactor": 2}
        if model:
            fields["model"] = model
        ids[model] = api.post("precise-upscale", {"input": fields}).json()["id"]
    page = staff.get(reverse("admin:jobs_job_changelist") + "?model=2x_SPAN_tiny").content.decode()
    assert ids["2x_SPAN_tiny"][:8] in page and ids[None][:8] not in page
    assert ">2x_SPAN_tiny</a>" in staff.get(reverse("admin:jobs_job_changelist")).content.decode()  # the filter
    detail = staff.get(reverse("admin:jobs_job_change", args=[ids[None]])).content.decode()
    assert "RealESRGAN_x4plus" in detail
    assert Job.objects.get(pk=ids[None]).model == "RealESRGAN_x4plus"
