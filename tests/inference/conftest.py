"""Fixtures for the inference tests: the real weights, and tiny models built on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.registry import MODELS

SHARED_MODELS = Path(__file__).resolve().parents[2].parent / "shared" / "models"


@pytest.fixture(scope="session", autouse=True)
def broker():
    """The platform's suite needs Redis; the inference tests need no service at all."""
    return None


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/models: the real Real-ESRGAN weights. Missing is a failure, not a skip."""
    missing = [
        MODELS[name].filename
        for name in ("RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B")
        if not (SHARED_MODELS / MODELS[name].filename).is_file()
    ]
    if missing:
        pytest.fail(f"the real weights are missing from {SHARED_MODELS}: {', '.join(missing)}")
    return SHARED_MODELS


def nearest_rrdbnet_state(seed: int | None = None) -> dict:
    """A tiny RRDBNet (8 features, 1 block) that spandrel detects as ESRGAN 4x.

    With ``seed=None`` its weights make it an exact nearest-neighbour 4x upscaler (the
    residual trunk is zero, every other convolution passes the 3 channels through), so
    tests can predict its output; with a seed it is randomly initialised.
    """
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    if seed is not None:
        torch.manual_seed(seed)
    network = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    if seed is None:
        with torch.no_grad():
            for name, module in network.named_modules():
                if not isinstance(module, torch.nn.Conv2d):
                    continue
                module.weight.zero_()
                module.bias.zero_()
                if not name.startswith("model.1."):  # outside the residual trunk
                    for channel in range(3):
                        module.weight[channel, channel, 1, 1] = 1.0
    return {key: value.contiguous() for key, value in network.state_dict().items()}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A model directory whose x4plus and anime_6B files are the nearest-neighbour RRDBNet."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-models")
    state = nearest_rrdbnet_state()
    for name in ("RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B"):
        save_file(state, str(folder / MODELS[name].filename))
    return folder


@pytest.fixture(scope="session")
def zoo(tmp_path_factory, tiny_models) -> Path:
    """A model directory with tiny community-style models of several architectures and
    scales (tests/inference/tiny_networks.py), alongside the tiny default models."""
    from tests.inference.tiny_networks import TINY, save

    folder = tmp_path_factory.mktemp("zoo")
    for path in tiny_models.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    for i, (name, (architecture, scale)) in enumerate(TINY.items()):
        # Most as safetensors, some as the pickles people share.
        suffix = {3: ".pth", 7: ".pth", 9: ".ckpt"}.get(i, ".safetensors")
        save(folder / f"{name}{suffix}", architecture, scale, seed=i)
    return folder
