"""Every kind of client image through upscale(): alpha, grey, palettes, 16-bit, EXIF, ICC.

The tiny model is an exact nearest-neighbour 4x upscaler, so the expected output of a
precise 4x is known to the sample: ``repeat4`` of the (oriented) input.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from inference.api import UpscaleParams, upscale
from inference.imageio import (
    PIXELS16_KEY,
    CorruptImageError,
    UnsupportedImageError,
    _write_png16,
    decode_image,
    encode_jpeg,
    encode_png,
)
from tests.inference.synthetic import encode, photo

PRECISE_4X = UpscaleParams(mode="precise", scale=4)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def repeat4(array: np.ndarray) -> np.ndarray:
    return array.repeat(4, axis=0).repeat(4, axis=1)


def alpha_pattern(height: int, width: int) -> np.ndarray:
    alpha = np.zeros((height, width), dtype=np.uint8)
    alpha[:, width // 2 :] = 255
    alpha[height // 3, :] = np.linspace(0, 255, width).astype(np.uint8)
    return alpha


def test_it_upscales_the_alpha_channel_too(tiny_models):
    rgba = np.dstack([photo(9, 12), alpha_pattern(9, 12)])
    result = upscale(encode(rgba), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == "RGBA"
    assert np.array_equal(np.asarray(result.image), repeat4(rgba))


@pytest.mark.slow
def test_it_keeps_transparency_with_the_real_model(shared_models):
    rgba = np.dstack([photo(16, 16), alpha_pattern(16, 16)])
    result = upscale(encode(rgba), PRECISE_4X, model_dir=shared_models)
    alpha = np.asarray(result.image)[..., 3].astype(int)
    assert result.image.mode == "RGBA" and result.image.size == (64, 64)
    alpha = np.delete(alpha, range(14, 30), axis=0)  # the rows around the gradient line
    assert alpha[:, :24].max() <= 8 and alpha[:, 40:].min() >= 247
    assert alpha[:, 24:40].std() > 50  # the edge is still an edge


def test_it_keeps_a_fully_opaque_alpha_without_running_it(tiny_models):
    rgba = np.dstack([photo(8, 8), np.full((8, 8), 255, np.uint8)])
    steps = []
    result = upscale(encode(rgba), PRECISE_4X, model_dir=tiny_models, progress=steps.append)
    assert result.image.mode == "RGBA"
    assert (np.asarray(result.image)[..., 3] == 255).all()
    assert steps[-1] == 1.0


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_it_keeps_grey_images_grey(tiny_models, mode):
    image = Image.fromarray(photo(8, 10)).convert("L")
    if mode == "LA":
        image.putalpha(Image.fromarray(alpha_pattern(8, 10)))
    result = upscale(encode(image), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == mode
    assert np.array_equal(np.asarray(result.image), repeat4(np.asarray(image)))


def test_it_expands_palettes_keeping_their_transparency(tiny_models):
    image = Image.fromarray(photo(8, 8)).convert("P")
    result = upscale(encode(image), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == "RGB"
    assert np.array_equal(np.asarray(result.image), repeat4(np.asarray(image.convert("RGB"))))
    transparent = upscale(encode(image, transparency=0), PRECISE_4X, model_dir=tiny_models)
    assert transparent.image.mode == "RGBA"
    expected = np.asarray(decode_image(encode(image, transparency=0)).image.convert("RGBA"))
    assert np.array_equal(np.asarray(transparent.image), repeat4(expected))


def test_it_keeps_16_bit_grey_at_16_bits(tiny_models):
    grey = (np.arange(8 * 12, dtype=np.uint32).reshape(8, 12) * 601 + 7).astype(np.uint16)
    result = upscale(encode(Image.fromarray(grey)), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == "I;16"
    assert np.array_equal(np.asarray(result.image), repeat4(grey))
    png = encode_png(result.image)
    assert png[24] == 16 and np.array_equal(decode_image(png).pixels16[..., 0], repeat4(grey))


@pytest.mark.parametrize("channels", [3, 4, 2])
def test_it_keeps_16_bit_colour_at_16_bits(tiny_models, channels):
    rng = np.random.default_rng(channels)
    samples = rng.integers(0, 65536, (6, 7, channels), dtype=np.uint16)
    result = upscale(_write_png16(samples, SRGB), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == {2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    assert np.array_equal(result.image.info[PIXELS16_KEY], repeat4(samples))
    png = encode_png(result.image, result.icc_profile)
    decoded = decode_image(png)
    assert png[24] == 16 and decoded.icc_profile == SRGB
    assert np.array_equal(decoded.pixels16, repeat4(samples))
    jpeg = decode_image(encode_jpeg(result.image, result.icc_profile))
    assert jpeg.bit_depth == 8 and (jpeg.width, jpeg.height) == (28, 24)


def test_it_applies_exif_rotation_before_upscaling(tiny_models):
    image = photo(6, 10)  # 10 wide, 6 high
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: displayed turned 90 degrees clockwise
    result = upscale(encode(image, "PNG", exif=exif.tobytes()), PRECISE_4X, model_dir=tiny_models)
    assert result.image.size == (24, 40)
    assert np.array_equal(np.asarray(result.image), repeat4(np.rot90(image, -1)))


def test_it_carries_the_icc_profile_to_the_output(tiny_models):
    result = upscale(encode(photo(8, 8), "JPEG", icc_profile=SRGB), PRECISE_4X, model_dir=tiny_models)
    assert result.icc_profile == SRGB
    assert decode_image(encode_png(result.image, result.icc_profile)).icc_profile == SRGB
    assert decode_image(encode_jpeg(result.image, result.icc_profile)).icc_profile == SRGB


def test_it_turns_cmyk_into_rgb(tiny_models):
    cmyk = Image.fromarray(photo(8, 8)).convert("CMYK")
    result = upscale(encode(cmyk, "JPEG"), PRECISE_4X, model_dir=tiny_models)
    assert result.image.mode == "RGB" and result.image.size == (32, 32)


def test_it_raises_typed_errors_for_bad_files(tiny_models):
    data = encode(photo(32, 32), "JPEG")
    with pytest.raises(CorruptImageError, match="truncated or corrupt"):
        upscale(data[: len(data) // 2], PRECISE_4X, model_dir=tiny_models)
    with pytest.raises(UnsupportedImageError, match=r"detected: GIF"):
        upscale(encode(photo(8, 8), "GIF"), PRECISE_4X, model_dir=tiny_models)
