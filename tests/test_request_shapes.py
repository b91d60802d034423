"""Malformed and hostile requests get each surface's own error shape and a clear 4xx, never
a 500 or the web app's HTML: bodies nested too deeply, lone surrogates, webhook headers no
HTTP request can carry, unknown paths and methods, too many fields or files."""

from __future__ import annotations

import base64
import io
import json

import pytest

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
PNG = base64.b64encode(images.png(24, 20)).decode()


def nothing_charged(account) -> None:
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
    account.refresh_from_db()
    assert account.balance == 100


def ximilar_post(client, account, path: str, raw: str):
    return client.post(path, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Token {account.raw_key}")


def ximilar_refusal(r, code: int) -> str:
    body = r.json()
    assert r.status_code == code and body["status"]["code"] == code, body
    assert body["statistics"] == {"processing time": 0.0}
    return body["status"]["error_description"]


# -- 13: bodies nested too deeply ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/upscaler/2x/upscale", "/account/v2/request"])
def test_a_deeply_nested_body_is_a_400_on_ximilar(client, account, path):
    r = ximilar_post(client, account, path, DEEP)
    assert ximilar_refusal(r, 400) == "The body must be JSON: JSON parse error - the body is nested too deeply."


def test_a_deeply_nested_multipart_input_is_a_400_on_upsampler(api, account):
    upload = io.BytesIO(images.png(24, 20))
    upload.name = "a.png"
    r = api.post_form("precise-upscale", {"image": upload, "input": DEEP})
    assert r.status_code == 400 and r.json() == {
        "status": "FAILED",
        "error": "input must be a JSON object when sent as a form field.",
    }
    nothing_charged(account)


# -- 14: lone surrogates ------------------------------------------------------------------------

SURROGATE_URL = "https://example.com/\ud800hook"  # json.dumps writes it as the escape \ud800


def test_a_lone_surrogate_in_an_upsampler_webhook_is_a_400(client, account):
    raw = json.dumps({"webhook": SURROGATE_URL, "input": {"imageBase64": PNG}})
    assert "\\ud800" in raw
    r = client.post(
        "/api/v1/precise-upscale", raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {account.raw_key}"
    )
    assert r.status_code == 400 and r.json()["status"] == "FAILED", r.content
    assert "lone surrogate" in r.json()["error"]
    nothing_charged(account)


def test_a_lone_surrogate_in_an_upsampler_multipart_input_is_a_400(api, account):
    upload = io.BytesIO(images.png(24, 20))
    upload.name = "a.png"
    r = api.post_form("precise-upscale", {"image": upload, "input": json.dumps({"description": "\ud800"})})
    assert r.status_code == 400 and "lone surrogate" in r.json()["error"], r.content
    nothing_charged(account)


def test_a_lone_surrogate_in_a_ximilar_webhook_is_a_400(client, account):
    raw = json.dumps(
        {
            "type": "upscaler",
            "endpoint": "upscale_2x",
            "records": [{"_base64": PNG}],
            "webhook": {"endpoint": SURROGATE_URL},
        }
    )
    assert "lone surrogate" in ximilar_refusal(ximilar_post(client, account, "/account/v2/request", raw), 400)
    nothing_charged(account)


@pytest.mark.parametrize("where", ["callback_url", "image_urls"])
def test_a_lone_surrogate_in_an_apixo_url_is_a_400_and_nothing_is_stored(client, account, where):
    body: dict = {"request_type": "callback", "callback_url": "https://example.com/cb", "input": {"image_urls": []}}
    if where == "callback_url":
        body["callback_url"] = SURROGATE_URL
        body["input"]["image_urls"] = ["https://example.com/a.png"]
    else:
        body["input"]["image_urls"] = [SURROGATE_URL]
    r = client.post(
        "/api/v1/generateTask/image-upscaler",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {account.raw_key}",
    )
    assert r.status_code == 400 and r.json()["code"] == 400 and r.json()["data"] is None, r.content
    assert "lone surrogate" in r.json()["message"]
    nothing_charged(account)


# -- 15: webhook headers HTTP cannot carry ------------------------------------------------------


@pytest.mark.parametrize("value", ["5€", "…"])
def test_a_ximilar_webhook_header_that_is_not_latin_1_is_refused_at_submit(client, account, value):
    raw = json.dumps(
        {
            "type": "upscaler",
            "endpoint": "upscale_2x",
            "records": [{"_base64": PNG}],
            "webhook": {"endpoint": "https://example.com/hook", "headers": {"X-Shop-Token": value}},
        }
    )
    description = ximilar_refusal(ximilar_post(client, account, "/account/v2/request", raw), 400)
    assert "Latin-1" in description, description
    nothing_charged(account)


def test_a_latin_1_webhook_header_is_taken(client, account):
    raw = json.dumps(
        {
            "type": "upscaler",
            "endpoint": "upscale_2x",
            "records": [{"_base64": PNG}],
            "webhook": {"endpoint": "https://example.com/hook", "headers": {"X-Shop-Token": "café"}},
        }
    )
    r = ximilar_post(client, account, "/account/v2/request", raw)
    assert r.status_code == 200, r.content
    assert Job.objects.get().webhook_headers == {"X-Shop-Token": "café"}
