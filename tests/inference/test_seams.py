"""Acceptance: tiled output matches the same model run on the whole image in one piece.

Tiles are sized by the new pixels they contribute; the context each architecture needs is
added around them (inference.tile_context, measured by bench/context.py). Small tiles are
what the out-of-memory back-off falls to, so they are held to the same bound.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from inference.api import UpscaleParams, upscale
from inference.loader import load_model
from inference.superres import FEATHER
from inference.tile_context import tile_context
from inference.tiling import plan_axis
from tests.inference.synthetic import encode, photo

SIDE = 184  # at 64 px tiles 2 x 2 of them, at 32 px 3 x 3, each with 48 px of context a side


@functools.cache
def one_piece(model_dir, name: str) -> np.ndarray:
    image = photo(SIDE, SIDE, seed=0)
    network = load_model(name, model_dir).descriptor  # spandrel, called as documented
    with torch.inference_mode():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        y = network(x)[0].permute(1, 2, 0)
    return (y * 255).round().clamp(0, 255).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("tile", [64, 32])
@pytest.mark.parametrize("name", ["RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B"])
def test_it_tiles_precise_4x_within_half_a_level_of_the_one_piece_run(shared_models, name, tile):
    image = photo(SIDE, SIDE, seed=0)
    plan = plan_axis(SIDE, tile, tile_context("ESRGAN"), FEATHER)
    assert plan.count == {64: 2, 32: 3}[tile]  # really tiled, both ways
    steps = []
    image_type = "anime" if "anime" in name else "universal"
    result = upscale(
        encode(image),
        UpscaleParams(mode="precise", scale=4, image_type=image_type, tile=tile),
        model_dir=shared_models,
        progress=steps.append,
    )
    assert len(steps) >= plan.count**2 + 1
    difference = np.abs(np.asarray(result.image).astype(float) - one_piece(shared_models, name))
    assert difference.mean() < 0.5, difference.mean()  # in levels of 255


@pytest.mark.slow
def test_it_tiles_dynamic_seamlessly_too(shared_models):
    image = encode(photo(144, 144, seed=1))
    assert plan_axis(144, 16, tile_context("ESRGAN"), FEATHER).count == 2
    params = dict(mode="dynamic", scale=2, image_type="anime", creativity=8, detail=8)
    tiled = upscale(image, UpscaleParams(**params, tile=16), model_dir=shared_models)
    whole = upscale(image, UpscaleParams(**params, tile=144), model_dir=shared_models)
    difference = np.abs(np.asarray(tiled.image).astype(float) - np.asarray(whole.image))
    assert difference.mean() < 0.5, difference.mean()


@pytest.mark.slow
def test_it_tiles_the_faithful_dat_network_within_half_a_level_of_the_one_piece_run(shared_models):
    # DAT's channel attention sees the whole tile, so no context makes a tile exact: its
    # recorded context (inference.tile_context) keeps the whole output within the bound,
    # down to the small tiles of the out-of-memory back-off (32 px, 2 x 2 tiles here).
    side, tile = 128, 32
    image = photo(side, side, seed=2)
    plan = plan_axis(side, tile, tile_context("DAT"), FEATHER)
    assert plan.count == 2  # really tiled, both ways
    result = upscale(
        encode(image), UpscaleParams(mode="precise", scale=4, model="DAT_light_x4", tile=tile), model_dir=shared_models
    )
    assert result.engine == "precise/DAT_light_x4"
    network = load_model("DAT_light_x4", shared_models).descriptor
    with torch.inference_mode():
        whole = network(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0)
    whole = (whole * 255).round().clamp(0, 255).numpy()
    difference = np.abs(np.asarray(result.image).astype(float) - whole)
    assert difference.mean() < 0.5, difference.mean()
