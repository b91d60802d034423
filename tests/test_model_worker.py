"""Bring your own model with a real Celery worker: it scans its model directory (tiny
networks of several architectures and scales saved by the test) as it starts and records
them; the API lists them; precise jobs naming a 2x and a 1x network run end to end to the
exact size; the admin's "Rescan now" has a worker record a file added since."""

from __future__ import annotations

import base64
import threading
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from jobs import model_scan
from jobs.models import Job, NetworkModel
from tests import images, model_zoo
from tests.flows import Client, download_image, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(predicate, timeout: float, what: str, worker):
    """flows.wait_until, with the worker's log on failure."""
    return wait_until(predicate, timeout, what, interval=0.3, context=lambda: worker.log()[-3000:])


def parameters(architecture: str, scale: int) -> int:
    from tests.inference.tiny_networks import network

    return sum(p.numel() for p in network(architecture, scale).parameters())


def test_a_worker_records_its_models_and_runs_jobs_that_name_them(make_worker, live_server, account, client, tmp_path):
    zoo = model_zoo.build(tmp_path / "models", ["2x_SPAN_tiny", "1x_Compact_tiny", "4x_ESRGAN_tiny"])
    worker = make_worker(UPSCALER_MODEL_DIR=str(zoo), MODEL_SCAN_ON_WORKER_START="true")

    names = {"2x_SPAN_tiny", "1x_Compact_tiny", "4x_ESRGAN_tiny", model_zoo.BROKEN}
    rows = wait_for(
        lambda: (found := {r.name: r for r in NetworkModel.objects.all()}) and set(found) == names and found,
        120,
        "the worker's start-up scan recorded its models",
        worker,
    )
    scanned_by = rows["2x_SPAN_tiny"].scanned_by
    assert scanned_by.startswith("test-") and f"model scan by {scanned_by}: 3 usable" in worker.log()
    assert not rows[model_zoo.BROKEN].available and "cannot be read" in rows[model_zoo.BROKEN].error

    api = Client(live_server.url, account.raw_key)
    listed = {m["name"]: m for m in api.session.get(f"{api.base}/models", timeout=30).json()["models"]}
    for name in ("2x_SPAN_tiny", "1x_Compact_tiny", "4x_ESRGAN_tiny"):
        architecture, scale, _ = model_zoo.ZOO[name]
        entry = listed[name]
        assert (entry["architecture"], entry["scale"]) == (architecture, scale), entry
        assert entry["parameters"] == parameters(architecture, scale)
        assert entry["available"] and entry["modes"] == ["precise", "dynamic", "restore"]
    assert listed[model_zoo.BROKEN]["available"] is False and listed[model_zoo.BROKEN]["error"]

    cases = [("2x_SPAN_tiny", 2.5, (60, 50)), ("1x_Compact_tiny", 1.5, (36, 30))]
    submitted = []
    for model, factor, size in cases:
        image = base64.b64encode(images.png(24, 20)).decode()
        r = api.submit("precise-upscale", {"input": {"imageBase64": image, "upscaleFactor": factor, "model": model}})
        assert r.status_code == 200, r.text
        submitted.append((r.json()["id"], model, size))
    for job_id, model, size in submitted:
        final, _ = api.wait(job_id)
        assert final["status"] == "SUCCESS", (final, worker.log()[-3000:])
        assert final["model"] == model and (final["outputWidth"], final["outputHeight"]) == size
        png, _ = download_image(final["imageUrl"])
        assert png.size == size
        assert Job.objects.get(pk=job_id).engine == f"precise/{model}"

    # A file added later: the admin's rescan has an inference worker record it.
    model_zoo.build(zoo, ["3x_Compact_tiny"])
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123"))
    assert client.post(reverse("admin:jobs_networkmodel_rescan")).status_code == 302
    added = wait_for(
        lambda: NetworkModel.objects.filter(pk="3x_Compact_tiny").first(), 120, "the rescan recorded it", worker
    )
    assert (added.architecture, added.scale, added.available) == ("Compact", 3, True)
    assert added.scanned_by == scanned_by


def test_only_workers_of_the_inference_queue_scan(settings):
    settings.MODEL_SCAN_ON_WORKER_START = True
    queues = SimpleNamespace(consume_from={settings.WEBHOOKS_QUEUE: None, settings.MAINTENANCE_QUEUE: None})
    sender = SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=queues)), hostname="cpu-1")
    model_scan.scan_when_a_worker_starts(sender=sender)
    assert not [t for t in threading.enumerate() if t.name == "model-scan"]
