"""Loading models: from the model directory, once per process, with errors that say what to do."""

from __future__ import annotations

import threading

import pytest
import torch
from safetensors.torch import save_file

from inference.device import select_device
from inference.errors import InferenceError, ModelNotInstalledError
from inference.loader import clear_cache, load_model
from tests.inference.conftest import nearest_rrdbnet_state


def test_it_names_the_file_the_directory_and_the_fetch_command(tmp_path):
    with pytest.raises(ModelNotInstalledError) as caught:
        load_model("RealESRGAN_x4plus", tmp_path)
    message = str(caught.value)
    assert "RealESRGAN_x4plus.safetensors" in message and "RealESRGAN_x4plus.pth" in message
    assert str(tmp_path) in message
    assert "python manage.py fetch_models" in message
    assert f"python -m inference.fetch --dir {tmp_path} RealESRGAN_x4plus" in message


def test_it_refuses_a_file_that_is_not_the_registered_model(tmp_path, shared_models):
    # The 6-block anime network is an ESRGAN too, but a Compact one is not.
    compact = (shared_models / "realesr-animevideov3.safetensors").read_bytes()
    (tmp_path / "RealESRGAN_x4plus.safetensors").write_bytes(compact)
    with pytest.raises(ModelNotInstalledError, match=r"is not RealESRGAN_x4plus .*found Compact"):
        load_model("RealESRGAN_x4plus", tmp_path)


def test_it_refuses_a_damaged_file(tmp_path):
    (tmp_path / "RealESRGAN_x4plus.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelNotInstalledError, match="cannot be loaded") as caught:
        load_model("RealESRGAN_x4plus", tmp_path)
    assert "fetch_models" in str(caught.value)


def test_it_loads_an_official_style_pth(tmp_path):
    torch.save(nearest_rrdbnet_state(), tmp_path / "RealESRGAN_x4plus.pth")
    model = load_model("RealESRGAN_x4plus", tmp_path)
    assert model.path.name == "RealESRGAN_x4plus.pth"
    assert model.scale == 4 and model.device.type == "cpu" and model.dtype == torch.float32


def test_it_loads_each_model_once_per_process_even_from_many_threads(tmp_path):
    save_file(nearest_rrdbnet_state(seed=1), str(tmp_path / "RealESRGAN_x4plus.safetensors"))
    clear_cache()
    loaded = []
    threads = [
        threading.Thread(target=lambda: loaded.append(load_model("RealESRGAN_x4plus", tmp_path))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 6 and all(model is loaded[0] for model in loaded)
    assert load_model("RealESRGAN_x4plus", tmp_path) is loaded[0]


def test_it_loads_the_real_weights_for_inference(shared_models):
    model = load_model("RealESRGAN_x4plus", shared_models)
    assert model.descriptor.architecture.id == "ESRGAN"
    assert not model.descriptor.model.training
    assert not any(p.requires_grad for p in model.descriptor.model.parameters())


def test_it_picks_the_device_from_the_environment(monkeypatch):
    monkeypatch.setenv("UPSCALER_DEVICE", "cpu")
    assert select_device().type == "cpu"
    monkeypatch.setenv("UPSCALER_DEVICE", "auto")
    assert select_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("UPSCALER_DEVICE", "tpu")
    with pytest.raises(InferenceError, match="auto, cpu or cuda"):
        select_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("UPSCALER_DEVICE", "cuda")
        with pytest.raises(InferenceError, match="no CUDA device"):
            select_device()
