"""Bring your own model: every file spandrel can load in the model directory, by its stem."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from spandrel import ModelLoader

from inference.catalog import scan
from inference.errors import ModelNotInstalledError, UnknownModelError
from inference.loader import load_model
from inference.modelinfo import ModelInfo
from inference.registry import model_files, resolve_model
from tests.inference.tiny_networks import TINY, save

REPO = Path(__file__).resolve().parents[2]


def test_it_lists_every_model_file_with_spandrels_metadata(zoo):
    found = {info.name: info for info in scan(zoo)}
    assert set(found) == set(TINY) | {"RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B"}
    for name, (architecture, scale) in TINY.items():
        info = found[name]
        assert info.error is None, info.error
        assert (info.architecture, info.scale) == (architecture, scale)
        assert (info.input_channels, info.output_channels) == (3, 3)
        assert info.parameters > 0 and not info.registered
        path = zoo / info.file
        assert info.size_bytes == path.stat().st_size
        assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert info.tiling in ("supported", "discouraged") and info.context > 0
    assert found["2x_SwinIR_tiny"].tiling == "discouraged"
    assert found["8x_ESRGAN_tiny"].file == "8x_ESRGAN_tiny.pth"
    assert found["3x_SPAN_tiny"].file == "3x_SPAN_tiny.ckpt"  # a {"state_dict": ...} checkpoint
    assert found["RealESRGAN_x4plus"].registered


def test_each_saved_file_is_one_spandrel_detects_on_its_own(zoo):
    for name, (architecture, scale) in TINY.items():
        descriptor = ModelLoader().load_from_file(model_files(zoo)[name])
        assert (descriptor.architecture.id, descriptor.scale) == (architecture, scale)


def test_it_scans_the_real_default_models(shared_models):
    found = {info.name: info for info in scan(shared_models)}
    x4plus = found["RealESRGAN_x4plus"]
    assert (x4plus.architecture, x4plus.scale, x4plus.parameters) == ("ESRGAN", 4, 16_697_987)
    assert x4plus.sha256 == "326813bc8459cea7a0d4073f2beda924edf3338510d51e6cb89890c840d428ec"
    assert x4plus.supports_half and x4plus.registered and x4plus.error is None
    assert found["RealESRGAN_x4plus_anime_6B"].parameters == 4_467_779
    assert (found["realesr-animevideov3"].architecture, found["realesr-animevideov3"].context) == ("Compact", 12)


def test_it_lists_files_that_are_not_models_with_the_reason(tmp_path):
    save(tmp_path / "good.safetensors", "Compact", 2)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "unknown.pth")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    save(tmp_path / "grey.safetensors", "Compact", 2)  # overwritten below with a 1-channel one
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact

    grey = Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2)
    save_file({k: v.contiguous() for k, v in grey.state_dict().items()}, str(tmp_path / "grey.safetensors"))
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / ".4x.pth.abc.part").write_bytes(b"partial download")
    found = {info.name: info for info in scan(tmp_path)}
    assert set(found) == {"good", "junk", "unknown", "tensor", "grey"}
    assert found["good"].error is None
    assert "cannot be read" in found["junk"].error
    assert found["unknown"].error == "spandrel recognises no architecture in unknown.pth"
    assert "not a state dict" in found["tensor"].error
    assert found["grey"].architecture == "Compact" and "1 to 1 channels" in found["grey"].error
    assert all(info.sha256 and info.size_bytes > 0 for info in found.values())


def test_it_prefers_safetensors_when_a_stem_has_both(tmp_path):
    save(tmp_path / "mine.pth", "ESRGAN", 4)
    save(tmp_path / "mine.safetensors", "Compact", 2)
    (info,) = scan(tmp_path)
    assert (info.file, info.architecture, info.scale) == ("mine.safetensors", "Compact", 2)
    assert resolve_model("mine", tmp_path).name == "mine.safetensors"
    assert load_model("mine", tmp_path).scale == 2


class Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("layout", ["torch.save", "plain pickle"])
@pytest.mark.parametrize("suffix", [".pth", ".ckpt", ".pt"])
def test_it_refuses_a_pickle_that_would_run_code_and_never_runs_it(tmp_path, layout, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"4x_evil{suffix}"
    state = {"model.0.weight": torch.zeros(8, 3, 3, 3), "payload": Payload(marker)}
    if layout == "torch.save":
        torch.save(state, path)
    else:
        path.write_bytes(pickle.dumps(state))
    (info,) = scan(tmp_path)
    assert info.architecture is None and "refused" in info.error, info.error
    with pytest.raises(ModelNotInstalledError, match="refused"):
        load_model("4x_evil", tmp_path)
    assert not marker.exists()  # the payload never ran
    if layout == "torch.save":
        assert "posix.system" in info.error or "os.system" in info.error


def test_it_refuses_torchscript_archives(tmp_path):
    torch.jit.save(torch.jit.trace(torch.nn.Conv2d(3, 3, 3), torch.zeros(1, 3, 8, 8)), tmp_path / "scripted.pt")
    (info,) = scan(tmp_path)
    assert "TorchScript" in info.error


def test_it_names_the_installed_models_for_an_unknown_name(zoo):
    with pytest.raises(UnknownModelError) as caught:
        load_model("4x-UltraSharp", zoo)
    message = str(caught.value)
    assert "No model named '4x-UltraSharp'" in message and str(zoo) in message
    assert "2x_SPAN_tiny" in message and "RealESRGAN_x4plus" in message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ModelNotInstalledError)


def test_model_info_goes_to_json_and_back(zoo):
    for info in scan(zoo):
        data = json.loads(json.dumps(info.to_dict()))
        assert ModelInfo.from_dict(data) == info
    data = scan(zoo)[0].to_dict() | {"added_by_a_newer_scan": 1}
    assert ModelInfo.from_dict(data).name == scan(zoo)[0].name


def test_the_web_tier_reads_recorded_metadata_without_torch():
    probe = (
        "import sys, inference.modelinfo, inference.catalog, inference.registry\n"
        "from inference.modelinfo import ModelInfo\n"
        "info = ModelInfo.from_dict({'name': 'a', 'file': 'a.pth', 'size_bytes': 1, 'sha256': 'x', 'scale': 2})\n"
        "assert info.scale == 2 and info.usable\n"
        "print(','.join(m for m in ('torch', 'spandrel', 'safetensors') if m in sys.modules) or 'clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


def test_the_cli_lists_what_the_scan_finds(zoo, tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"junk")
    save(tmp_path / "2x_span.safetensors", "SPAN", 2)
    run = [sys.executable, "-m", "inference.models", "list", "--model-dir", str(tmp_path)]
    done = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["2x_span", "SPAN", "2x"] for line in lines), done.stdout
    assert any(line.startswith("junk") and "cannot be read" in line for line in lines), done.stdout
    done = subprocess.run([*run, "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    listed = {item["name"]: item for item in json.loads(done.stdout)}
    assert listed["2x_span"]["architecture"] == "SPAN" and listed["junk"]["error"]
