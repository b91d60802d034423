"""Resolution tiers (APIXO's 2k, 4k, 8k) at the engine level: the output's long side is
exactly 2048, 4096 or 8192 pixels, the aspect ratio kept, whatever the input's size, reached
with as many 4x passes as needed. 4k and 8k run here with the tiny nearest-neighbour RRDBNet
(the real weights take minutes per output on a CPU); the pass plans are the real ones."""

from __future__ import annotations

import numpy as np
import pytest

import inference.superres
from inference.api import UpscaleParams, upscale
from inference.sizing import long_side_size
from inference.superres import Pass, plan_passes
from tests.inference.synthetic import encode, photo


@pytest.mark.parametrize(
    ("size", "long_side", "expected"),
    [
        ((128, 96), 2048, (2048, 1536)),
        ((96, 128), 2048, (1536, 2048)),  # portrait: the height is the long side
        ((64, 64), 8192, (8192, 8192)),
        ((250, 17), 2048, (2048, 139)),  # 139.26
        ((3, 1), 2048, (2048, 683)),  # 682.67
        ((1000, 3), 2048, (2048, 6)),  # 6.144
        ((4000, 1), 2048, (2048, 1)),  # never below one pixel
        ((5000, 3000), 2048, (2048, 1229)),  # larger than the tier: made smaller
        ((8192, 6144), 8192, (8192, 6144)),
        ((2, 2), 4096, (4096, 4096)),
    ],
)
def test_the_long_side_is_the_tiers_and_the_aspect_is_kept(size, long_side, expected):
    assert long_side_size(*size, long_side) == expected


def test_the_short_side_rounds_halves_up():
    assert long_side_size(4096, 1, 2048) == (2048, 1)  # 0.5 -> 1
    assert long_side_size(4096, 3, 2048) == (2048, 2)  # 1.5 -> 2
    assert long_side_size(4096, 5, 2048) == (2048, 3)  # 2.5 -> 3


def test_a_128x96_input_takes_two_passes_to_2k_and_three_to_4k_and_8k():
    assert plan_passes((128, 96), (2048, 1536), 4) == [
        Pass((128, 96), 1, (512, 384)),
        Pass((512, 384), 1, (2048, 1536)),
    ]
    # 32x: the first pass is pooled 2x on the device, then two plain 4x passes.
    assert plan_passes((128, 96), (4096, 3072), 4) == [
        Pass((128, 96), 2, (256, 192)),
        Pass((256, 192), 1, (1024, 768)),
        Pass((1024, 768), 1, (4096, 3072)),
    ]
    assert plan_passes((128, 96), (8192, 6144), 4) == [
        Pass((128, 96), 1, (512, 384)),
        Pass((512, 384), 1, (2048, 1536)),
        Pass((2048, 1536), 1, (8192, 6144)),
    ]
    # A factor that is no power of 4: the last pass lands on the target, the first's output
    # is resampled to what it needs; just over 4x (4.096) is one pass and a slight resample.
    assert plan_passes((1000, 750), (8192, 6144), 4) == [
        Pass((1000, 750), 1, (2048, 1536)),
        Pass((2048, 1536), 1, (8192, 6144)),
    ]
    assert plan_passes((1000, 750), (4096, 3072), 4) == [Pass((1000, 750), 1, (4096, 3072))]


def test_a_tier_under_the_inputs_size_is_one_pass_at_the_target():
    # Resampled down first: the network's work follows the output, not a 4x of the input.
    assert plan_passes((5000, 3000), (2048, 1229), 4) == [Pass((2048, 1229), 4, (2048, 1229))]
    assert plan_passes((2048, 1536), (2048, 1536), 4) == [Pass((2048, 1536), 4, (2048, 1536))]


@pytest.fixture
def network_runs(monkeypatch):
    """The input size of each network pass the engine runs."""
    runs: list[tuple[int, int]] = []
    real = inference.superres.run_network

    def spy(model, array, **kwargs):
        runs.append((array.shape[1], array.shape[0]))
        return real(model, array, **kwargs)

    monkeypatch.setattr(inference.superres, "run_network", spy)
    return runs


@pytest.mark.parametrize(
    ("long_side", "size", "passes"),
    [
        (2048, (2048, 64), [(128, 4), (512, 16)]),  # 16x: two 4x passes
        (4096, (4096, 128), [(128, 4), (256, 8), (1024, 32)]),  # 32x: pooled 2x, then two 4x passes
        (8192, (8192, 256), [(128, 4), (512, 16), (2048, 64)]),  # 64x: three 4x passes
    ],
)
def test_the_engine_makes_each_tier_exactly(tiny_models, network_runs, long_side, size, passes):
    image = photo(4, 128)  # 128x4: a thin input keeps 8k's output (8192x256) quick on a CPU
    result = upscale(encode(image), UpscaleParams(mode="precise", long_side=long_side), model_dir=tiny_models)
    assert (result.width, result.height) == result.image.size == size
    assert network_runs == passes == [step.input_size for step in plan_passes((128, 4), size, 4)]
    assert result.engine == "precise/RealESRGAN_x4plus"
    # The tiny network is an exact nearest-neighbour 4x: whole-number factors come out exact.
    factor = long_side // 128
    assert np.array_equal(np.asarray(result.image), image.repeat(factor, 0).repeat(factor, 1))


def test_an_input_larger_than_the_tier_is_made_smaller_in_one_pass(tiny_models, network_runs):
    result = upscale(encode(photo(30, 2100)), UpscaleParams(mode="precise", long_side=2048), model_dir=tiny_models)
    assert result.image.size == (2048, 29)  # 30 * 2048 / 2100 = 29.26
    assert network_runs == [(2048, 29)]


def test_the_long_side_overrides_the_factor_and_is_precise_only(tiny_models):
    result = upscale(
        encode(photo(10, 12)), UpscaleParams(mode="precise", scale=4, long_side=100), model_dir=tiny_models
    )
    assert result.image.size == (100, 83)
    for params, message in (
        (UpscaleParams(mode="dynamic", long_side=2048), "long_side applies to precise only"),
        (UpscaleParams(mode="precise", long_side=0), "long_side must be a whole number"),
        (UpscaleParams(mode="precise", long_side=True), "long_side must be a whole number"),
    ):
        with pytest.raises(ValueError, match=message):
            upscale(encode(photo(8, 8)), params, model_dir=tiny_models)
