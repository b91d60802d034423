"""Acceptance: tiled output matches the same model run on the whole image in one piece."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.api import UpscaleParams, upscale
from inference.loader import load_model
from inference.tiling import plan_axis
from tests.inference.synthetic import encode, photo


def one_piece(model_dir, name: str, image: np.ndarray) -> np.ndarray:
    network = load_model(name, model_dir).descriptor  # spandrel, called as documented
    with torch.inference_mode():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        y = network(x)[0].permute(1, 2, 0)
    return (y * 255).round().clamp(0, 255).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B"])
def test_it_tiles_precise_4x_within_1_level_of_the_one_piece_run(shared_models, name):
    image = photo(96, 96, seed=0)
    assert plan_axis(96, 64, 32, 16).count == 2  # really tiled: 2 x 2 tiles
    steps = []
    image_type = "anime" if "anime" in name else "universal"
    result = upscale(
        encode(image),
        UpscaleParams(mode="precise", scale=4, image_type=image_type, tile=64),
        model_dir=shared_models,
        progress=steps.append,
    )
    assert len(steps) >= 4 + 1
    difference = np.abs(np.asarray(result.image).astype(float) - one_piece(shared_models, name, image))
    assert difference.mean() < 1.0, difference.mean()  # in levels of 255


@pytest.mark.slow
def test_it_tiles_dynamic_seamlessly_too(shared_models):
    image = photo(64, 64, seed=1)
    params = dict(mode="dynamic", scale=2, image_type="anime", creativity=8, detail=8)
    tiled = upscale(encode(image), UpscaleParams(**params, tile=40), model_dir=shared_models)
    whole = upscale(encode(image), UpscaleParams(**params, tile=64), model_dir=shared_models)
    difference = np.abs(np.asarray(tiled.image).astype(float) - np.asarray(whole.image))
    assert difference.mean() < 1.0, difference.mean()
