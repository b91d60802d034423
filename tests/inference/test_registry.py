"""The model registry: names, files, directories and which mode needs which model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inference import registry
from inference.registry import MODELS, is_installed, missing_for, model_dir, model_path, models_for

REPO = Path(__file__).resolve().parents[2]


def test_it_describes_the_three_real_esrgan_models_with_official_urls():
    x4 = MODELS["RealESRGAN_x4plus"]
    assert x4.filename == "RealESRGAN_x4plus.safetensors"
    assert x4.official_filename == "RealESRGAN_x4plus.pth"
    assert x4.url.startswith("https://github.com/xinntao/Real-ESRGAN/releases/download/")
    assert x4.sha256 == "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1"
    assert (x4.architecture, x4.scale) == ("ESRGAN", 4)
    anime = MODELS["RealESRGAN_x4plus_anime_6B"]
    assert anime.sha256 == "f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da"
    assert MODELS["realesr-animevideov3"].architecture == "Compact"


def test_it_reads_the_model_directory_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UPSCALER_MODEL_DIR", str(tmp_path))
    assert model_dir() == tmp_path
    monkeypatch.delenv("UPSCALER_MODEL_DIR")
    assert model_dir() == REPO / "models"


def test_it_accepts_safetensors_or_the_official_pth_preferring_safetensors(tmp_path):
    assert not is_installed("RealESRGAN_x4plus", tmp_path)
    assert model_path("RealESRGAN_x4plus", tmp_path) == tmp_path / "RealESRGAN_x4plus.safetensors"
    (tmp_path / "RealESRGAN_x4plus.pth").write_bytes(b"x")
    assert is_installed("RealESRGAN_x4plus", tmp_path)
    assert model_path("RealESRGAN_x4plus", tmp_path) == tmp_path / "RealESRGAN_x4plus.pth"
    (tmp_path / "RealESRGAN_x4plus.safetensors").write_bytes(b"x")
    assert model_path("RealESRGAN_x4plus", tmp_path).suffix == ".safetensors"


def test_it_finds_any_model_file_by_its_stem_preferring_safetensors(tmp_path):
    for name in ("b.pt", "b.ckpt", "a.pth", "a.safetensors", "c.PTH", ".d.pth.x.part", "notes.txt", "e.bin"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.pth").mkdir()
    files = registry.model_files(tmp_path)
    assert {name: path.name for name, path in files.items()} == {"a": "a.safetensors", "b": "b.ckpt", "c": "c.PTH"}
    assert list(files) == ["a", "b", "c"]
    assert registry.resolve_model("b", tmp_path) == tmp_path / "b.ckpt"
    assert is_installed("a", tmp_path) and not is_installed("e", tmp_path)
    assert registry.model_files(tmp_path / "missing") == {}
    with pytest.raises(ValueError, match=r"No model named 'e'.*installed models: a, b, c"):
        registry.resolve_model("e", tmp_path)


def test_it_picks_the_anime_model_for_anime_images():
    for mode in ("precise", "dynamic", "restore"):
        assert models_for(mode, "anime") == ["RealESRGAN_x4plus_anime_6B"]
        assert models_for(mode, "realism") == ["RealESRGAN_x4plus"]
        assert models_for(mode, "universal") == ["RealESRGAN_x4plus"]
    assert models_for("smart", "anime") == models_for("smart", "universal") == ["stable-diffusion-x4-upscaler"]


def test_it_rejects_unknown_modes_and_types():
    with pytest.raises(ValueError, match="Unknown mode"):
        models_for("turbo", "universal")
    with pytest.raises(ValueError, match="Unknown image type"):
        models_for("precise", "cartoon")


def test_it_lists_the_missing_models_of_a_mode(tmp_path, shared_models):
    assert missing_for("precise", "anime", tmp_path) == ["RealESRGAN_x4plus_anime_6B"]
    assert missing_for("precise", "anime", shared_models) == []
    assert missing_for("dynamic", "universal", shared_models) == []
    assert missing_for("smart", "universal", tmp_path) == ["stable-diffusion-x4-upscaler"]


def test_it_keeps_torch_out_of_the_web_tier_modules():
    code = (
        "import sys, inference, inference.registry, inference.imageio, inference.errors, "
        "inference.sizing, inference.pixels, inference.fetch, inference.engines\n"
        "heavy = sorted(m for m in ('torch', 'spandrel', 'django') if m in sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_it_lets_a_deployment_register_another_model(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", dict(MODELS))
    spec = registry.ModelSpec(
        name="4x-Custom",
        filename="4x-Custom.safetensors",
        architecture="ESRGAN",
        scale=4,
        url="https://example.org/4x-Custom.pth",
        sha256=None,
    )
    registry.register_model(spec)
    assert registry.get_spec("4x-Custom") is spec
    with pytest.raises(KeyError, match="known models"):
        registry.get_spec("nope")
