"""precise: exact output sizes for any factor, 4x passes as needed, the anime model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inference.api import UpscaleParams, upscale
from inference.loader import load_model
from inference.superres import Pass, plan_passes
from tests.inference.synthetic import encode, photo


@pytest.mark.parametrize(
    ("factor", "size"),
    [(1, (13, 10)), (1.5, (20, 15)), (2.5, (33, 25)), (4, (52, 40)), (7, (91, 70)), (16, (208, 160))],
)
def test_it_makes_the_exact_output_size_for_any_factor(tiny_models, factor, size):
    result = upscale(encode(photo(10, 13)), UpscaleParams(mode="precise", scale=factor), model_dir=tiny_models)
    assert (result.width, result.height) == size
    assert result.image.size == size and result.image.mode == "RGB"
    assert result.engine == "precise/RealESRGAN_x4plus"


def test_it_rounds_halves_up_like_the_price():
    from inference.sizing import output_size

    assert output_size(3, 5, 1.5) == (5, 8)  # 4.5 -> 5, 7.5 -> 8
    assert output_size(10, 10, 1.15) == (12, 12)  # 11.5 in decimal, 11.4999... in binary


def test_it_plans_one_pass_per_factor_of_four_landing_on_the_target():
    assert plan_passes((100, 80), (400, 320), 4) == [Pass((100, 80), 1, (400, 320))]
    assert plan_passes((100, 80), (200, 160), 4) == [Pass((100, 80), 2, (200, 160))]
    assert plan_passes((100, 80), (100, 80), 4) == [Pass((100, 80), 4, (100, 80))]
    assert plan_passes((100, 80), (250, 200), 4) == [Pass((100, 80), 1, (250, 200))]
    # 7x: a 4x pass, resampled to 1.75x of the input, then a 4x pass onto the target.
    assert plan_passes((100, 80), (700, 560), 4) == [
        Pass((100, 80), 1, (175, 140)),
        Pass((175, 140), 1, (700, 560)),
    ]
    # 8x: the first pass is pooled 2x on the device, no resample at all.
    assert plan_passes((100, 80), (800, 640), 4) == [
        Pass((100, 80), 2, (200, 160)),
        Pass((200, 160), 1, (800, 640)),
    ]
    assert plan_passes((100, 80), (1600, 1280), 4) == [
        Pass((100, 80), 1, (400, 320)),
        Pass((400, 320), 1, (1600, 1280)),
    ]
    # Just over 4x is not worth a second pass.
    assert len(plan_passes((100, 80), (420, 336), 4)) == 1


def test_it_passes_the_network_output_through_untouched_at_4x(tiny_models):
    image = photo(9, 11)
    result = upscale(encode(image), UpscaleParams(mode="precise", scale=4), model_dir=tiny_models)
    # The tiny model is an exact nearest-neighbour 4x upscaler.
    assert np.array_equal(np.asarray(result.image), image.repeat(4, 0).repeat(4, 1))
    half = upscale(encode(image), UpscaleParams(mode="precise", scale=2), model_dir=tiny_models)
    assert np.array_equal(np.asarray(half.image), image.repeat(2, 0).repeat(2, 1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("image_type", "model"), [("universal", "RealESRGAN_x4plus"), ("anime", "RealESRGAN_x4plus_anime_6B")]
)
def test_it_matches_the_model_run_directly(shared_models, image_type, model):
    image = photo(20, 24, seed=2)
    result = upscale(
        encode(image),
        UpscaleParams(mode="precise", scale=4, image_type=image_type),
        model_dir=shared_models,
    )
    assert result.engine == f"precise/{model}"
    network = load_model(model, shared_models).descriptor
    with torch.inference_mode():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        direct = (network(x)[0].permute(1, 2, 0) * 255).round().clamp(0, 255).numpy()
    assert np.abs(np.asarray(result.image).astype(float) - direct).mean() < 0.5


@pytest.mark.slow
@pytest.mark.parametrize(("factor", "size"), [(7, (84, 70)), (16, (192, 160))])
def test_it_reaches_large_factors_with_the_real_weights(shared_models, factor, size):
    image = photo(10, 12, seed=4)
    result = upscale(encode(image), UpscaleParams(mode="precise", scale=factor), model_dir=shared_models)
    assert result.image.size == size
    # Still the same picture: shrunk back, it is close to the input.
    back = np.asarray(result.image.resize((12, 10), Image.Resampling.LANCZOS)).astype(float)
    assert np.abs(back - image).mean() < 12


def test_it_refuses_factors_outside_1_to_16(tiny_models):
    for factor in (0.5, 16.5, float("nan")):
        with pytest.raises(ValueError, match="from 1 to 16"):
            upscale(encode(photo(8, 8)), UpscaleParams(mode="precise", scale=factor), model_dir=tiny_models)
