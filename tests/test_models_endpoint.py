"""GET /api/v1/models and `model` in precise, dynamic and restore: the web tier checks the
name against the recorded scans (NetworkModel rows) and the registry's built-in models,
records the network on the job and names it in the status payload. The scans here are
real (inference.catalog.scan of tiny networks saved by the test), recorded in-process as a
worker records them; tests/test_model_worker.py does it with a real worker."""

from __future__ import annotations

import base64

import pytest

from billing.models import LedgerEntry
from inference.registry import MODELS
from jobs import model_catalog
from jobs.models import Job, NetworkModel
from jobs.processing import engine_params
from tests import images, model_zoo

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo.build(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="module")
def zoo_scan(zoo):
    return model_zoo.scan(zoo)


@pytest.fixture
def recorded(zoo_scan):
    model_catalog.record_scan(zoo_scan, "gpu-1")
    return {info.name: info for info in zoo_scan}


def submit(api, path="precise-upscale", **fields):
    image = base64.b64encode(images.png(24, 20)).decode()
    return api.post(path, {"input": {"imageBase64": image, **fields}})


def listed(api) -> dict[str, dict]:
    r = api.get("models")
    assert r.status_code == 200, r.content
    return {m["name"]: m for m in r.json()["models"]}


def test_it_lists_the_scanned_models_with_their_architecture_scale_and_parameters(api, recorded):
    models = listed(api)
    for name, (architecture, scale, _) in model_zoo.ZOO.items():
        info, entry = recorded[name], models[name]
        assert (entry["architecture"], entry["scale"]) == (architecture, scale)
        assert entry["parameters"] == info.parameters > 0
        assert entry["available"] is True and entry["error"] is None
        assert entry["modes"] == ["precise", "dynamic", "restore"]
        assert entry["defaultFor"] == {} and entry["file"] == info.file
        assert entry["scannedAt"] and entry["purpose"] == ("Restoration" if scale == 1 else "SR")
    assert models["1x_Compact_tiny"]["file"] == "1x_Compact_tiny.pth"
    assert "README" not in models
    # The built-in models nobody scanned here are listed from the registry.
    builtin = models["RealESRGAN_x4plus"]
    assert (builtin["architecture"], builtin["scale"], builtin["parameters"]) == ("ESRGAN", 4, None)
    assert builtin["available"] is True and builtin["scannedAt"] is None
    assert builtin["defaultFor"] == {mode: ["realism", "universal"] for mode in ("precise", "dynamic", "restore")}
    assert models["RealESRGAN_x4plus_anime_6B"]["defaultFor"]["precise"] == ["anime"]
    assert builtin["description"] == MODELS["RealESRGAN_x4plus"].description


def test_a_broken_file_is_listed_with_its_error_and_refused(api, account, recorded):
    entry = listed(api)[model_zoo.BROKEN]
    assert entry["available"] is False and entry["modes"] == []
    assert entry["error"] == recorded[model_zoo.BROKEN].error and "4x_Broken.safetensors" in entry["error"]
    assert entry["architecture"] is None and entry["scale"] is None

    r = submit(api, model=model_zoo.BROKEN)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith(f'model "{model_zoo.BROKEN}" cannot be used: 4x_Broken.safetensors')
    assert "Available models: 1x_Compact_tiny, 2x_SPAN_tiny, 3x_Compact_tiny, 4x_ESRGAN_tiny" in error
    assert not Job.objects.exists()


def test_an_unknown_model_is_a_400_listing_the_available_names(api, account, recorded):
    r = submit(api, model="4x-UltraSharp")
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "FAILED"
    assert body["error"].startswith("model must name an available model: 1x_Compact_tiny, 2x_SPAN_tiny, ")
    assert '(got "4x-UltraSharp")' in body["error"] and model_zoo.BROKEN not in body["error"]
    assert "RealESRGAN_x4plus" in body["error"]  # the built-in ones, installed here
    assert "No inference worker" not in body["error"]
    account.refresh_from_db()
    assert account.balance == 100 and not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit")


def test_before_any_scan_the_built_in_models_are_known_and_others_need_one(api, account):
    models = listed(api)
    assert set(models) == set(MODELS)
    assert all(m["scannedAt"] is None for m in models.values())

    r = submit(api, model="2x_SPAN_tiny")
    assert r.status_code == 400
    assert "No inference worker has recorded a scan of the model directory yet" in r.json()["error"]
    assert "python manage.py rescan_models" in r.json()["error"]

    r = submit(api, model="realesr-animevideov3", upscaleFactor=2)
    assert r.status_code == 200, r.content
    assert Job.objects.get().model == "realesr-animevideov3"


def test_a_job_records_the_model_it_named_and_the_status_names_it(api, recorded):
    r = submit(api, model="2x_SPAN_tiny", upscaleFactor=2.5)
    assert r.status_code == 200, r.content
    job = Job.objects.get(pk=r.json()["id"])
    assert job.model == "2x_SPAN_tiny" and job.params["model"] == "2x_SPAN_tiny"
    assert (job.output_width, job.output_height) == (60, 50)
    assert engine_params(job).model == "2x_SPAN_tiny"
    status = api.get(f"status/{job.id}").json()
    assert status["model"] == "2x_SPAN_tiny"

    for path, fields in (("dynamic-upscale", {"upscaleFactor": 3}), ("restore", {})):
        r = submit(api, path, model="1x_Compact_tiny", **fields)
        assert r.status_code == 200, r.content
        job = Job.objects.get(pk=r.json()["id"])
        assert job.model == "1x_Compact_tiny" and engine_params(job).model == "1x_Compact_tiny"


def test_a_job_naming_no_model_records_its_modes_default(api, recorded):
    for fields, default in (({}, "RealESRGAN_x4plus"), ({"inputImageType": "anime"}, "RealESRGAN_x4plus_anime_6B")):
        r = submit(api, upscaleFactor=2, **fields)
        assert r.status_code == 200, r.content
        job = Job.objects.get(pk=r.json()["id"])
        assert job.model == default and "model" not in job.params
        assert api.get(f"status/{job.id}").json()["model"] == default
        assert engine_params(job).model == default


def test_older_jobs_name_the_network_their_engine_ran(api, recorded):
    r = submit(api, upscaleFactor=2)
    job = Job.objects.get(pk=r.json()["id"])
    Job.objects.filter(pk=job.pk).update(model="", engine="precise/RealESRGAN_x4plus")
    assert api.get(f"status/{job.id}").json()["model"] == "RealESRGAN_x4plus"
    job.refresh_from_db()
    assert engine_params(job).model is None  # the mode's default, as before
    Job.objects.filter(pk=job.pk).update(engine="")
    assert api.get(f"status/{job.id}").json()["model"] is None


def test_the_price_and_the_factor_ranges_do_not_depend_on_the_model(api, recorded):
    costs = {}
    for model in (None, "1x_Compact_tiny", "4x_ESRGAN_tiny"):
        extra = {"model": model} if model else {}
        r = submit(api, upscaleFactor=16, **extra)
        assert r.status_code == 200, r.content
        costs[model] = r.json()["creditCost"]
        job = Job.objects.get(pk=r.json()["id"])
        assert (job.output_width, job.output_height) == (384, 320)
    assert len(set(costs.values())) == 1
    r = submit(api, "dynamic-upscale", upscaleFactor=4.5, model="2x_SPAN_tiny")
    assert r.status_code == 400 and "upscaleFactor must be a number from 1 to 4" in r.json()["error"]
    r = submit(api, "restore", model="3x_Compact_tiny")
    job = Job.objects.get(pk=r.json()["id"])
    assert (job.output_width, job.output_height, job.credit_cost) == (24, 20, 8)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (4, "model must be a model's name"),
        ("../etc/passwd", "model must be a model's name"),
        ("", "model is empty: leave it out for the mode's default network."),
        ("x" * 201, "model must be at most 200 characters."),
    ],
)
def test_it_refuses_a_malformed_model(api, value, message):
    r = submit(api, model=value)
    assert r.status_code == 400 and message in r.json()["error"]


def test_smart_takes_no_model(api, recorded):
    r = submit(api, "smart-upscale", model="2x_SPAN_tiny")
    assert r.status_code == 400
    assert "model applies to precise, dynamic and restore" in r.json()["error"]


def test_a_model_gone_since_the_last_scan_is_kept_but_unavailable(api, zoo_scan, recorded):
    r = submit(api, model="3x_Compact_tiny", upscaleFactor=2)
    old = Job.objects.get(pk=r.json()["id"])
    summary = model_catalog.record_scan([i for i in zoo_scan if i.name != "3x_Compact_tiny"], "gpu-2")
    assert summary["gone"] == ["3x_Compact_tiny"]
    row = NetworkModel.objects.get(pk="3x_Compact_tiny")
    assert not row.available and row.scanned_by == "gpu-2"
    assert row.error == "3x_Compact_tiny.safetensors was not in the model directory at the last scan"
    assert (row.architecture, row.scale) == ("Compact", 3)  # what it was, for the jobs that ran it
    assert api.get(f"status/{old.id}").json()["model"] == "3x_Compact_tiny"

    r = submit(api, model="3x_Compact_tiny")
    assert r.status_code == 400 and "was not in the model directory at the last scan" in r.json()["error"]
    # Back again at the next scan.
    model_catalog.record_scan(zoo_scan, "gpu-1")
    assert NetworkModel.objects.get(pk="3x_Compact_tiny").available


def test_descriptions_survive_rescans_and_are_listed(api, zoo_scan, recorded):
    model_catalog.describe("2x_SPAN_tiny", "  Fast 2x for photos.  ")
    model_catalog.record_scan(zoo_scan, "gpu-3")
    row = NetworkModel.objects.get(pk="2x_SPAN_tiny")
    assert row.description == "Fast 2x for photos." and row.scanned_by == "gpu-3"
    assert listed(api)["2x_SPAN_tiny"]["description"] == "Fast 2x for photos."
    with pytest.raises(LookupError, match="No recorded model named 'nope'; recorded: 1x_Compact_tiny"):
        model_catalog.describe("nope", "x")


def test_the_schema_documents_the_endpoint_and_the_field(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/models"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    item = schema["components"]["schemas"][ref]["properties"]["models"]["items"]["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][item]["properties"]
    assert {"name", "architecture", "scale", "parameters", "description", "available", "error", "modes"} <= set(
        properties
    )
    assert "exact output size" in properties["scale"]["description"]
    for component in ("PreciseInputRequest", "DynamicInputRequest", "RestoreInputRequest"):
        assert "GET /api/v1/models" in schema["components"]["schemas"][component]["properties"]["model"]["description"]
    status = schema["components"]["schemas"]["Status"]["properties"]
    assert "model" in status


def test_the_catalogs_modes_are_the_engines(api):
    from inference.api import MODEL_MODES

    assert model_catalog.MODEL_MODES == MODEL_MODES


def test_a_file_name_too_long_to_record_does_not_keep_the_others_out(zoo_scan):
    from dataclasses import replace

    long = replace(zoo_scan[0], name="x" * 201)
    summary = model_catalog.record_scan([long, *zoo_scan], "gpu-1")
    assert "x" * 201 not in summary["usable"]
    assert NetworkModel.objects.count() == len(zoo_scan)
