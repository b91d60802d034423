"""shouldEnhanceFaces through the platform: a real Celery worker runs the real pipeline with
the random-weight GFPGAN file (tests/face_models.py) or with no face model at all; the status
payload, the webhook, the web app's job page and the admin say what happened. Also: face
models in GET /api/v1/models, and Ximilar's classic model as the faithful network (503
without it)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from billing.models import LedgerEntry
from inference import faces
from inference.catalog import scan
from jobs import model_catalog
from jobs.models import Job
from tests import ximilar
from tests.env_defaults import SHARED_MODELS
from tests.face_models import FACE_MODEL
from tests.flows import Client, download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


ASTRONAUT = png(np.asarray(Image.fromarray(data.astronaut()).resize((128, 128))))
COFFEE = png(np.asarray(Image.fromarray(data.coffee()).resize((120, 80))))


def submit(client: Client, image: bytes, webhook: str = "", **fields) -> str:
    body = {
        "input": {
            "imageBase64": base64.b64encode(image).decode(),
            "upscaleFactor": 2,
            "model": "realesr-animevideov3",
            **fields,
        }
    }
    if webhook:
        body["webhook"] = webhook
    r = client.submit("precise-upscale", body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_faces_are_enhanced_by_the_face_model_and_every_face_of_the_platform_says_so(
    make_worker, live_server, account, face_model_dir, settings, webhook_receiver, web, admin_client
):
    settings.UPSCALER_MODEL_DIR = str(face_model_dir)
    client = Client(live_server.url, account.raw_key)
    hook = webhook_receiver.url + "/hook"
    enhanced = submit(client, ASTRONAUT, hook, shouldEnhanceFaces=True)
    plain = submit(client, ASTRONAUT)
    no_face = submit(client, COFFEE, shouldEnhanceFaces=True)
    queued = client.status(enhanced)
    assert queued["faces"] is None  # asked for, not done yet
    assert "faces" not in client.status(plain)  # not asked for: no field

    worker = make_worker(UPSCALER_MODEL_DIR=str(face_model_dir))
    final, _ = client.wait(enhanced, timeout=600)
    assert final["status"] == "SUCCESS", (final, worker.log()[-3000:])
    report = {"enhanced": True, "detected": 1, "restored": 1, "model": FACE_MODEL, "reason": None}
    assert final["faces"] == report
    webhook_receiver.wait_for(1, timeout=60)
    assert webhook_receiver.payloads()[0]["faces"] == report

    plain_final, _ = client.wait(plain, timeout=600)
    assert "faces" not in plain_final
    ours, _ = download_image(final["imageUrl"])
    theirs, _ = download_image(plain_final["imageUrl"])
    a, b = np.asarray(ours.convert("RGB")).astype(float), np.asarray(theirs.convert("RGB")).astype(float)
    changed = np.abs(a - b).sum(axis=2) > 0
    x, y, w, h = faces.detect(np.asarray(theirs.convert("RGB")))[0].box
    assert changed[round(y) : round(y + h), round(x) : round(x + w)].mean() > 0.9  # the face changed
    assert not changed[:, : round(x - w)].any() and not changed[round(y + 2.5 * h) :].any()  # far away: not

    final, _ = client.wait(no_face, timeout=600)
    assert final["faces"] == {
        "enhanced": False,
        "detected": 0,
        "restored": 0,
        "model": FACE_MODEL,
        "reason": faces.NO_FACES,
    }

    page = web.get(f"/jobs/{enhanced}").content.decode()
    assert f"Enhanced 1 of 1 faces with {FACE_MODEL}" in page
    admin = admin_client.get(f"/admin/jobs/job/{enhanced}/change/").content.decode()
    assert f"Enhanced 1 of 1 faces with {FACE_MODEL}" in admin


def test_without_a_face_model_the_job_succeeds_unchanged_and_says_faces_were_not_enhanced(
    make_worker, live_server, account, shared_models_dir, web
):
    client = Client(live_server.url, account.raw_key)
    flagged = submit(client, ASTRONAUT, shouldEnhanceFaces=True)
    plain = submit(client, ASTRONAUT)
    make_worker(UPSCALER_MODEL_DIR=str(shared_models_dir))
    final, _ = client.wait(flagged, timeout=600)
    assert final["status"] == "SUCCESS"
    assert final["faces"] == {"enhanced": False, "detected": 0, "restored": 0, "model": None, "reason": faces.NO_MODEL}
    plain_final, _ = client.wait(plain, timeout=600)
    assert download_image(final["imageUrl"])[1] == download_image(plain_final["imageUrl"])[1]  # the same bytes
    page = web.get(f"/jobs/{flagged}").content.decode()
    assert "Not enhanced: no face restoration model is installed" in page
    assert Job.objects.get(pk=flagged).faces["reason"] == faces.NO_MODEL


@pytest.fixture
def shared_models_dir(settings):
    settings.UPSCALER_MODEL_DIR = str(SHARED_MODELS)
    return SHARED_MODELS


def test_the_models_endpoint_lists_face_models_with_their_purpose_and_model_cannot_name_them(
    api, face_model_dir, settings
):
    settings.UPSCALER_MODEL_DIR = str(face_model_dir)
    model_catalog.record_scan(scan(face_model_dir), "gpu-1")
    r = api.get("models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()["models"]}
    face = models[FACE_MODEL]
    assert (face["purpose"], face["architecture"], face["available"], face["enhancesFaces"], face["modes"]) == (
        "FaceSR",
        "GFPGAN",
        True,
        True,
        [],
    )
    # The registered GFPGAN v1.4 is listed too, not installed here, with how to install it.
    assert models["GFPGANv1.4"]["purpose"] == "FaceSR" and models["GFPGANv1.4"]["available"] is False
    assert "fetch_models GFPGANv1.4" in models["GFPGANv1.4"]["error"]
    # DAT-light is offered to every mode that takes a model.
    assert models["DAT_light_x4"]["modes"] == ["precise", "dynamic", "restore"]
    assert models["DAT_light_x4"]["enhancesFaces"] is False
    r = api.post(
        "precise-upscale",
        {"input": {"imageBase64": base64.b64encode(ASTRONAUT).decode(), "model": FACE_MODEL}},
    )
    assert r.status_code == 400 and "face restoration model" in r.json()["error"], r.content


def test_ximilars_classic_model_without_its_network_is_a_503_that_charges_nothing(
    live_server, account, settings, tmp_path
):
    (tmp_path / "RealESRGAN_x4plus.safetensors").symlink_to(SHARED_MODELS / "RealESRGAN_x4plus.safetensors")
    settings.UPSCALER_MODEL_DIR = str(tmp_path)
    record = {"_base64": ximilar.data_uri(ASTRONAUT)}
    r = ximilar.post(live_server.url, account.raw_key, "/upscaler/4x/upscale", {"records": [record]})
    assert r.status_code == 503, r.text
    assert "DAT_light_x4" in r.json()["status"]["error_description"]
    assert "fetch_models DAT_light_x4" in r.json()["status"]["error_description"]
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
