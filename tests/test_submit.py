"""POST /api/v1/{precise,dynamic,smart}-upscale and /restore: validation, auth, charging."""

from __future__ import annotations

import base64

import pytest

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_nothing_charged(account, jobs_before=0):
    account.refresh_from_db()
    assert account.balance == 100
    assert Job.objects.count() == jobs_before
    assert not LedgerEntry.objects.filter(kind="debit").exists()


def test_it_queues_a_precise_job_and_charges_it(api, account):
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png(1024, 1024)), "upscaleFactor": 2}})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "IN_QUEUE" and body["creditCost"] == 1
    job = Job.objects.get(pk=body["id"])
    assert (job.output_width, job.output_height) == (2048, 2048)
    assert job.params["upscaleFactor"] == 2 and "imageBase64" not in job.params
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()


def test_it_prices_dynamic_per_megapixel(api, account):
    r = api.post("dynamic-upscale", {"input": {"imageBase64": b64(images.png(1024, 1024))}})
    assert r.status_code == 200, r.content
    assert r.json()["creditCost"] == 4  # default factor 2 -> 4.19 MP


def test_it_charges_restore_flat(api):
    r = api.post("restore", {"input": {"imageBase64": b64(images.jpeg(64, 48))}})
    assert r.status_code == 200, r.content
    assert r.json()["creditCost"] == 8
    job = Job.objects.get(pk=r.json()["id"])
    assert (job.output_width, job.output_height) == (64, 48)


def test_it_accepts_a_data_uri(api):
    uri = "data:image/png;base64," + b64(images.png())
    r = api.post("precise-upscale", {"input": {"imageBase64": uri, "upscaleFactor": 4}})
    assert r.status_code == 200, r.content


def test_it_accepts_multipart_with_an_image_file(api, client, account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.bin", images.png(), content_type="application/octet-stream")
    r = api.post_form("precise-upscale", {"image": upload, "upscaleFactor": "2.5", "inputImageType": "anime"})
    assert r.status_code == 200, r.content
    job = Job.objects.get(pk=r.json()["id"])
    assert job.params["upscaleFactor"] == 2.5 and job.params["inputImageType"] == "anime"
    assert (job.output_width, job.output_height) == (60, 50)


def test_it_fetches_image_urls(api, file_server):
    url = file_server.add("/photo.jpg", images.jpeg(40, 30), "text/plain")  # content wins over type
    r = api.post("precise-upscale", {"input": {"imageUrl": url, "upscaleFactor": 2}})
    assert r.status_code == 200, r.content
    job = Job.objects.get(pk=r.json()["id"])
    assert (job.input_width, job.input_format) == (40, "JPEG")


def test_it_ignores_fields_unknown_to_the_mode(api):
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png()), "globalCreativity": 99, "foo": 1}})
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    ("path", "fields", "named"),
    [
        ("precise-upscale", {"upscaleFactor": 17}, "upscaleFactor"),
        ("precise-upscale", {"upscaleFactor": 0.5}, "upscaleFactor"),
        ("precise-upscale", {"upscaleFactor": "lots"}, "upscaleFactor"),
        ("precise-upscale", {"upscaleFactor": True}, "upscaleFactor"),
        ("dynamic-upscale", {"upscaleFactor": 5}, "upscaleFactor"),
        ("dynamic-upscale", {"globalCreativity": 11}, "globalCreativity"),
        ("dynamic-upscale", {"detail": 2.5}, "detail"),
        ("dynamic-upscale", {"resemblance": -1}, "resemblance"),
        ("dynamic-upscale", {"description": "x" * 1001}, "description"),
        ("dynamic-upscale", {"shouldPreserveHands": "maybe"}, "shouldPreserveHands"),
        ("precise-upscale", {"inputImageType": "cartoon"}, "inputImageType"),
        ("precise-upscale", {"shouldEnhanceFaces": 3}, "shouldEnhanceFaces"),
    ],
)
def test_it_rejects_each_invalid_field_by_name(api, account, path, fields, named):
    r = api.post(path, {"input": {"imageBase64": b64(images.png()), **fields}})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "FAILED" and named in body["error"], body
    assert_nothing_charged(account)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "input"),
        ({"input": {}}, "exactly one"),
        ({"input": {"imageBase64": "abc", "imageUrl": "http://x/a.png"}}, "exactly one"),
        ({"input": {"imageBase64": "not base64!!"}}, "base64"),
        ({"input": {"imageUrl": "ftp://example.com/a.png"}}, "imageUrl"),
        ({"webhook": "javascript:alert(1)", "input": {"imageBase64": b64(images.png())}}, "webhook"),
        ({"input": {"imageBase64": b64(b"GIF89a" + b"\0" * 100)}}, "JPEG, PNG or WebP"),
        ({"input": {"imageBase64": b64(images.png()[:60])}}, "corrupt"),
    ],
)
def test_it_rejects_bad_bodies_and_images_with_a_reason(api, account, body, fragment):
    r = api.post("precise-upscale", body)
    assert r.status_code == 400, r.content
    assert fragment.lower() in r.json()["error"].lower(), r.json()
    assert_nothing_charged(account)


def test_it_refuses_outputs_over_the_cap_and_names_the_largest_factor(api, account, settings):
    settings.MAX_OUTPUT_PIXELS = 1_000_000
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png(500, 500)), "upscaleFactor": 4}})
    assert r.status_code == 400
    assert r.json()["error"] == (
        "The output would be 2000x2000 (4.0 MP), over the 1 MP limit: the largest "
        "upscaleFactor allowed for this 500x500 image is 2."
    )
    assert_nothing_charged(account)


def test_it_requires_a_key(api, account):
    r = api.as_key(None).post("precise-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 401
    assert r.json()["status"] == "FAILED" and "API key" in r.json()["error"]
    assert api.as_key("upk_unknown").get("account").status_code == 401
    assert_nothing_charged(account)


def test_it_accepts_token_scheme(client, account):
    r = client.get("/api/v1/account", HTTP_AUTHORIZATION=f"Token {account.raw_key}")
    assert r.status_code == 200


def test_it_forbids_disabled_keys_and_accounts(api, account):
    account.api_keys.update(is_active=False)
    assert api.get("account").status_code == 403
    account.api_keys.update(is_active=True)
    account.is_active = False
    account.save()
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 403 and "disabled" in r.json()["error"]


def test_it_refuses_insufficient_credits_with_cost_and_balance(api, account):
    from billing import ledger
    from billing.models import Account, ApiKey

    poor = Account.objects.create(name="poor")
    ledger.top_up(poor, 3)
    _, key = ApiKey.issue(poor)
    r = api.as_key(key).post("dynamic-upscale", {"input": {"imageBase64": b64(images.png(1024, 1024))}})
    assert r.status_code == 403
    assert r.json()["error"] == "Insufficient credits: this job costs 4 credits and the balance is 3."
    poor.refresh_from_db()
    assert poor.balance == 3 == poor.ledger_sum()
    assert not Job.objects.exists()


def test_it_answers_503_for_a_mode_without_its_model(api, account, settings, tmp_path):
    settings.UPSCALER_MODEL_DIR = str(tmp_path)
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 503
    assert "RealESRGAN_x4plus" in r.json()["error"] and "fetch_models" in r.json()["error"]
    assert_nothing_charged(account)


def test_it_answers_503_for_smart_without_a_diffusion_engine(api, account):
    r = api.post("smart-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 503 and "smart" in r.json()["error"]
    assert_nothing_charged(account)


def test_it_caps_unfinished_jobs_per_account(api, account, settings):
    settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT = 1
    assert api.post("precise-upscale", {"input": {"imageBase64": b64(images.png())}}).status_code == 200
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png())}})
    assert r.status_code == 429 and r["Retry-After"]
    account.refresh_from_db()
    assert account.balance == 99
