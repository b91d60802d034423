"""restore: same size out, with the noise and JPEG artefacts taken out."""

from __future__ import annotations

import numpy as np
import pytest

from inference.api import UpscaleParams, upscale
from inference.imageio import decode_image
from tests.inference.synthetic import encode, photo


def test_it_keeps_the_input_size_whatever_the_scale(tiny_models):
    result = upscale(encode(photo(15, 21)), UpscaleParams(mode="restore", scale=3), model_dir=tiny_models)
    assert result.image.size == (21, 15)
    assert result.engine == "restore/RealESRGAN_x4plus"


@pytest.mark.slow
@pytest.mark.parametrize(("sigma", "quality"), [(10, 30), (6, 40)])
def test_it_brings_a_degraded_image_closer_to_the_clean_one(shared_models, sigma, quality):
    clean = photo(48, 48, seed=3, noise=0.0).astype(float)
    noise = np.random.default_rng(1).normal(0, sigma, clean.shape)
    data = encode(np.clip(clean + noise, 0, 255).astype(np.uint8), "JPEG", quality=quality)
    degraded = np.asarray(decode_image(data).image).astype(float)
    restored = np.asarray(upscale(data, UpscaleParams(mode="restore"), model_dir=shared_models).image).astype(float)
    before = np.abs(degraded - clean).mean()
    after = np.abs(restored - clean).mean()
    assert after < 0.85 * before, (before, after)
