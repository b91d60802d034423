"""probe_image reads from the header what decode_image would find, without decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference.imageio import CorruptImageError, decode_image, probe_image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: a 30x20 file shows as 20x30
    return exif.tobytes()


def gradient(mode: str = "RGB") -> Image.Image:
    array = np.linspace(0, 255, 30 * 20 * 3).reshape(20, 30, 3).astype(np.uint8)
    return Image.fromarray(array, "RGB").convert(mode)


CASES = {
    "jpeg": lambda: encoded(gradient(), "JPEG"),
    "jpeg rotated": lambda: encoded(gradient(), "JPEG", exif=rotated_exif()),
    "png rotated": lambda: encoded(gradient(), "PNG", exif=rotated_exif()),
    "png alpha": lambda: encoded(gradient("RGBA"), "PNG"),
    "png grey 16": lambda: encoded(Image.fromarray(np.full((20, 30), 40000, np.uint16)), "PNG"),
    "webp alpha": lambda: encoded(gradient("RGBA"), "WEBP", lossless=True),
}


@pytest.mark.parametrize("name", CASES)
def test_it_agrees_with_a_full_decode(name):
    data = CASES[name]()
    probed, decoded = probe_image(data), decode_image(data)
    assert (probed.width, probed.height, probed.format) == (decoded.width, decoded.height, decoded.format)
    assert (probed.has_alpha, probed.bit_depth) == (decoded.has_alpha, decoded.bit_depth)
    if "rotated" in name:
        assert (probed.width, probed.height) == (20, 30)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_it_finds_a_truncated_file(fmt):
    data = encoded(gradient(), fmt)
    with pytest.raises(CorruptImageError, match="truncated or corrupt"):
        probe_image(data[: len(data) * 2 // 3])
