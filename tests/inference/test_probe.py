"""probe_image reads from the header what decode_image would find, without decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference.imageio import CorruptImageError, ImageTooLargeError, decode_image, probe_image


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


def translucent() -> Image.Image:
    image = gradient("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    return image


CASES = {
    "jpeg": lambda: encoded(gradient(), "JPEG"),
    "jpeg rotated": lambda: encoded(gradient(), "JPEG", exif=rotated_exif()),
    "png rotated": lambda: encoded(gradient(), "PNG", exif=rotated_exif()),
    "png alpha": lambda: encoded(gradient("RGBA"), "PNG"),
    "png grey 16": lambda: encoded(Image.fromarray(np.full((20, 30), 40000, np.uint16)), "PNG"),
    "webp alpha": lambda: encoded(gradient("RGBA"), "WEBP", lossless=True),
    "webp lossless": lambda: encoded(gradient(), "WEBP", lossless=True),
    "webp lossy": lambda: encoded(gradient(), "WEBP", quality=80),
    "webp lossy alpha": lambda: encoded(translucent(), "WEBP", quality=80),  # VP8X + ALPH + VP8
    "webp rotated": lambda: encoded(gradient(), "WEBP", exif=rotated_exif()),
    "webp animated": lambda: encoded(
        gradient(), "WEBP", save_all=True, append_images=[gradient().rotate(180)], duration=100
    ),
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


def webp_bomb(side: int) -> bytes:
    """The issue's bomb: a lossless WebP of side x side black pixels, a few dozen bytes."""
    return encoded(Image.new("RGB", (side, side)), "WEBP", lossless=True, quality=0, method=0)


def forbid_decoding(monkeypatch) -> None:
    """From now on the test fails if Pillow opens or decodes an image."""

    def refuse(*args, **kwargs):
        raise AssertionError("the image was opened or decoded")

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


def test_a_webp_bomb_is_probed_from_its_header_without_decoding(monkeypatch):
    data = webp_bomb(7000)
    assert len(data) < 200
    forbid_decoding(monkeypatch)
    info = probe_image(data)
    assert (info.width, info.height, info.format, info.has_alpha) == (7000, 7000, "WEBP", False)


def test_an_oversized_webp_is_refused_from_its_header():
    data = webp_bomb(8000)  # 64 MP, over the 50 MP default
    with pytest.raises(ImageTooLargeError, match="8000x8000"):
        probe_image(data)
    with pytest.raises(ImageTooLargeError, match="8000x8000"):
        decode_image(data)  # the worker too refuses it before libwebp allocates the canvas


@pytest.mark.parametrize("lossless", [True, False])
def test_it_finds_a_truncated_webp(lossless):
    data = encoded(gradient(), "WEBP", lossless=lossless)
    with pytest.raises(CorruptImageError, match="truncated or corrupt"):
        probe_image(data[: len(data) * 2 // 3])


def test_a_webp_whose_bitstream_disagrees_with_its_canvas_is_refused():
    data = bytearray(encoded(translucent(), "WEBP", quality=80))  # VP8X + ALPH + VP8
    assert data[12:16] == b"VP8X"
    data[24:27] = (999).to_bytes(3, "little")  # canvas width 1000
    with pytest.raises(CorruptImageError, match="canvas"):
        probe_image(bytes(data))
