"""The playground offers a choice of model for precise, dynamic and restore when the operator
has installed models besides the modes' own, each with its scale and description; the
default is the mode's network."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.registry import MODELS
from jobs import model_catalog
from jobs.models import Job
from tests import images, model_zoo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


@pytest.fixture(scope="module")
def zoo_scan(tmp_path_factory):
    return model_zoo.scan(model_zoo.build(tmp_path_factory.mktemp("zoo"), ["2x_SPAN_tiny", "1x_Compact_tiny"]))


def options_of(page: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="{name}" id="{name}">(.*?)</select>', page, re.S)
    assert select, f"no {name} select"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_it_offers_the_installed_models_with_their_scale_and_description(web, zoo_scan):
    model_catalog.record_scan(zoo_scan, "gpu-1")
    model_catalog.describe("2x_SPAN_tiny", "Fast 2x for photos")
    page = web.get("/playground").content.decode()
    for mode in ("precise", "dynamic", "restore"):
        choices = dict(options_of(page, f"{mode}-model"))
        assert choices[""] == f"The {mode} network: RealESRGAN_x4plus (RealESRGAN_x4plus_anime_6B for anime)"
        assert choices["2x_SPAN_tiny"] == "2x_SPAN_tiny · 2x SPAN · Fast 2x for photos"
        assert choices["1x_Compact_tiny"] == "1x_Compact_tiny · 1x Compact"
        assert model_zoo.BROKEN not in choices  # not usable
    assert 'name="smart-model"' not in page
    assert "Restore works at the original size and has no options of its own." not in page


def test_it_submits_the_chosen_model(web, account, zoo_scan):
    model_catalog.record_scan(zoo_scan, "gpu-1")
    data = {
        "mode": "precise",
        "source": "file",
        "outputFormat": "png",
        "outputQuality": "85",
        "inputImageType": "universal",
        "precise-upscaleFactor": "2.5",
        "precise-model": "2x_SPAN_tiny",
        "image": SimpleUploadedFile("a.png", images.png(24, 20), content_type="image/png"),
    }
    r = web.post("/playground", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    job = Job.objects.get(account=account)
    assert job.model == "2x_SPAN_tiny" and (job.output_width, job.output_height) == (60, 50)
    page = web.get(r["Location"]).content.decode()
    assert ("2x_SPAN_tiny", "2x_SPAN_tiny · 2x SPAN") in options_of(page, "precise-model")
    assert re.search(r'<option value="2x_SPAN_tiny" selected>', page)
    assert "-F model=2x_SPAN_tiny" in page  # the curl equivalent
    detail = web.get(f"/jobs/{job.id}").content.decode()
    assert '<dd id="job-model">2x_SPAN_tiny</dd>' in detail

    data.update({"precise-model": "gone", "image": SimpleUploadedFile("a.png", images.png(24, 20))})
    r = web.post("/playground", data)
    assert r.status_code == 400
    error = re.search(r'<p class="error-text" id="error-precise-model">([^<]*)</p>', r.content.decode())
    assert error and "model must name an available model" in error.group(1)


def test_no_choice_without_models_besides_the_modes_own(web, settings, tmp_path):
    from tests.env_defaults import SHARED_MODELS

    for name in ("RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B"):
        (tmp_path / MODELS[name].filename).symlink_to(SHARED_MODELS / MODELS[name].filename)
    settings.UPSCALER_MODEL_DIR = str(tmp_path)
    page = web.get("/playground").content.decode()
    assert 'name="precise-model"' not in page
    assert "Restore works at the original size and has no options of its own." in page
