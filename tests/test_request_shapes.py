"""Malformed and hostile requests get each surface's own error shape and a clear 4xx, never
a 500 or the web app's HTML: bodies nested too deeply, lone surrogates, webhook headers no
HTTP request can carry, unknown paths and methods, too many fields or files."""

from __future__ import annotations

import base64
import io
import json
import socket

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


# -- 22: unknown paths under each surface's prefix ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/v1/nope", "upsampler"),
        ("/api/v1/jobs/123/nope", "upsampler"),
        ("/api/v1/statusTask/image-upscaler/more", "apixo"),
        ("/v1/services/nope", "maskr"),
        ("/v1/services/image-upscaling/jobs", "maskr"),
        ("/upscaler/2x", "ximilar"),
        ("/account/v2/nope", "ximilar"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_path_under_a_surfaces_prefix_is_a_404_in_its_shape(client, account, path, shape, method):
    r = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 404 and r["Content-Type"] == "application/json", r.content
    body = r.json()
    if shape == "upsampler":
        assert body["status"] == "FAILED" and f"There is no endpoint {method.upper()} {path}" in body["error"]
    elif shape == "apixo":
        assert body["code"] == 404 and body["data"] is None and "APIXO's are" in body["message"]
    elif shape == "maskr":
        assert body == {"detail": "Not Found"}  # FastAPI's words
    else:
        assert body["status"]["code"] == 404 and body["status"]["text"] == "Not Found"
        assert body["statistics"] == {"processing time": 0.0}


def test_the_web_apps_own_paths_keep_its_html_404(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        ("delete", "/api/v1/precise-upscale", "upsampler"),
        ("get", "/api/v1/generateTask/image-upscaler", "apixo"),
        ("put", "/v1/services/image-upscaling", "maskr"),
        ("patch", "/upscaler/2x/upscale", "ximilar"),
    ],
)
def test_a_wrong_method_is_a_405_in_the_surfaces_shape(client, account, method, path, shape):
    r = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 405 and r["Content-Type"] == "application/json", r.content
    key = {"upsampler": "error", "apixo": "message", "maskr": "detail", "ximilar": "status"}[shape]
    assert key in r.json()


# -- 17: what Django refuses before a view, trailing slashes, unknown parameters ---------------------


def many_fields(count: int) -> dict:
    return {f"f{i}": "x" for i in range(count)}


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/v1/precise-upscale", "error"), ("/v1/services/image-upscaling", "detail")],
)
def test_too_many_fields_is_a_400_in_the_surfaces_shape(client, account, settings, path, key):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    upload = io.BytesIO(images.png(24, 20))
    upload.name = "a.png"
    r = client.post(path, {"file": upload, **many_fields(20)}, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 400 and r["Content-Type"] == "application/json", r.content
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in r.json()[key], r.json()
    nothing_charged(account)


def test_too_many_files_is_a_400_in_the_surfaces_shape(client, account, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = []
    for i in range(5):
        f = io.BytesIO(images.png(24, 20))
        f.name = f"{i}.png"
        files.append(f)
    r = client.post("/api/v1/precise-upscale", {"other": files}, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 400 and r.json()["status"] == "FAILED", r.content
    assert "DATA_UPLOAD_MAX_NUMBER_FILES" in r.json()["error"]
    r = client.post("/v1/services/image-upscaling", {"other": files}, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 400 and "DATA_UPLOAD_MAX_NUMBER_FILES" in r.json()["detail"], r.content
    nothing_charged(account)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/v1/services/image-upscaling/?scale_factor=2", "/v1/services/image-upscaling?scale_factor=2"),
        ("/v1/services/image-upscaling/batch/", "/v1/services/image-upscaling/batch"),
    ],
)
def test_a_maskr_path_with_a_trailing_slash_redirects_as_fastapi_does(client, account, path, target):
    r = client.post(path, {}, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 307 and r["Location"] == f"http://testserver{target}", r.content


def test_a_maskr_path_with_a_trailing_slash_that_does_not_exist_is_a_404(client, account):
    r = client.post("/v1/services/image-upscaling/nope/", {}, HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


def test_an_unknown_parameter_of_the_jobs_list_is_a_400(api):
    r = api.get("jobs?foo=1")
    assert r.status_code == 400 and r.json() == {
        "status": "FAILED",
        "error": "Unknown query parameter 'foo': the jobs list takes status, mode, batch, page, pageSize.",
    }
    assert api.get("jobs?status=SUCCESS&page=1&pageSize=5").status_code == 200


# -- 22: APIXO's words -------------------------------------------------------------------------


def test_apixo_names_its_own_fields_in_its_pattern(client, account):
    body = {"request_type": "callback", "callback_url": "ftp://hooks.example/x", "input": {"image_urls": ["x"]}}
    r = client.post(
        "/api/v1/generateTask/image-upscaler",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {account.raw_key}",
    )
    assert r.status_code == 400 and r.json()["message"].startswith("The parameter {{callback_url}} must be "), r.json()


def test_apixo_speaks_of_image_urls_not_image_url(client, account, settings):
    settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS = 0  # every download is refused for want of a slot
    body = {"input": {"image_urls": ["https://example.com/a.png"]}}
    r = client.post(
        "/api/v1/generateTask/image-upscaler",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {account.raw_key}",
    )
    assert r.status_code == 429, r.content
    assert "imageUrl" not in r.json()["message"] and "imageBase64" not in r.json()["message"], r.json()


# -- 17: what the web server refuses itself: long URLs, big headers ----------------------------------


def raw_request(web: str, head: str) -> tuple[int, str, bytes]:
    """Send a request head as it is; (status, content type, body) of the answer."""
    host, port = web.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    content_type = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-type")
        ),
        "",
    )
    return int(status_line.split(b" ")[1]), content_type, body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_long_url_or_big_headers_are_refused_in_the_surfaces_shape(gunicorn_server):
    web = gunicorn_server(WEB_CONCURRENCY="1")
    for path, key in (
        ("/api/v1/jobs", "error"),
        ("/api/v1/statusTask/image-upscaler", "message"),
        ("/v1/services/image-upscaling", "detail"),
        ("/account/v2/request", "status"),
    ):
        status, content_type, body = raw_request(web, f"GET {path}?q={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 414 and content_type == "application/json", body
        assert "The URL is too long" in json.dumps(json.loads(body)[key]), body
        status, content_type, body = raw_request(web, f"GET {path} HTTP/1.1\r\nHost: a\r\nX-Big: {'y' * 9000}\r\n\r\n")
        assert status == 431 and content_type == "application/json", body
        assert "headers are too large" in json.dumps(json.loads(body)[key]), body
    # The web app's pages keep gunicorn's own answer.
    status, content_type, _ = raw_request(web, f"GET /jobs?q={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == 414 and content_type.startswith("text/html")
