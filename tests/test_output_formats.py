"""outputFormat and outputQuality, end to end with a real worker: the file's real format and
size, alpha kept in png and webp and flattened in jpg, 16-bit kept in png, quality changes
the file, and compressedImageUrl always a JPEG."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images
from tests.flows import Client, download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def rgba_png(width: int = 24, height: int = 20) -> bytes:
    image = images.pattern(width, height).convert("RGBA")
    alpha = np.zeros((height, width), dtype=np.uint8)
    alpha[:, width // 2 :] = 255  # left half transparent
    image.putalpha(Image.fromarray(alpha, "L"))
    return images.encode(image, "PNG")


def png16(width: int = 24, height: int = 20) -> bytes:
    ramp = (np.arange(width * height * 3, dtype=np.uint32).reshape(height, width, 3) * 211 % 65536).astype(np.uint16)
    from inference.imageio import _write_png16

    return _write_png16(ramp, None)


def run(client: Client, fields: dict, data: bytes) -> tuple[dict, Image.Image, bytes]:
    r = client.submit("precise-upscale", {"input": {"imageBase64": b64(data), "upscaleFactor": 2, **fields}})
    assert r.status_code == 200, r.text
    final, _ = client.wait(r.json()["id"])
    assert final["status"] == "SUCCESS", final
    image, raw = download_image(final["imageUrl"])
    compressed, _ = download_image(final["compressedImageUrl"])
    assert compressed.format == "JPEG" and compressed.size == image.size
    return final, image, raw


def test_each_format_is_what_it_says(celery_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    cases = [
        ({}, "PNG", ".png"),
        ({"outputFormat": "png"}, "PNG", ".png"),
        ({"outputFormat": "jpg"}, "JPEG", ".jpg"),
        ({"outputFormat": "jpeg", "outputQuality": 60}, "JPEG", ".jpg"),
        ({"outputFormat": "webp"}, "WEBP", ".webp"),
    ]
    for fields, fmt, extension in cases:
        final, image, _ = run(client, fields, images.png(24, 20))
        assert image.format == fmt and image.size == (48, 40), (fields, image.format)
        assert extension in final["imageUrl"].split("?")[0]
        assert final["outputFormat"] == fmt.lower().replace("jpeg", "jpg")
    account.refresh_from_db()
    assert account.balance == 100 - len(cases) == account.ledger_sum()
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_alpha_survives_png_and_webp_and_jpg_flattens_it(celery_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    for fmt in ("png", "webp"):
        _, image, _ = run(client, {"outputFormat": fmt}, rgba_png())
        assert image.mode == "RGBA", (fmt, image.mode)
        alpha = np.asarray(image.getchannel("A"))
        assert alpha[:, :8].max() < 40 and alpha[:, -8:].min() > 215, fmt
    _, image, _ = run(client, {"outputFormat": "jpg"}, rgba_png())
    assert image.mode == "RGB"
    # Transparent pixels are flattened onto white.
    assert np.asarray(image)[:, :8].mean() > 200


def test_16_bit_inputs_keep_16_bits_in_png(celery_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    _, image, raw = run(client, {"outputFormat": "png"}, png16())
    assert raw[24] == 16, "IHDR bit depth"  # byte 24 of a PNG is its bit depth
    _, image, raw = run(client, {"outputFormat": "webp"}, png16())
    assert image.format == "WEBP" and image.mode == "RGB"


def test_quality_changes_the_file(celery_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    photo = images.png(96, 80)
    for fmt in ("jpg", "webp"):
        sizes = {}
        for quality in (10, 95):
            _, image, raw = run(client, {"outputFormat": fmt, "outputQuality": quality}, photo)
            assert image.size == (192, 160)
            sizes[quality] = len(raw)
        assert sizes[10] < sizes[95] * 0.6, (fmt, sizes)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"outputFormat": "gif"}, 'outputFormat must be one of png, jpg, jpeg, webp (got "gif").'),
        ({"outputFormat": "jpg", "outputQuality": 0}, "outputQuality must be a whole number from 1 to 100 (got 0)."),
        ({"outputQuality": 101}, "outputQuality must be a whole number from 1 to 100 (got 101)."),
        ({"outputQuality": 50.5}, "outputQuality must be a whole number from 1 to 100 (got 50.5)."),
    ],
)
def test_a_bad_format_or_quality_is_a_400_naming_the_field(api, account, fields, message):
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png()), **fields}})
    assert r.status_code == 400 and r.json() == {"status": "FAILED", "error": message}
    assert not Job.objects.exists()
    account.refresh_from_db()
    assert account.balance == 100


def test_webp_refuses_an_output_wider_than_it_can_hold(api, settings):
    settings.MAX_OUTPUT_PIXELS = 10**9
    wide = images.encode(Image.new("RGB", (2000, 10)), "PNG")
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(wide), "upscaleFactor": 10, "outputFormat": "webp"}})
    assert r.status_code == 400
    assert "webp images can be at most 16383 pixels on a side" in r.json()["error"]


def test_the_status_payload_names_the_surface_and_format(api):
    r = api.post("precise-upscale", {"input": {"imageBase64": b64(images.png()), "outputFormat": "webp"}})
    status = api.get(f"status/{r.json()['id']}").json()
    assert status["surface"] == "upsampler" and status["outputFormat"] == "webp"
    image = Image.open(io.BytesIO(images.png()))
    assert (status["outputWidth"], status["outputHeight"]) == (image.width * 4, image.height * 4)
