"""What the web tier refuses from a request's first bytes, before it spends memory, disk or a
worker on it: WebP bombs read from their header and never decoded, multipart bodies over
the limit refused from their Content-Length."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from billing.models import Account, ApiKey, LedgerEntry
from jobs.models import Job
from tests import images
from tests.test_maskr_upload_limits import MB, stream_upload

pytestmark = pytest.mark.django_db


def webp_bomb(side: int = 7000) -> bytes:
    """The issue's attack: a lossless WebP of side x side black pixels in a few dozen bytes
    (49 MP at 7000: 757 MB and 1.6 s a request when the web tier decoded it)."""
    out = io.BytesIO()
    Image.new("RGB", (side, side)).save(out, "WEBP", lossless=True, quality=0, method=0)
    return out.getvalue()


@pytest.fixture
def bomb() -> bytes:
    return webp_bomb()


@pytest.fixture
def nothing_decodes(bomb, monkeypatch):
    """From here on, opening or decoding an image with Pillow in this process fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the web tier opened or decoded an image")

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


@pytest.fixture
def broke(db) -> Account:
    """A key with no credits: the issue's attacker."""
    account = Account.objects.create(name="broke")
    _, account.raw_key = ApiKey.issue(account)
    return account


def test_a_webp_bomb_is_priced_from_its_header_on_the_upsampler_api(api, broke, bomb, nothing_decodes):
    assert len(bomb) < 100
    r = api.as_key(broke.raw_key).post("precise-upscale", {"input": {"imageBase64": base64.b64encode(bomb).decode()}})
    # 7000x7000 at 4x is over the 80 MP output cap: refused from the header, with the factor that fits.
    assert r.status_code == 400 and "7000x7000 image is 1.27" in r.json()["error"], r.json()
    r = api.as_key(broke.raw_key).post(
        "restore", {"input": {"imageBase64": base64.b64encode(bomb).decode()}}
    )  # fits: then the balance refuses it
    assert r.status_code == 403 and "Insufficient credits" in r.json()["error"], r.json()
    assert not Job.objects.exists()


def test_a_webp_bomb_over_the_pixel_cap_is_refused_from_its_header(api, account, monkeypatch):
    data = webp_bomb(8000)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("opened"))
    r = api.post("restore", {"input": {"imageBase64": base64.b64encode(data).decode()}})
    assert r.status_code == 400 and "8000x8000 pixels (64.0 MP); send one of at most 50 MP" in r.json()["error"]
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()


def test_a_maskr_batch_of_webp_bombs_is_refused_without_decoding(client, broke, monkeypatch):
    small = webp_bomb(4000)  # 16 MP: 2x fits the output cap, so each is priced, then refused for credits
    forbid = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: forbid.append("open"))
    monkeypatch.setattr(Image.Image, "load", lambda *a, **k: forbid.append("load"))
    files = [io.BytesIO(small) for _ in range(10)]
    for i, f in enumerate(files):
        f.name = f"bomb{i}.webp"
    r = client.post(
        "/v1/services/image-upscaling/batch?scale_factor=2",
        {"files": files},
        HTTP_AUTHORIZATION=f"Bearer {broke.raw_key}",
    )
    assert r.status_code == 402 and r.json() == {"detail": "Insufficient credits"}, r.content
    assert forbid == []


def test_a_webp_bomb_on_ximilar_is_read_from_its_header(client, broke, bomb, nothing_decodes):
    r = client.post(
        "/upscaler/2x/upscale",
        {"records": [{"_base64": base64.b64encode(bomb).decode()}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {broke.raw_key}",
    )
    assert r.status_code == 400 and "for this 7000x7000 image" in r.json()["status"]["error_description"], r.content


def test_the_playground_quote_reads_a_webp_bomb_from_its_header(web, bomb, nothing_decodes):
    upload = io.BytesIO(bomb)
    upload.name = "bomb.webp"
    r = web.post("/playground/quote", {"image": upload, "mode": "restore"})
    assert r.status_code == 200, r.content
    assert (r.json()["width"], r.json()["height"], r.json()["format"]) == (7000, 7000, "WEBP")


def test_a_thumbnail_of_a_large_png_input_is_not_decoded_on_the_web_tier(web, account, settings, monkeypatch):
    settings.THUMBNAIL_MAX_DECODE_PIXELS = 100 * 100
    r = web.post("/playground", {"image": _named(images.png(120, 100), "a.png"), "mode": "restore"})
    assert r.status_code == 302, r.content
    job = Job.objects.get()
    monkeypatch.setattr(Image.Image, "load", lambda *a, **k: pytest.fail("decoded"))
    r = web.get(f"/jobs/{job.pk}/thumbnail/input")
    assert r.status_code == 404


def _named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


# -- multipart bodies refused from their Content-Length --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_upsampler_multipart_body_over_the_limit_is_a_413_before_it_is_read(live_server, account):
    status, body, sent = stream_upload(live_server.url, account.raw_key, "/api/v1/precise-upscale", "image", 101 * MB)
    assert status == 413, body
    assert body == {"status": "FAILED", "error": "The request body is larger than 100 MB, the largest allowed."}
    assert sent < 8 * MB, sent  # what the socket buffers took before the answer came
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_upsampler_multipart_file_over_the_image_limit_stops_being_read(live_server, account, settings):
    settings.MAX_INPUT_BYTES = MB
    status, body, sent = stream_upload(live_server.url, account.raw_key, "/api/v1/precise-upscale", "image", 20 * MB)
    assert status == 400 and body == {
        "status": "FAILED",
        "error": "The image is larger than 1 MB, the largest allowed.",
    }
    assert sent < 12 * MB, sent
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/playground", "/playground/quote"])
def test_a_playground_body_over_the_limit_is_a_413_before_it_is_read(live_server, account, path):
    """Anyone can send it (the refusal comes before the sign-in and CSRF checks, which would
    read the body)."""
    status, body, sent = stream_upload(live_server.url, "", path, "image", 51 * MB, parse=path.endswith("quote"))
    assert status == 413, body
    message = "The image is larger than 50 MB, the largest allowed."
    assert body == {"error": message} if path.endswith("quote") else message in body
    assert sent < 8 * MB, sent


# -- outputs that cannot be encoded are refused at submit ----------------------------------------


def long_png(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_an_output_the_compressed_jpeg_cannot_hold_is_refused_at_submit(api, account):
    """The issue's case: a 1x66000 PNG ran 200 s of inference, then failed on the JPEG side
    limit (65535) of its compressed copy. Every job gets that copy, whatever its format."""
    for mode, fields in (("restore", {}), ("precise-upscale", {"upscaleFactor": 1, "outputFormat": "png"})):
        r = api.post(mode, {"input": {"imageBase64": long_png(1, 66000), **fields}})
        assert r.status_code == 400, r.json()
        assert r.json()["error"] == (
            "The output would be 1x66000, and JPEG images (every job's compressed copy is one) can be at most "
            "65535 pixels on a side: the image itself is too long for any factor."
        )
    r = api.post("precise-upscale", {"input": {"imageBase64": long_png(2, 40000), "upscaleFactor": 2}})
    assert r.status_code == 400 and r.json()["error"] == (
        "The output would be 4x80000, and JPEG images (every job's compressed copy is one) can be at most "
        "65535 pixels on a side: choose a smaller upscaleFactor."
    )
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
    # Within the limit it is taken.
    r = api.post("precise-upscale", {"input": {"imageBase64": long_png(2, 30000), "upscaleFactor": 2}})
    assert r.status_code == 200, r.json()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/", "/password-reset"])
def test_a_form_page_takes_no_multipart_body_over_the_limit(live_server, path):
    """The sign-in page is open to anyone, and the CSRF check reads a form body before any
    view: a multipart body claiming more than DATA_UPLOAD_MAX_MEMORY_SIZE is refused unread."""
    status, body, sent = stream_upload(live_server.url, "", path, "avatar", 101 * MB, parse=False)
    assert status == 413 and "larger than 100 MB" in body, body
    assert sent < 8 * MB, sent
