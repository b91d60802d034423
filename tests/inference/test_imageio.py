"""Decoding client images (formats, orientation, 16-bit, errors) and encoding results."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from inference.imageio import (
    PIXELS16_KEY,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    UnsupportedImageError,
    _write_png16,
    decode_image,
    encode_jpeg,
    encode_png,
)
from tests.inference.synthetic import encode, photo

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_decodes_jpeg_png_and_webp_by_content(fmt):
    decoded = decode_image(encode(photo(12, 20), fmt))
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == (20, 12)
    assert decoded.image.size == (20, 12)
    assert decoded.bit_depth == 8 and not decoded.has_alpha and decoded.mode == "RGB"


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF"), ("ICO", "ICO")])
def test_it_refuses_other_formats_naming_what_it_found(fmt, name):
    with pytest.raises(UnsupportedImageError) as caught:
        decode_image(encode(photo(16, 16), fmt))
    assert str(caught.value) == f"The image is not a JPEG, PNG or WebP file (detected: {name})."


def test_it_refuses_text_and_random_bytes_as_unsupported():
    with pytest.raises(UnsupportedImageError, match=r"detected: HTML"):
        decode_image(b"<!DOCTYPE html><html></html>")
    with pytest.raises(UnsupportedImageError, match=r"detected: unknown format"):
        decode_image(bytes(range(256)) * 4)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_refuses_truncated_files_as_corrupt(fmt):
    data = encode(photo(64, 64), fmt)
    with pytest.raises(CorruptImageError, match=r"^The image file is truncated or corrupt"):
        decode_image(data[: len(data) * 2 // 3])


def test_it_refuses_an_empty_file_and_a_broken_header():
    with pytest.raises(CorruptImageError, match="empty"):
        decode_image(b"")
    png = encode(photo(8, 8), "PNG")
    with pytest.raises(CorruptImageError):
        decode_image(png[:20])


def test_image_errors_are_value_errors_with_one_sentence():
    assert issubclass(ImageError, ValueError)
    for error in (UnsupportedImageError, CorruptImageError, ImageTooLargeError):
        assert issubclass(error, ImageError)


def test_it_enforces_the_pixel_cap_before_decoding():
    with pytest.raises(ImageTooLargeError, match=r"40x30 pixels .* at most 0.001 MP"):
        decode_image(encode(photo(30, 40), "PNG"), max_pixels=1000)
    assert decode_image(encode(photo(30, 40), "PNG"), max_pixels=1200).width == 40


def test_it_refuses_a_decompression_bomb_header():
    # A valid PNG header claiming 100000 x 100000 pixels with almost no data.
    import struct

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    with pytest.raises(ImageTooLargeError):
        decode_image(bomb)


def _quadrants() -> Image.Image:
    """6 x 4 image, each quadrant a different colour, so any rotation/flip is visible."""
    array = np.zeros((4, 6, 3), dtype=np.uint8)
    array[:2, :3] = (255, 0, 0)
    array[:2, 3:] = (0, 255, 0)
    array[2:, :3] = (0, 0, 255)
    array[2:, 3:] = (255, 255, 0)
    return Image.fromarray(array)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_it_applies_the_exif_orientation(orientation):
    from PIL import ImageOps

    image = _quadrants()
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(encode(image, "PNG", exif=exif.tobytes()))
    reference = image.copy()
    reference.getexif()[0x0112] = orientation
    expected = ImageOps.exif_transpose(reference)
    assert decoded.orientation == orientation
    assert (decoded.width, decoded.height) == expected.size
    assert np.array_equal(np.asarray(decoded.image), np.asarray(expected.convert("RGB")))


def test_it_keeps_the_icc_profile():
    decoded = decode_image(encode(photo(8, 8), "JPEG", icc_profile=SRGB))
    assert decoded.icc_profile == SRGB
    assert decode_image(encode(photo(8, 8), "PNG")).icc_profile is None


@pytest.mark.parametrize(
    ("mode", "has_alpha"),
    [("RGBA", True), ("LA", True), ("L", False), ("P", False), ("1", False)],
)
def test_it_reports_alpha_and_mode(mode, has_alpha):
    image = Image.fromarray(photo(8, 8)).convert(mode)
    decoded = decode_image(encode(image, "PNG"))
    assert decoded.mode == mode
    assert decoded.has_alpha is has_alpha


def test_it_sees_the_alpha_of_a_palette_with_transparency():
    image = Image.fromarray(photo(8, 8)).convert("P")
    decoded = decode_image(encode(image, "PNG", transparency=0))
    assert decoded.mode == "P" and decoded.has_alpha


def test_it_converts_cmyk_jpegs_to_rgb():
    decoded = decode_image(encode(Image.fromarray(photo(8, 8)).convert("CMYK"), "JPEG"))
    assert decoded.mode == "CMYK" and decoded.image.mode == "RGB"


def _ramp16(height: int, width: int, channels: int) -> np.ndarray:
    """16-bit samples that use the low byte: a different value in every sample."""
    values = np.arange(height * width * channels, dtype=np.uint32) * 977 + 12345
    return (values % 65536).astype(np.uint16).reshape(height, width, channels)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_it_decodes_every_sample_of_a_16_bit_png(channels):
    samples = _ramp16(9, 11, channels)
    decoded = decode_image(_write_png16(samples, None))
    assert decoded.bit_depth == 16
    assert decoded.has_alpha is (channels in (2, 4))
    assert np.array_equal(decoded.pixels16, samples)


def test_it_decodes_pillows_own_16_bit_grey_png():
    grey = _ramp16(5, 7, 1)[..., 0]
    decoded = decode_image(encode(Image.fromarray(grey), "PNG"))
    assert decoded.bit_depth == 16 and decoded.image.mode == "I;16"
    assert np.array_equal(decoded.pixels16[..., 0], grey)


def test_it_orients_16_bit_samples_like_the_image():
    samples = _ramp16(4, 6, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise
    png = _write_png16(samples, None)
    # Insert an eXIf chunk after IHDR (8 + 25 bytes).
    payload = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif") else exif.tobytes()
    chunk = len(payload).to_bytes(4, "big") + b"eXIf" + payload
    chunk += (zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF).to_bytes(4, "big")
    decoded = decode_image(png[:33] + chunk + png[33:])
    assert (decoded.width, decoded.height) == (4, 6)
    assert np.array_equal(decoded.pixels16, np.rot90(samples, -1))


def test_it_encodes_16_bit_samples_as_a_16_bit_png_with_the_profile():
    samples = _ramp16(6, 5, 3)
    image = Image.new("RGB", (5, 6))
    image.info[PIXELS16_KEY] = samples
    data = encode_png(image, SRGB)
    assert data[24] == 16  # IHDR bit depth
    decoded = decode_image(data)
    assert np.array_equal(decoded.pixels16, samples)
    assert decoded.icc_profile == SRGB


def test_it_ignores_16_bit_samples_that_no_longer_match_the_image():
    image = Image.new("RGB", (5, 6))
    image.info[PIXELS16_KEY] = _ramp16(6, 5, 3)
    resized = image.resize((10, 12))
    assert encode_png(resized)[24] == 8


def test_it_encodes_png_losslessly_with_the_profile():
    array = photo(7, 9)
    data = encode_png(Image.fromarray(array), SRGB)
    decoded = decode_image(data)
    assert decoded.icc_profile == SRGB
    assert np.array_equal(np.asarray(decoded.image), array)


def test_it_flattens_alpha_onto_white_for_jpeg():
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, 8:, 3] = 255  # right half opaque red-ish, left half fully transparent
    data = encode_jpeg(Image.fromarray(rgba), SRGB, quality=95)
    decoded = decode_image(data)
    assert decoded.format == "JPEG" and decoded.image.mode == "RGB"
    assert decoded.icc_profile == SRGB
    pixels = np.asarray(decoded.image).astype(int)
    assert (pixels[:, :4] > 245).all()  # white where transparent
    assert abs(pixels[:, 12:, 0].mean() - 200) < 6 and pixels[:, 12:, 1].mean() < 10


def test_it_reduces_16_bit_to_8_bit_for_jpeg():
    grey = np.full((8, 8), 65535 // 2, dtype=np.uint16)
    decoded = decode_image(encode_jpeg(Image.fromarray(grey)))
    assert decoded.image.mode == "L"
    assert abs(np.asarray(decoded.image).astype(int).mean() - 128) <= 2
    image = Image.new("RGBA", (8, 8))
    samples = np.zeros((8, 8, 4), dtype=np.uint16)
    samples[..., 1] = 65535
    samples[..., 3] = 65535
    image.info[PIXELS16_KEY] = samples
    pixels = np.asarray(decode_image(encode_jpeg(image)).image).astype(int)
    assert pixels[..., 1].min() > 245 and pixels[..., 0].max() < 10


def _interlaced_png16(samples: np.ndarray) -> bytes:
    """An Adam7-interlaced 16-bit PNG (Pillow cannot write one)."""
    import struct

    from inference.imageio import _png_chunk

    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.size:
            rows = sub.astype(">u2").view(np.uint8).reshape(sub.shape[0], -1)
            raw += np.hstack([np.zeros((sub.shape[0], 1), np.uint8), rows]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_it_decodes_interlaced_16_bit_pngs_too(channels):
    samples = _ramp16(13, 11, channels)
    decoded = decode_image(_interlaced_png16(samples))
    assert np.array_equal(decoded.pixels16, samples)
