"""The Ximilar surface's refusals, through Ximilar's client and plain HTTP against a running
server (no worker here): Ximilar's shape with the HTTP code equal to `status.code`, a
description of what is wrong, and nothing charged. Also the 504 of a wait that runs out,
and a failed upscale's answer."""

from __future__ import annotations

import pytest
import requests

from billing.models import LedgerEntry
from jobs import lifecycle
from jobs.models import Job
from tests import images, maskr, ximilar

pytestmark = pytest.mark.django_db(transaction=True)

UPSCALE = "/upscaler/2x/upscale"


@pytest.fixture(autouse=True)
def short_waits(settings):
    settings.SYNC_WAIT_MAX_SECONDS = 0  # no worker here: a request that gets as far as waiting answers at once


def image_record() -> dict:
    return {"_base64": ximilar.data_uri(images.png(16, 12))}


def refused(r, code: int, *words: str) -> dict:
    body = r.json()
    assert r.status_code == code == body["status"]["code"], (r.status_code, body)
    assert set(body) == {"status", "statistics"}, body
    assert body["status"]["text"] and body["statistics"] == {"processing time": 0.0}
    for word in words:
        assert word in body["status"]["error_description"], (word, body)
    return body


def nothing_charged(account) -> None:
    account.refresh_from_db()
    assert account.balance == account.ledger_sum()
    assert not LedgerEntry.objects.filter(account=account, kind="debit").exists()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body, words",
    [
        ({"records": [image_record(), image_record()]}, ["exactly one record", "got 2"]),
        ({"records": []}, ["one record"]),
        ({"records": [{"sku": "no image"}]}, ["_url or _base64", "got 0"]),
        ({"records": [image_record()], "mode": "crisp"}, ["mode must be one of artifact_removal, ironed_out"]),
        ({"records": [image_record()], "model_type": "diffusion"}, ["model_type must be one of gan, or absent"]),
        ({"records": [image_record()], "image_format": "gif"}, ["image_format must be one of png, jpg, webp"]),
        ({"records": [image_record()], "image_quality": 0}, ["image_quality must be an integer from 1 to 100"]),
        ({"records": [image_record()], "tune_colors": "yes"}, ["tune_colors must be true or false"]),
        ({"records": [{"_base64": "bm90IGFuIGltYWdl"}]}, ["not a JPEG, PNG or WebP"]),
        ({"records": [{"_base64": "%%%"}]}, ["_base64 is not valid base64"]),
        ([1, 2], ["JSON object"]),
    ],
)
def test_a_bad_body_is_a_400_through_the_client_and_plain_http(live_server, account, body, words):
    r = ximilar.post(live_server.url, account.raw_key, UPSCALE, body)
    refused(r, 400, *words)
    if isinstance(body, dict) and body["records"] and all("_base64" in rec for rec in body["records"]):
        options = {name: value for name, value in body.items() if name != "records"}
        answer = ximilar.client(live_server.url, account.raw_key).upscale(body["records"], 2, **options)
        assert answer["status"]["code"] == 400
    nothing_charged(account)


def test_an_unreadable_url_is_a_400(live_server, account, file_server):
    url = file_server.add("/a.gif", b"GIF89a" + b"\0" * 40)
    refused(ximilar.post(live_server.url, account.raw_key, UPSCALE, {"records": [{"_url": url}]}), 400, "GIF")
    refused(
        ximilar.post(live_server.url, account.raw_key, UPSCALE, {"records": [{"_url": file_server.url + "/gone"}]}),
        400,
        "404",
    )
    nothing_charged(account)


def test_no_key_or_a_bad_key_is_a_401(live_server, account):
    refused(ximilar.post(live_server.url, None, UPSCALE, {"records": [image_record()]}), 401, "Token")
    refused(ximilar.post(live_server.url, "upk_wrong", UPSCALE, {"records": [image_record()]}), 401, "Unknown API key")
    answer = ximilar.client(live_server.url, "upk_wrong").upscale([image_record()], 2)
    assert answer["status"]["code"] == 401
    account.api_keys.get().revoke()
    refused(ximilar.post(live_server.url, account.raw_key, UPSCALE, {"records": [image_record()]}), 401, "revoked")
    nothing_charged(account)


def test_not_enough_credits_is_a_402(live_server, db):
    poor = maskr.account_with(0, name="poor")
    r = ximilar.post(live_server.url, poor.raw_key, "/upscaler/8x/upscale", {"records": [image_record()]})
    refused(r, 402, "costs 1 credits and the balance is 0")
    assert r.json()["status"]["text"] == "aborted by error"  # Ximilar's words for its 402
    answer = ximilar.client(live_server.url, poor.raw_key).upscale([image_record()], 8)
    assert answer["status"]["code"] == 402
    nothing_charged(poor)


def test_an_unknown_scale_is_a_404_even_without_a_key(live_server, account):
    for key in (account.raw_key, None):
        refused(ximilar.post(live_server.url, key, "/upscaler/3x/upscale", {"records": [image_record()]}), 404, "2x")
    answer = ximilar.client(live_server.url, account.raw_key).upscale([image_record()], 3)
    assert answer["status"]["code"] == 404
    nothing_charged(account)


def test_a_wait_that_runs_out_is_a_504_and_the_job_goes_on(live_server, account):
    record = {**image_record(), "sku": "C-3"}
    r = ximilar.post(live_server.url, account.raw_key, UPSCALE, {"records": [record]})
    body = r.json()
    assert r.status_code == 504 == body["status"]["code"], body
    assert body["status"]["text"] == "Gateway Timeout"
    [answer] = body["records"]
    assert answer["sku"] == "C-3" and "_base64" not in answer
    job = Job.objects.get(pk=answer["_id"])
    assert job.status in Job.UNFINISHED and job.surface == "ximilar"
    assert f"/account/v2/request/{job.id}" in body["status"]["error_description"]
    # It is charged once, like any queued job, and its request is visible.
    assert LedgerEntry.objects.filter(job=job, kind="debit").count() == 1
    status, _ = ximilar.async_client(live_server.url, account.raw_key).get_request(str(job.id))
    assert status.status in ("CREATED", "PROCESSING") and status.response is None
    # Ximilar's client reads the same answer.
    answer = ximilar.client(live_server.url, account.raw_key).upscale([image_record()], 4, model_type=None)
    assert answer["status"]["code"] == 504 and answer["records"][0]["_id"]


def test_a_failed_upscale_is_done_with_its_error_and_refunded(live_server, account):
    client = ximilar.async_client(live_server.url, account.raw_key)
    request = client.submit({"endpoint": "upscale_2x", "records": [image_record()]}, "upscaler")
    assert request.status == "CREATED"
    job = Job.objects.get(pk=request.id)
    lifecycle.fail(job, "The upscaling engine failed: out of memory")
    assert request.check_status() == "DONE"
    assert request.update()
    response = request.response
    assert response["status"]["code"] == 500 and response["status"]["text"] == "unknown error"
    assert "out of memory" in response["status"]["error_description"]
    assert "refunded" in response["status"]["error_description"]
    assert response["records"][0]["_id"] == request.id
    assert "_upscaled_image_url" not in response["records"][0]
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()


def test_a_bad_asynchronous_request_is_refused_at_once(live_server, account):
    base, key = live_server.url, account.raw_key
    good = {"type": "upscaler", "endpoint": "upscale_4x", "records": [image_record()]}
    for body, words in (
        ({**good, "type": "tagging"}, ["type must be 'upscaler'"]),
        ({**good, "endpoint": "upscale_3x"}, ["endpoint must be one of upscale_2x, upscale_4x, upscale_8x"]),
        ({**good, "webhook": {"endpoint": "ftp://example.com"}}, ["webhook.endpoint"]),
        ({**good, "webhook": {"endpoint": "https://example.com/h", "headers": {"X": 1}}}, ["webhook.headers"]),
        ({**good, "records": [image_record(), image_record()]}, ["exactly one record"]),
        ({**good, "webhook": {"endpoint": "https://example.com/h", "headers": {"Host": "a"}}}, ["may not set Host"]),
        ({**good, "webhook": {"endpoint": "https://example.com/h", "headers": {"webhook-id": "a"}}}, ["webhook-id"]),
        ({**good, "webhook": {"endpoint": "https://example.com/h", "headers": {"X": "a\r\nB: c"}}}, ["line breaks"]),
        ({**good, "records": [{**image_record(), "notes": "x" * 70000}]}, ["at most 64 KB"]),
    ):
        refused(ximilar.post(base, key, "/account/v2/request", body), 400, *words)
    refused(ximilar.post(base, None, "/account/v2/request", good), 401)
    nothing_charged(account)


def test_another_accounts_request_is_a_404(live_server, account, other_account):
    request = ximilar.async_client(live_server.url, account.raw_key).submit(
        {"endpoint": "upscale_2x", "records": [image_record()]}, "upscaler"
    )
    for path in (f"/account/v2/request/{request.id}", f"/account/v2/request/{request.id}/status"):
        r = requests.get(
            live_server.url + path, headers={"Authorization": f"Token {other_account.raw_key}"}, timeout=30
        )
        refused(r, 404, "No request")


def test_a_full_house_of_waits_is_a_503_before_anything_is_charged(live_server, account, settings):
    settings.SYNC_WAIT_MAX_CONCURRENT = 0
    r = ximilar.post(live_server.url, account.raw_key, UPSCALE, {"records": [image_record()]})
    refused(r, 503, "busy", "asynchronous request")
    assert r.headers["Retry-After"] == "5"
    nothing_charged(account)


def test_the_job_shows_in_the_web_app_and_the_admin_like_any_other(live_server, account, web, admin_client):
    request = ximilar.async_client(live_server.url, account.raw_key).submit(
        {"endpoint": "upscale_8x", "records": [{**image_record(), "sku": "D-4"}], "mode": "ironed_out"}, "upscaler"
    )
    page = web.get(f"/jobs/{request.id}")
    assert page.status_code == 200
    assert b"ximilar" in page.content and b"smooth" in page.content
    assert web.get("/jobs").content.count(request.id.encode()) >= 1
    assert admin_client.get(f"/admin/jobs/job/{request.id}/change/").status_code == 200
