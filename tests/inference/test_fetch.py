"""Fetching the official weights: streamed, verified, atomic, idempotent; tested on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from inference import registry
from inference.errors import FetchError
from inference.fetch import fetch_models
from inference.loader import load_model
from tests.inference.conftest import nearest_rrdbnet_state

REPO = Path(__file__).resolve().parents[2]


class Mirror:
    """A local HTTP server holding files by name, counting the requests it gets."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/weights"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def put(self, name: str, data: bytes) -> str:
        (self.folder / "weights").mkdir(exist_ok=True)
        (self.folder / "weights" / name).write_bytes(data)
        return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    server = Mirror(tmp_path / "mirror")
    server.folder.mkdir()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def weights() -> bytes:
    buffer = io.BytesIO()
    torch.save(nearest_rrdbnet_state(), buffer)
    return buffer.getvalue()


def expect_sha(monkeypatch, name: str, sha256: str | None) -> None:
    spec = dataclasses.replace(registry.MODELS[name], sha256=sha256)
    monkeypatch.setitem(registry.MODELS, name, spec)


def test_it_downloads_verifies_and_installs_a_loadable_model(mirror, weights, tmp_path, monkeypatch):
    expect_sha(monkeypatch, "RealESRGAN_x4plus", mirror.put("RealESRGAN_x4plus.pth", weights))
    target = tmp_path / "models"
    lines = []
    paths = fetch_models(["RealESRGAN_x4plus"], target, base_url=mirror.url, log=lines.append)
    assert paths == [target / "RealESRGAN_x4plus.pth"]
    assert paths[0].read_bytes() == weights
    assert sorted(p.name for p in target.iterdir()) == ["RealESRGAN_x4plus.pth"]  # no temp left
    assert mirror.requests == ["/weights/RealESRGAN_x4plus.pth"]
    assert registry.is_installed("RealESRGAN_x4plus", target)
    assert load_model("RealESRGAN_x4plus", target).scale == 4
    assert any("saved" in line for line in lines)


def test_it_deletes_a_download_with_the_wrong_checksum(mirror, tmp_path, monkeypatch):
    actual = mirror.put("RealESRGAN_x4plus.pth", b"not the weights")
    expect_sha(monkeypatch, "RealESRGAN_x4plus", "0" * 64)
    target = tmp_path / "models"
    with pytest.raises(FetchError) as caught:
        fetch_models(["RealESRGAN_x4plus"], target, base_url=mirror.url, log=lambda _: None)
    assert f"expected {'0' * 64}, got {actual}" in str(caught.value)
    assert list(target.iterdir()) == []


def test_it_skips_files_already_present_and_valid(mirror, weights, tmp_path, monkeypatch):
    expect_sha(monkeypatch, "RealESRGAN_x4plus", mirror.put("RealESRGAN_x4plus.pth", weights))
    target = tmp_path / "models"
    fetch_models(["RealESRGAN_x4plus"], target, base_url=mirror.url, log=lambda _: None)
    fetch_models(["RealESRGAN_x4plus"], target, base_url=mirror.url, log=lambda _: None)
    assert len(mirror.requests) == 1
    (target / "RealESRGAN_x4plus.pth").write_bytes(b"damaged")
    fetch_models(["RealESRGAN_x4plus"], target, base_url=mirror.url, log=lambda _: None)
    assert len(mirror.requests) == 2
    assert (target / "RealESRGAN_x4plus.pth").read_bytes() == weights


def test_it_counts_a_repacked_safetensors_as_installed_unless_forced(mirror, weights, tmp_path, monkeypatch):
    expect_sha(monkeypatch, "RealESRGAN_x4plus", mirror.put("RealESRGAN_x4plus.pth", weights))
    (tmp_path / "RealESRGAN_x4plus.safetensors").write_bytes(b"x")
    paths = fetch_models(["RealESRGAN_x4plus"], tmp_path, base_url=mirror.url, log=lambda _: None)
    assert paths == [tmp_path / "RealESRGAN_x4plus.safetensors"] and mirror.requests == []
    fetch_models(["RealESRGAN_x4plus"], tmp_path, base_url=mirror.url, force=True, log=lambda _: None)
    assert (tmp_path / "RealESRGAN_x4plus.pth").read_bytes() == weights


def test_it_reports_an_unreachable_file_and_an_unknown_name(mirror, tmp_path):
    target = tmp_path / "models"
    with pytest.raises(FetchError, match=r"RealESRGAN_x4plus_anime_6B.pth failed: HTTP Error 404"):
        fetch_models(["RealESRGAN_x4plus_anime_6B"], target, base_url=mirror.url, log=lambda _: None)
    assert list(target.iterdir()) == []
    with pytest.raises(FetchError, match="Unknown model"):
        fetch_models(["nope"], tmp_path, base_url=mirror.url, log=lambda _: None)


def test_the_command_fetches_and_fails_loudly(mirror, weights, tmp_path):
    mirror.put("realesr-animevideov3.pth", weights)  # no checksum is recorded for this one
    mirror.put("RealESRGAN_x4plus.pth", weights)  # not the official file: sha256 differs
    command = [sys.executable, "-m", "inference.fetch", "--dir", str(tmp_path), "--base-url", mirror.url]
    done = subprocess.run([*command, "realesr-animevideov3"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "realesr-animevideov3.pth").read_bytes() == weights
    assert hashlib.sha256(weights).hexdigest() in done.stdout
    failed = subprocess.run([*command, "RealESRGAN_x4plus"], cwd=REPO, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "expected 4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1" in failed.stderr
    assert not (tmp_path / "RealESRGAN_x4plus.pth").exists()
