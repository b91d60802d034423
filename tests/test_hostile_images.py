"""A corpus of hostile images: each gets a clear 400 or a correct result, and never a
charge without a job."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 30000) -> bytes:
    """A 1-bit 30000x30000 PNG: ~100 KB on the wire, 900 MP (2.7 GB as RGB) decoded."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def gif() -> bytes:
    return images.encode(images.pattern(), "GIF")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def png16() -> bytes:
    data = (np.arange(24 * 20 * 3, dtype=np.uint32).reshape(20, 24, 3) * 97 % 65536).astype(np.uint16)
    grey = Image.fromarray(np.ascontiguousarray(data[..., 0]))  # uint16 -> I;16
    return images.encode(grey, "PNG")


def cmyk_jpeg() -> bytes:
    return images.encode(images.pattern().convert("CMYK"), "JPEG", quality=90)


def huge_exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "A" * 60000  # ImageDescription: a 60 KB EXIF block
    exif[0x0112] = 6
    return images.encode(images.pattern(), "JPEG", exif=exif.tobytes())


CORPUS = {
    # name: (bytes factory, expected status, a phrase the error must contain)
    "truncated png": (lambda: images.png(64, 64)[:200], 400, "truncated or corrupt"),
    "truncated jpeg": (lambda: images.jpeg(64, 64)[:300], 400, "truncated or corrupt"),
    "zero bytes": (lambda: b"", 400, "imageBase64 is empty"),
    "png bomb": (png_bomb, 400, "too many pixels"),
    "gif named png": (gif, 400, "GIF"),
    "svg": (lambda: SVG, 400, "JPEG, PNG or WebP"),
    "random bytes": (lambda: bytes(range(256)) * 10, 400, "JPEG, PNG or WebP"),
    "16-bit png": (png16, 200, None),
    "cmyk jpeg": (cmyk_jpeg, 200, None),
    "huge exif": (huge_exif_jpeg, 200, None),
}


@pytest.mark.parametrize("name", CORPUS)
def test_each_hostile_image_is_refused_clearly_or_handled(api, account, name):
    factory, expected, phrase = CORPUS[name]
    payload = {"input": {"imageBase64": base64.b64encode(factory()).decode(), "upscaleFactor": 2}}
    r = api.post("precise-upscale", payload)
    assert r.status_code == expected, r.json()
    account.refresh_from_db()
    if expected == 400:
        assert phrase.lower() in r.json()["error"].lower(), r.json()
        assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
        assert account.balance == 100
    else:
        job = Job.objects.get(pk=r.json()["id"])
        assert account.balance == 100 - job.credit_cost == account.ledger_sum()


def test_exif_orientation_sets_the_billed_size(api):
    r = api.post(
        "precise-upscale", {"input": {"imageBase64": base64.b64encode(huge_exif_jpeg()).decode(), "upscaleFactor": 2}}
    )
    job = Job.objects.get(pk=r.json()["id"])
    # Orientation 6 rotates the 24x20 image to 20x24.
    assert (job.input_width, job.input_height, job.output_width, job.output_height) == (20, 24, 40, 48)


def test_the_bomb_is_refused_without_decoding_it(api):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    api.post("precise-upscale", {"input": {"imageBase64": base64.b64encode(png_bomb()).decode()}})
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


def test_webp_is_accepted(api):
    r = api.post(
        "precise-upscale",
        {"input": {"imageBase64": base64.b64encode(images.encode(images.pattern(), "WEBP")).decode()}},
    )
    assert r.status_code == 200
    assert Job.objects.get(pk=r.json()["id"]).input_format == "WEBP"


def test_multipart_uploads_over_the_cap_are_refused(api, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAX_INPUT_BYTES = 100
    upload = SimpleUploadedFile("a.png", images.png(), content_type="image/png")
    r = api.post_form("precise-upscale", {"image": upload})
    assert r.status_code == 400 and "larger than" in r.json()["error"]


def png16_rgb(side: int) -> bytes:
    """A side x side 16-bit RGB PNG of one colour: a few hundred KB, 6 bytes a pixel decoded."""
    row = b"\x00" + b"\x12\x34" * 3 * side
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def test_an_over_size_output_is_refused_from_the_header_without_decoding(api, account, monkeypatch):
    from PIL import ImageFile

    def no_decoding(self):
        raise AssertionError(f"the web tier decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = png16_rgb(7000)
    assert len(data) < 1_000_000
    r = api.post("precise-upscale", {"input": {"imageBase64": base64.b64encode(data).decode(), "upscaleFactor": 16}})
    assert r.status_code == 400, r.json()
    error = r.json()["error"]
    assert "112000x112000" in error and "largest upscaleFactor allowed for this 7000x7000 image is 1.27" in error
    account.refresh_from_db()
    assert account.balance == 100 and not Job.objects.exists()
