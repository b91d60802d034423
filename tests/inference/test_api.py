"""upscale(): parameters, progress, errors, and what the result carries."""

from __future__ import annotations

import dataclasses

import pytest

from inference.api import UpscaleParams, UpscaleResult, upscale
from inference.errors import ModelNotInstalledError
from inference.imageio import decode_image
from inference.superres import FEATHER
from inference.tile_context import tile_context
from inference.tiling import plan_axis
from tests.inference.synthetic import encode, photo


def test_it_reports_progress_once_per_tile_non_decreasing_ending_at_one(tiny_models):
    steps = []
    upscale(
        encode(photo(90, 50)),
        UpscaleParams(mode="precise", scale=7, tile=16),
        model_dir=tiny_models,
        progress=steps.append,
    )
    context = tile_context("ESRGAN")
    first = plan_axis(90, 16, context, FEATHER).count * plan_axis(50, 16, context, FEATHER).count
    second = plan_axis(158, 16, context, FEATHER).count * plan_axis(88, 16, context, FEATHER).count  # 7x/4
    assert second > 1 and len(steps) >= first + second
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert all(0.0 <= step <= 1.0 for step in steps)
    assert 0.0 < steps[0] < 0.5


def test_it_counts_the_alpha_pass_in_the_progress(tiny_models):
    import numpy as np

    rgba = np.dstack([photo(140, 140), np.tile(np.arange(140, dtype=np.uint8), (140, 1))])
    steps = []
    upscale(encode(rgba), UpscaleParams(mode="precise", scale=2, tile=16), model_dir=tiny_models, progress=steps.append)
    tiles = plan_axis(140, 16, tile_context("ESRGAN"), FEATHER).count ** 2
    assert tiles > 1 and len(steps) >= 2 * tiles and steps == sorted(steps) and steps[-1] == 1.0
    assert abs(steps[tiles - 1] - 0.5) < 1e-9  # colour done: half way


def test_it_returns_the_result_the_platform_stores(tiny_models):
    result = upscale(encode(photo(10, 20)), UpscaleParams(mode="precise", scale=2.5), model_dir=tiny_models)
    assert isinstance(result, UpscaleResult)
    assert (result.width, result.height) == result.image.size == (50, 25)
    assert result.engine == "precise/RealESRGAN_x4plus"
    assert result.seconds > 0 and result.icc_profile is None


def test_it_accepts_an_already_decoded_image(tiny_models):
    decoded = decode_image(encode(photo(10, 12)))
    result = upscale(decoded, UpscaleParams(mode="precise", scale=2), model_dir=tiny_models)
    assert result.image.size == (24, 20)


def test_it_refuses_unknown_modes_and_types_with_value_error(tiny_models):
    data = encode(photo(8, 8))
    with pytest.raises(ValueError, match="Unknown mode"):
        upscale(data, UpscaleParams(mode="turbo"), model_dir=tiny_models)
    with pytest.raises(ValueError, match="Unknown image type"):
        upscale(data, UpscaleParams(mode="precise", image_type="cartoon"), model_dir=tiny_models)
    with pytest.raises(ValueError, match="tile"):
        upscale(data, UpscaleParams(mode="precise", tile=4), model_dir=tiny_models)


def test_it_says_the_smart_pipeline_is_not_installed(tiny_models):
    with pytest.raises(ModelNotInstalledError, match="stable-diffusion-x4-upscaler") as caught:
        upscale(encode(photo(8, 8)), UpscaleParams(mode="smart", scale=2), model_dir=tiny_models)
    assert "model_index.json" in str(caught.value) and "fetch" in str(caught.value)


def test_it_raises_model_not_installed_for_a_missing_model(tmp_path):
    with pytest.raises(ModelNotInstalledError, match="fetch_models") as caught:
        upscale(encode(photo(8, 8)), UpscaleParams(mode="precise", image_type="anime"), model_dir=tmp_path)
    assert "RealESRGAN_x4plus_anime_6B" in str(caught.value) and str(tmp_path) in str(caught.value)


def test_params_match_the_platform_contract():
    fields = {f.name: f.default for f in dataclasses.fields(UpscaleParams)}
    assert fields == {
        "mode": dataclasses.MISSING,
        "scale": 4.0,
        "image_type": "universal",
        "creativity": 5,
        "detail": 5,
        "resemblance": 8,
        "description": "",
        "enhance_faces": False,
        "preserve_blur": False,
        "preserve_hands": False,
        "seed": None,
        "tile": None,
        "model": None,
        # precise's finishing steps (inference/finishing.py; the Ximilar surface's options)
        "classic": False,
        "finish": "none",
        "match_colors": False,
        "long_side": None,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        UpscaleParams(mode="precise").scale = 2  # type: ignore[misc]


def test_it_runs_jobs_side_by_side_on_one_loaded_model(tiny_models):
    import threading

    import numpy as np

    images = [photo(40 + 7 * i, 50 - 3 * i, seed=i) for i in range(4)]
    params = UpscaleParams(mode="precise", scale=3, tile=24)
    expected = [np.asarray(upscale(encode(im), params, model_dir=tiny_models).image) for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = np.asarray(upscale(encode(images[i]), params, model_dir=tiny_models).image)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(4))
