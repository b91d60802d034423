"""The smart engine on a tiny random x4 upscaler pipeline built on disk: sizes, seeds,
prompts, progress per denoising step, tiling, loading only from the model directory."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from inference import diffusion
from inference.api import UpscaleParams, upscale
from inference.diffusion_tiles import plan, spans
from inference.diffusion_tiny import build_tiny_pipeline
from inference.engines import smart
from inference.errors import ModelNotInstalledError
from inference.registry import SMART_PIPELINE, pipeline_problem
from inference.sizing import output_size
from tests.inference.synthetic import encode, photo

STEPS = 3


@pytest.fixture(scope="module")
def smart_models(tmp_path_factory):
    """A model directory holding only the tiny x4 upscaler pipeline."""
    folder = tmp_path_factory.mktemp("smart-models")
    build_tiny_pipeline(folder / SMART_PIPELINE)
    return folder


@pytest.fixture(autouse=True)
def small_and_quick(monkeypatch):
    monkeypatch.setenv(smart.STEPS_ENV, str(STEPS))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared CPU
    yield
    torch.set_num_threads(threads)


def run(models, image: np.ndarray, **fields) -> tuple[np.ndarray, list[float]]:
    steps: list[float] = []
    params = UpscaleParams(mode="smart", **{"scale": 2, "seed": 1, **fields})
    result = upscale(encode(image), params, model_dir=models, progress=steps.append)
    return np.asarray(result.image), steps


def test_it_upscales_to_the_exact_size_for_any_factor(smart_models):
    for (height, width), factor in (((20, 24), 1), ((17, 23), 1.5), ((21, 10), 2.5), ((9, 13), 4)):
        result = upscale(
            encode(photo(height, width)), UpscaleParams(mode="smart", scale=factor, seed=3), model_dir=smart_models
        )
        assert result.image.size == output_size(width, height, factor), (height, width, factor)
        assert result.engine == "smart/stable-diffusion-x4-upscaler"


def test_it_keeps_alpha_and_grey(smart_models):
    rgba = np.dstack([photo(16, 20), np.tile(np.arange(20, dtype=np.uint8) * 12, (16, 1))])
    result = upscale(encode(rgba), UpscaleParams(mode="smart", scale=2, seed=1), model_dir=smart_models)
    assert result.image.mode == "RGBA" and result.image.size == (40, 32)
    alpha = np.asarray(result.image)[..., 3]
    assert alpha[:, 0].mean() < alpha[:, -1].mean()  # the ramp survives
    grey = Image.fromarray(photo(16, 20)).convert("L")
    result = upscale(encode(grey), UpscaleParams(mode="smart", scale=2, seed=1), model_dir=smart_models)
    assert result.image.mode == "L" and result.image.size == (40, 32)


def test_the_same_seed_and_description_give_identical_pixels(smart_models):
    image = photo(24, 32)
    first, _ = run(smart_models, image, description="a red fox in the snow", seed=42)
    again, _ = run(smart_models, image, description="a red fox in the snow", seed=42)
    assert np.array_equal(first, again)
    other_seed, _ = run(smart_models, image, description="a red fox in the snow", seed=43)
    assert not np.array_equal(first, other_seed)


def test_the_description_reaches_the_prompt(smart_models, caplog):
    image = photo(24, 32)
    with caplog.at_level(logging.INFO, logger="inference.engines.smart"):
        fox, _ = run(smart_models, image, description="a red fox in the snow", seed=42)
        car, _ = run(smart_models, image, description="a blue vintage car", seed=42)
    # Same seed, same input: only the text encoder's view of the prompt differs.
    assert not np.array_equal(fox, car)
    prompts = [r.getMessage() for r in caplog.records if "prompt=" in r.getMessage()]
    assert "prompt='a red fox in the snow, a high-resolution image" in prompts[0]
    assert "prompt='a blue vintage car, a high-resolution image" in prompts[1]
    assert "seed=42" in prompts[0]


def test_it_reports_progress_per_denoising_step_and_tile(smart_models):
    height, width, tile = 40, 56, 32
    _, steps = run(smart_models, photo(height, width), tile=tile)
    tiles = len(plan(height, width, tile, tile // 4, multiple=4))
    decode_tiles = len(plan(height, width, diffusion.DECODE_TILE, diffusion.DECODE_OVERLAP))
    assert tiles > 1
    assert len(steps) >= STEPS * tiles + decode_tiles
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert 0 < steps[0] <= 1 / (STEPS * tiles) + 1e-9  # the first tile of the first step


def test_a_tiled_run_matches_the_untiled_one_closely(smart_models):
    image = photo(40, 56)
    whole, _ = run(smart_models, image, seed=5)
    tiled, _ = run(smart_models, image, seed=5, tile=32)
    assert whole.shape == tiled.shape
    # Blended noise predictions over one shared latent: no tile drifts off on its own.
    difference = np.abs(whole.astype(int) - tiled.astype(int)).mean()
    assert difference < 4, difference


def test_it_backs_off_to_smaller_tiles_when_out_of_memory(smart_models, monkeypatch):
    real_run = diffusion._run
    tiles_tried = []

    def flaky(loaded, image, request, tile, *reports):
        tiles_tried.append(tile)
        if tile > 32:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real_run(loaded, image, request, tile, *reports)

    monkeypatch.setattr(diffusion, "_run", flaky)
    out, _ = run(smart_models, photo(20, 24), tile=128)
    assert tiles_tried == [128, 64, 32] and out.shape == (40, 48, 3)


def test_the_dials_map_monotonically():
    levels = [smart.noise_level(c) for c in range(11)]
    assert levels == sorted(levels) and levels[0] == 0 and levels[5] == 20 and levels[10] <= 350
    guidance = [smart.guidance_scale(d) for d in range(11)]
    assert guidance == sorted(guidance) and guidance[5] == 9.0
    steps = [smart.denoising_steps(d, 25) for d in range(11)]
    assert steps == sorted(steps) and steps[5] == 25 and steps[0] == 15 and steps[10] == 35
    assert [smart.denoising_steps(d, 3) for d in (0, 5, 10)] == [2, 3, 4]


def test_the_prompt_uses_type_faces_and_blur():
    prompt, negative = smart.build_prompt(UpscaleParams(mode="smart", description="  portrait of a sailor "))
    assert prompt.startswith("portrait of a sailor, a high-resolution image, sharp focus")
    assert "blurry" in negative
    prompt, negative = smart.build_prompt(
        UpscaleParams(mode="smart", image_type="anime", enhance_faces=True, preserve_blur=True)
    )
    assert prompt.startswith("a clean anime illustration") and "faces" in prompt and "sharp" not in prompt
    assert "blurry" not in negative and "distorted face" in negative


def test_it_reads_the_steps_and_tile_from_the_environment(monkeypatch):
    monkeypatch.setenv(smart.STEPS_ENV, "40")
    assert smart.base_steps() == 40
    monkeypatch.delenv(smart.STEPS_ENV)
    assert smart.base_steps() == smart.DEFAULT_STEPS
    monkeypatch.setenv(smart.STEPS_ENV, "many")
    with pytest.raises(ValueError, match=smart.STEPS_ENV):
        smart.base_steps()
    assert smart.unet_tile(None) == diffusion.UNET_TILE
    monkeypatch.setenv(smart.TILE_ENV, "256")
    assert smart.unet_tile(None) == 256 and smart.unet_tile(64) == 64
    monkeypatch.setenv(smart.TILE_ENV, "8")
    with pytest.raises(ValueError, match=smart.TILE_ENV):
        smart.unet_tile(None)


def test_it_loads_from_the_model_directory_without_the_network(smart_models, monkeypatch):
    diffusion.clear_cache()

    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    loaded = diffusion.load_pipeline(SMART_PIPELINE, smart_models)
    assert loaded.path == smart_models / SMART_PIPELINE
    assert type(loaded.pipeline).__name__ == "StableDiffusionUpscalePipeline"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_it_names_what_is_missing(smart_models, tmp_path):
    with pytest.raises(ModelNotInstalledError, match="has no model_index.json") as caught:
        upscale(encode(photo(8, 8)), UpscaleParams(mode="smart", scale=2), model_dir=tmp_path)
    assert SMART_PIPELINE in str(caught.value) and "fetch" in str(caught.value)

    copy = tmp_path / "copy"
    shutil.copytree(smart_models, copy)
    for weights in (copy / SMART_PIPELINE / "unet").glob("*.safetensors"):
        weights.unlink()
    assert "holds no weights file" in pipeline_problem(SMART_PIPELINE, copy)

    index = smart_models / SMART_PIPELINE / "model_index.json"
    other = tmp_path / "other"
    shutil.copytree(smart_models, other)
    data = json.loads(index.read_text())
    data["_class_name"] = "StableDiffusionPipeline"
    (other / SMART_PIPELINE / "model_index.json").write_text(json.dumps(data))
    with pytest.raises(ModelNotInstalledError, match="not a StableDiffusionUpscalePipeline"):
        diffusion.load_pipeline(SMART_PIPELINE, other)


def test_tiles_cover_the_grid_and_blend_to_one():
    assert spans(100, 128, 32) == [(0, 100)]
    covered = spans(300, 128, 32)
    assert covered[0][0] == 0 and covered[-1][1] == 300
    assert all(b[0] < a[1] - 31 for a, b in zip(covered, covered[1:], strict=False))
    tiles = plan(72, 136, 32, 8, multiple=8)
    total = torch.zeros(72, 136)
    for t in tiles:
        assert (t.bottom - t.top) % 8 == 0 and (t.right - t.left) % 8 == 0
        total[t.region()] += t.weight
    assert bool((total > 0).all())
