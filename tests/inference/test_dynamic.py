"""dynamic: resemblance, detail and globalCreativity each move the output one way."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inference.api import UpscaleParams, upscale
from tests.inference.synthetic import encode, photo

IMAGE = photo(32, 32, seed=5, noise=0.02)
LEVELS = (0, 3, 6, 10)


def run(model_dir, factor: float = 2, **dials) -> np.ndarray:
    params = UpscaleParams(mode="dynamic", scale=factor, **dials)
    return np.asarray(upscale(encode(IMAGE), params, model_dir=model_dir).image).astype(float)


def distance_to_input(output: np.ndarray) -> float:
    """How far the output, shrunk back to the input's size, is from the input."""
    image = Image.fromarray(output.astype(np.uint8)).resize((32, 32), Image.Resampling.LANCZOS)
    return float(np.abs(np.asarray(image).astype(float) - IMAGE).mean())


def departure_from_faithful(output: np.ndarray) -> float:
    """How far the output is from a plain Lanczos upscale of the input."""
    size = (output.shape[1], output.shape[0])
    faithful = np.asarray(Image.fromarray(IMAGE).resize(size, Image.Resampling.LANCZOS))
    return float(np.abs(output - faithful).mean())


def fine_detail(output: np.ndarray) -> float:
    """Mean absolute Laplacian: the energy of the finest detail."""
    lap = 4 * output[1:-1, 1:-1] - output[:-2, 1:-1] - output[2:, 1:-1]
    lap -= output[1:-1, :-2] + output[1:-1, 2:]
    return float(np.abs(lap).mean())


def strictly(values: list[float], increasing: bool) -> bool:
    pairs = zip(values, values[1:], strict=False)
    return all((b > a) if increasing else (b < a) for a, b in pairs)


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2, 4])
def test_it_resembles_the_input_more_as_resemblance_rises(shared_models, factor):
    values = [distance_to_input(run(shared_models, factor, resemblance=r)) for r in LEVELS]
    assert strictly(values, increasing=False), values
    assert values[0] - values[-1] > 2  # levels out of 255: clearly visible


@pytest.mark.slow
def test_it_departs_from_a_faithful_upscale_as_creativity_rises(shared_models):
    values = [departure_from_faithful(run(shared_models, creativity=c)) for c in LEVELS]
    assert strictly(values, increasing=True), values
    assert values[-1] > 1.5 * values[0]


@pytest.mark.slow
def test_it_sharpens_fine_detail_as_detail_rises(shared_models):
    values = [fine_detail(run(shared_models, detail=d)) for d in LEVELS]
    assert strictly(values, increasing=True), values
    assert values[-1] > 1.3 * values[0]


def test_it_makes_exact_sizes_from_1x_to_4x(tiny_models):
    for factor, size in ((1, (32, 32)), (1.5, (48, 48)), (2.5, (80, 80)), (4, (128, 128))):
        result = upscale(encode(IMAGE), UpscaleParams(mode="dynamic", scale=factor), model_dir=tiny_models)
        assert result.image.size == size
        assert result.engine == "dynamic/RealESRGAN_x4plus"


def test_it_refuses_factors_over_4_and_dials_outside_0_to_10(tiny_models):
    with pytest.raises(ValueError, match="from 1 to 4"):
        upscale(encode(IMAGE), UpscaleParams(mode="dynamic", scale=5), model_dir=tiny_models)
    for dial in ("creativity", "detail", "resemblance"):
        with pytest.raises(ValueError, match=dial):
            upscale(encode(IMAGE), UpscaleParams(mode="dynamic", **{dial: 11}), model_dir=tiny_models)
