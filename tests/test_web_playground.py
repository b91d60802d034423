"""The playground: its options come from the API's serializers, it submits through the
API's path as the web surface (same price, ledger, limits and refusals), refusals become
form errors, the price is quoted from the image header, and the curl equivalent."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Account, LedgerEntry
from jobs.models import Job
from jobs.web import curl
from tests import images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def upload(data: bytes | None = None, name: str = "a.png"):
    return SimpleUploadedFile(name, data if data is not None else images.png(24, 20), content_type="image/png")


def submit(web, mode="precise", **fields):
    data = {"mode": mode, "source": "file", "outputFormat": "png", "outputQuality": "85", "inputImageType": "universal"}
    if "image" not in fields and fields.get("source") != "url":
        data["image"] = upload()
    data.update(fields)
    return web.post("/playground", data)


def test_it_shows_each_mode_with_the_apis_ranges_and_defaults(web):
    page = web.get("/playground").content.decode()
    precise = re.search(r'<input type="number" name="precise-upscaleFactor"[^>]*>', page).group(0)
    assert 'min="1"' in precise and 'max="16"' in precise and 'value="4"' in precise
    dynamic = re.search(r'<input type="number" name="dynamic-upscaleFactor"[^>]*>', page).group(0)
    assert 'max="4"' in dynamic and 'value="2"' in dynamic
    resemblance = re.search(r'<input type="range" name="dynamic-resemblance"[^>]*>', page).group(0)
    assert 'min="0"' in resemblance and 'max="10"' in resemblance and 'value="8"' in resemblance
    assert 'name="mode" value="restore"' in page
    assert "How many times wider and taller the result is." in page
    # Smart's model is not installed in the tests' model directory, so it is not offered.
    assert 'value="smart"' not in page


def test_smart_is_offered_when_its_model_is_installed(web, monkeypatch):
    from jobs import capabilities

    real = capabilities.unavailable_reason
    monkeypatch.setattr(
        capabilities, "unavailable_reason", lambda mode, t="universal": None if mode == "smart" else real(mode, t)
    )
    page = web.get("/playground").content.decode()
    assert 'name="mode" value="smart"' in page
    assert 'name="smart-description"' in page and 'name="smart-shouldEnhanceFaces"' in page


def test_it_submits_an_upload_as_a_charged_web_job(web, account):
    r = submit(web, **{"precise-upscaleFactor": "2", "outputFormat": "webp", "outputQuality": "70"})
    assert r.status_code == 302
    job = Job.objects.get(account=account)
    assert r["Location"] == f"/playground?job={job.id}"
    assert job.surface == "web" and job.mode == "precise"
    assert (job.output_width, job.output_height) == (48, 40)
    assert job.output_format == "webp" and job.output_quality == 70
    assert job.params["upscaleFactor"] == 2 and "imageBase64" not in job.params
    assert job.base_url == "http://testserver"
    account.refresh_from_db()
    assert account.balance == 99
    assert LedgerEntry.objects.get(job=job).amount == -1

    page = web.get(r["Location"]).content.decode()
    assert f'data-status-url="/jobs/{job.id}/status.json"' in page
    assert "-F upscaleFactor=2" in page and "-F outputFormat=webp" in page
    # The form comes back as the job was submitted, ready for a tweak.
    assert 'name="precise-upscaleFactor" id="precise-upscaleFactor" min="1" max="16" step="any" value="2"' in page


def test_it_submits_an_image_url_and_a_webhook(web, account, file_server, webhook_receiver):
    url = file_server.add("/photo.jpg", images.jpeg(20, 16))
    r = submit(
        web,
        mode="dynamic",
        source="url",
        imageUrl=url,
        webhook=webhook_receiver.url + "/hook",
        **{
            "dynamic-upscaleFactor": "2",
            "dynamic-resemblance": "3",
            "dynamic-detail": "5",
            "dynamic-globalCreativity": "5",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    job = Job.objects.get(account=account)
    assert job.params["imageUrl"] == url and job.params["resemblance"] == 3
    assert job.webhook_url == webhook_receiver.url + "/hook"
    command = curl.command(job, "https://app.example.com")
    assert command.startswith("curl -X POST https://app.example.com/api/v1/dynamic-upscale")
    assert '"imageUrl": "' + url in command and '"resemblance": 3' in command and '"webhook"' in command


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"precise-upscaleFactor": "20"},
            "precise-upscaleFactor",
            "Upscale factor must be a number from 1 to 16 (got &#x27;20&#x27;).",
        ),
        ({"image": upload(b"not an image")}, "image", "The image is not a JPEG, PNG or WebP file"),
        (
            {"image": upload(images.png(3000, 3000)), "precise-upscaleFactor": "16"},
            "precise-upscaleFactor",
            "over the 80 MP limit",
        ),
        ({"webhook": "ftp://example.com/x"}, "webhook", "The webhook URL must be a valid http or https URL"),
        ({"image": ""}, "image", "Choose an image to upload"),
        ({"source": "url", "imageUrl": ""}, "imageUrl", "Paste the URL of a JPEG, PNG or WebP image."),
    ],
)
def test_refusals_are_the_apis_and_land_on_their_field(web, account, fields, field, message):
    r = submit(web, **fields)
    assert r.status_code == 400
    page = r.content.decode()
    assert message in page
    assert f'<p class="error-text" id="error-{field}">' in page
    assert not Job.objects.exists()
    account.refresh_from_db()
    assert account.balance == 100


def test_insufficient_credits_is_a_form_error_that_charges_nothing(web, account):
    Account.objects.filter(pk=account.pk).update(balance=0)
    r = submit(web, mode="restore")
    assert r.status_code == 400
    assert b"Insufficient credits: this job costs 8 credits and the balance is 0." in r.content
    assert b'href="/credits">See your credits' in r.content
    assert not Job.objects.exists()


def test_web_submits_count_against_the_submit_rate_limit(web, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "submit": [(2, 60)]}
    assert submit(web).status_code == 302
    assert submit(web).status_code == 302
    r = submit(web)
    assert r.status_code == 429
    assert b"You are submitting faster than the limit allows; try again in" in r.content
    assert Job.objects.count() == 2


def test_the_quote_prices_the_image_from_its_header(web):
    r = web.post(
        "/playground/quote", {"mode": "precise", "upscaleFactor": "2", "image": upload(images.png(1024, 1024))}
    )
    assert r.status_code == 200
    assert r.json() == {
        "width": 1024,
        "height": 1024,
        "format": "PNG",
        "outputWidth": 2048,
        "outputHeight": 2048,
        "credits": 1,
        "balance": 100,
        "enough": True,
    }
    # Later changes send the size they were told, not the file again.
    r = web.post("/playground/quote", {"mode": "dynamic", "upscaleFactor": "2", "width": "1024", "height": "1024"})
    assert r.json()["credits"] == 4
    r = web.post("/playground/quote", {"mode": "restore", "width": "1024", "height": "1024"})
    assert r.json()["credits"] == 8 and r.json()["outputWidth"] == 1024


def test_the_quote_says_what_cannot_run(web, account, file_server):
    r = web.post("/playground/quote", {"mode": "precise", "upscaleFactor": "16", "width": "3000", "height": "3000"})
    assert r.status_code == 400 and "over the 80 MP limit" in r.json()["error"]
    r = web.post("/playground/quote", {"mode": "dynamic", "upscaleFactor": "9", "width": "10", "height": "10"})
    # Named as the page labels the field, not by its API name.
    assert r.status_code == 400 and "Upscale factor must be a number from 1 to 4" in r.json()["error"]
    r = web.post("/playground/quote", {"mode": "precise", "image": upload(b"GIF89a....")})
    assert r.status_code == 400 and "not a JPEG, PNG or WebP" in r.json()["error"]
    url = file_server.add("/a.png", images.png(30, 20))
    r = web.post("/playground/quote", {"mode": "precise", "upscaleFactor": "4", "imageUrl": url})
    assert r.json()["outputWidth"] == 120
    Account.objects.filter(pk=account.pk).update(balance=0)
    r = web.post("/playground/quote", {"mode": "restore", "width": "10", "height": "10"})
    assert r.json()["enough"] is False and r.json()["balance"] == 0


def test_the_quote_is_for_signed_in_owners_and_posts_only(client, web):
    assert web.get("/playground/quote").status_code == 405
    web.post("/signout")
    assert web.post("/playground/quote", {"mode": "restore"}).status_code == 302


def test_another_accounts_job_is_not_shown(web, other_account):
    from tests.test_admin_actions import make_job

    theirs = make_job(other_account)
    page = web.get(f"/playground?job={theirs.id}").content.decode()
    assert str(theirs.id) not in page and 'id="result-empty"' in page
    assert web.get("/playground?job=not-a-uuid").status_code == 200


def test_a_refused_form_keeps_what_was_posted_and_the_other_modes_defaults(web):
    page = submit(web, **{"precise-upscaleFactor": "20", "inputImageType": "anime"}).content.decode()
    assert 'name="precise-upscaleFactor" id="precise-upscaleFactor" min="1" max="16" step="any" value="20"' in page
    assert '<option value="anime" selected>' in page
    assert re.search(r'name="dynamic-upscaleFactor"[^>]*value="2"', page)
    assert re.search(r'name="dynamic-resemblance"[^>]*value="8"', page)
