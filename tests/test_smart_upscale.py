"""POST /api/v1/smart-upscale: 503 without the diffusion model, GET /api/v1/modes, and real
smart jobs through the API and a Celery worker running a tiny random x4 upscaler pipeline."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from billing.models import LedgerEntry
from inference.diffusion_tiny import build_tiny_pipeline
from inference.registry import MODELS, SMART_PIPELINE
from jobs.models import Job
from tests import images
from tests.env_defaults import REPO, SHARED_MODELS
from tests.flows import Client, download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FOX = "a red fox in the snow"
CAR = "a blue vintage car"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("pipeline") / SMART_PIPELINE)


@pytest.fixture
def smart_model_dir(tmp_path, tiny_pipeline, settings) -> Path:
    """A model directory with the shared Real-ESRGAN weights and the tiny pipeline; the web
    process (the live server runs in this one) reads it from settings."""
    folder = tmp_path / "models"
    folder.mkdir()
    for spec in MODELS.values():
        if (SHARED_MODELS / spec.filename).is_file():
            (folder / spec.filename).symlink_to(SHARED_MODELS / spec.filename)
    (folder / SMART_PIPELINE).symlink_to(tiny_pipeline, target_is_directory=True)
    settings.UPSCALER_MODEL_DIR = str(folder)
    return folder


def modes(api) -> dict[str, dict]:
    r = api.get("modes")
    assert r.status_code == 200, r.content
    return {m["mode"]: m for m in r.json()["modes"]}


def test_it_answers_503_naming_the_missing_model_and_charges_nothing(api, account):
    r = api.post("smart-upscale", {"input": {"imageBase64": b64(images.png()), "description": FOX}})
    assert r.status_code == 503, r.content
    error = r.json()["error"]
    assert r.json()["status"] == "FAILED"
    assert "stable-diffusion-x4-upscaler" in error and "model_index.json" in error
    assert "python manage.py fetch_models stable-diffusion-x4-upscaler" in error and "smart extra" in error
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()


def test_modes_say_smart_is_unavailable_until_its_pipeline_is_installed(api, settings, smart_model_dir, tmp_path):
    settings.UPSCALER_MODEL_DIR = str(tmp_path / "empty")
    smart = modes(api)["smart"]
    assert smart["available"] is False and smart["models"] == [SMART_PIPELINE]
    assert "fetch_models stable-diffusion-x4-upscaler" in smart["reason"]

    settings.UPSCALER_MODEL_DIR = str(smart_model_dir)
    listed = modes(api)
    assert listed["smart"] == {"mode": "smart", "available": True, "models": [SMART_PIPELINE], "reason": None}
    assert listed["precise"]["available"] and listed["restore"]["available"]


def test_a_half_installed_pipeline_is_not_served(api, settings, tiny_pipeline, tmp_path):
    folder = tmp_path / "half"
    shutil.copytree(tiny_pipeline, folder / SMART_PIPELINE)
    for weights in (folder / SMART_PIPELINE / "vae").glob("*.safetensors"):
        weights.unlink()
    settings.UPSCALER_MODEL_DIR = str(folder)
    assert "vae holds no weights file" in modes(api)["smart"]["reason"]
    r = api.post("smart-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 503 and "vae holds no weights file" in r.json()["error"]


def test_it_runs_smart_jobs_end_to_end(make_worker, live_server, smart_model_dir, account):
    client = Client(live_server.url, account.raw_key)
    small = b64(images.png(30, 22))

    def submit(description: str, factor: float = 2.5, image: str = small) -> str:
        body = {"input": {"imageBase64": image, "upscaleFactor": factor, "description": description}}
        r = client.submit("smart-upscale", body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "IN_QUEUE"
        return r.json()["id"]

    # Queued before any worker runs, so the seeds can be set: a rerun with the stored seed.
    fox, fox_again, car = submit(FOX), submit(FOX), submit(CAR)
    slow = submit("a harbour at dusk", 2, b64(images.png(256, 192)))
    assert Job.objects.filter(pk=slow).get().seed is not None  # every job gets its own
    Job.objects.filter(pk__in=[fox, fox_again, car]).update(seed=1234)

    worker = make_worker(UPSCALER_MODEL_DIR=str(smart_model_dir), UPSCALER_SMART_STEPS="3", OMP_NUM_THREADS="1")

    final, seen = client.wait(slow, timeout=300)
    assert final["status"] == "SUCCESS", (final, worker.log()[-3000:])
    assert any(0 < p < 100 for p in seen), seen  # per denoising step and tile
    assert seen == sorted(seen)
    png, _ = download_image(final["imageUrl"])
    assert png.size == (512, 384)

    outputs = {}
    for job_id in (fox, fox_again, car):
        final, _ = client.wait(job_id, timeout=300)
        assert final["status"] == "SUCCESS", (final, worker.log()[-3000:])
        png, raw = download_image(final["imageUrl"])
        jpg, _ = download_image(final["compressedImageUrl"])
        assert png.size == jpg.size == (75, 55)  # round(30 * 2.5) x round(22 * 2.5)
        outputs[job_id] = raw

    assert outputs[fox] == outputs[fox_again]  # same seed, same description: same bytes
    fox_pixels = Image.open(io.BytesIO(outputs[fox])).tobytes()
    assert fox_pixels != Image.open(io.BytesIO(outputs[car])).tobytes()  # the description matters
    log = worker.log()
    assert f"prompt='{FOX}, a high-resolution image" in log and f"prompt='{CAR}, a high-resolution image" in log
    assert set(Job.objects.values_list("engine", flat=True)) == {"smart/stable-diffusion-x4-upscaler"}

    account.refresh_from_db()
    assert account.balance == 100 - 4 == account.ledger_sum()  # 1 credit each: under 1 MP


def test_the_web_tier_checks_the_pipeline_without_importing_diffusers(smart_model_dir):
    probe = (
        "import sys, django; django.setup()\n"
        "from jobs import capabilities\n"
        "assert {m['mode']: m for m in capabilities.describe()}['smart']['available']\n"
        "heavy = ('torch', 'diffusers', 'transformers', 'huggingface_hub')\n"
        "print(','.join(m for m in heavy if m in sys.modules) or 'clean')\n"
    )
    env = {**os.environ, "UPSCALER_MODEL_DIR": str(smart_model_dir)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "clean"
