"""Malformed requests get the API's JSON error shape ({"status": "FAILED", "error": ...}) at
submit time, never a 500 or an HTML page."""

from __future__ import annotations

import base64

import pytest

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


def assert_json_failure(r, status: int) -> str:
    assert r.status_code == status, r.content[:300]
    assert r["Content-Type"] == "application/json"
    body = r.json()
    assert body["status"] == "FAILED" and set(body) == {"status", "error"}
    return body["error"]


def test_it_refuses_a_deeply_nested_json_body(client, api):
    nested = "[" * 100_000 + "]" * 100_000
    r = client.post(
        "/api/v1/precise-upscale", nested, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}"
    )
    assert "nested too deeply" in assert_json_failure(r, 400)


@pytest.mark.parametrize("kind", ["json", "form"])
def test_it_refuses_a_body_over_the_size_limit_in_json(api, settings, kind):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20
    big = "A" * (3 * 2**20)
    if kind == "json":
        r = api.post("precise-upscale", {"input": {"imageBase64": big}})
    else:
        r = api.post_form("precise-upscale", {"imageBase64": big})
    assert assert_json_failure(r, 413) == "The request body is larger than 2 MB, the largest allowed."
    assert not Job.objects.exists()


def test_a_missing_key_is_a_401_with_www_authenticate(client):
    r = client.get("/api/v1/account")
    assert "Missing API key" in assert_json_failure(r, 401)
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_key_is_a_401_with_www_authenticate(client):
    r = client.get("/api/v1/account", HTTP_AUTHORIZATION="Bearer upk_nope")
    assert assert_json_failure(r, 401) == "Unknown API key."
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "webhook",
    ["https://example.com/a hook", "https://exa mple.com/hook", "ftp://example.com/hook", "https://", "not a url"],
)
def test_a_bad_webhook_url_is_refused_at_submit(api, account, webhook):
    r = api.post(
        "precise-upscale", {"webhook": webhook, "input": {"imageBase64": base64.b64encode(images.png()).decode()}}
    )
    error = assert_json_failure(r, 400)
    assert error.startswith("webhook must be a valid http or https URL"), error
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()


def test_a_webhook_url_with_credentials_is_refused_at_submit(api):
    body = {
        "webhook": "https://user:pw@example.com/hook",
        "input": {"imageBase64": base64.b64encode(images.png()).decode()},
    }
    error = assert_json_failure(api.post("precise-upscale", body), 400)
    assert error == "webhook is not allowed: URLs with credentials are not allowed."
