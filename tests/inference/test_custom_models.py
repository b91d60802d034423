"""Any installed model by name: precise, dynamic and restore with 1x-8x networks of several
architectures, end to end on tiny images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.api import UpscaleParams, upscale
from inference.errors import UnknownModelError
from inference.loader import load_model
from inference.sizing import output_size
from tests.inference.synthetic import encode, photo
from tests.inference.tiny_networks import TINY

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(TINY))
def test_precise_reaches_the_exact_size_with_any_native_scale(zoo, name):
    image = encode(photo(10, 13, seed=3))
    for factor in (1, 1.5, 2, 3, 4, 8):
        result = upscale(image, UpscaleParams(mode="precise", scale=factor, model=name), model_dir=zoo)
        assert result.image.size == output_size(13, 10, factor), (name, factor)
        assert result.engine == f"precise/{name}"


@pytest.mark.parametrize("name", ["1x_ESRGAN_tiny", "2x_SPAN_tiny", "3x_Compact_tiny", "8x_ESRGAN_tiny"])
def test_dynamic_and_restore_run_any_model_too(zoo, name):
    image = encode(photo(12, 9, seed=4))
    dynamic = upscale(image, UpscaleParams(mode="dynamic", scale=2.5, model=name, creativity=9), model_dir=zoo)
    assert dynamic.image.size == output_size(9, 12, 2.5) and dynamic.engine == f"dynamic/{name}"
    restored = upscale(image, UpscaleParams(mode="restore", model=name), model_dir=zoo)
    assert restored.image.size == (9, 12) and restored.engine == f"restore/{name}"


def test_alpha_and_tiles_go_through_a_custom_model(zoo):
    rgba = np.dstack([photo(40, 36, seed=5), np.tile(np.arange(36, dtype=np.uint8) * 7, (40, 1))])
    result = upscale(encode(rgba), UpscaleParams(mode="precise", scale=3, model="3x_SPAN_tiny", tile=16), model_dir=zoo)
    assert result.image.size == (108, 120) and result.image.mode == "RGBA"


def test_the_mode_default_stays_when_no_model_is_named(zoo):
    result = upscale(encode(photo(8, 8)), UpscaleParams(mode="precise", scale=2), model_dir=zoo)
    assert result.engine == "precise/RealESRGAN_x4plus"


def test_a_1x_network_runs_on_the_input_and_is_resampled_after(zoo):
    model = load_model("1x_Compact_tiny", zoo)
    seen = []
    network = model.module

    def spy(batch):
        seen.append(tuple(batch.shape[-2:]))
        return network(batch)

    model.module = spy
    try:
        result = upscale(encode(photo(10, 12)), UpscaleParams(mode="precise", scale=2, model=model.name), model_dir=zoo)
    finally:
        model.module = network
    assert seen == [(10, 12)] and result.image.size == (24, 20)


def test_an_unknown_model_is_refused_with_the_installed_names(zoo):
    with pytest.raises(UnknownModelError, match=r"No model named 'nope'.*installed models: .*2x_SPAN_tiny"):
        upscale(encode(photo(8, 8)), UpscaleParams(mode="precise", model="nope"), model_dir=zoo)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(mode="precise", model="../etc/passwd"), "model must be a model's name"),
        (dict(mode="precise", model=""), "model must be a model's name"),
        (dict(mode="precise", model=4), "model must be a model's name"),
        (dict(mode="smart", scale=2, model="2x_SPAN_tiny"), "model applies to precise, dynamic, restore"),
    ],
)
def test_it_validates_the_model_parameter(params, message):
    with pytest.raises(ValueError, match=message):
        UpscaleParams(**params).validate()


def test_the_cli_takes_a_model_by_name(zoo, tmp_path):
    source = tmp_path / "in.png"
    source.write_bytes(encode(photo(10, 15)))
    run = [sys.executable, "-m", "inference", str(source), str(tmp_path / "out.png"), "--model-dir", str(zoo)]
    done = subprocess.run([*run, "--scale", "3", "--model", "2x_SPAN_tiny"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "45x30" in done.stdout and "with precise/2x_SPAN_tiny" in done.stdout
    done = subprocess.run([*run, "--model", "nope"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and "No model named 'nope'" in done.stderr
