"""Fetching the smart pipeline: a Hub snapshot of its diffusers folders, checked, moved into place."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import pytest

from inference import fetch
from inference.diffusion_tiny import build_tiny_pipeline
from inference.errors import FetchError
from inference.fetch import fetch_models
from inference.registry import MODELS, PIPELINES, SMART_PIPELINE, is_installed, known_names


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """What the Hub repository holds, as far as the allowed patterns reach."""
    folder = tmp_path_factory.mktemp("hub") / "repo"
    build_tiny_pipeline(folder)
    return folder


def fake_hub(monkeypatch, source: Path, calls: list[dict], drop: str | None = None) -> None:
    def snapshot_download(**kwargs):
        calls.append(kwargs)
        shutil.copytree(source, kwargs["local_dir"], dirs_exist_ok=True)
        (Path(kwargs["local_dir"]) / ".cache" / "huggingface").mkdir(parents=True)
        if drop:
            shutil.rmtree(Path(kwargs["local_dir"]) / drop)
        return kwargs["local_dir"]

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)


def test_it_downloads_the_diffusers_folders_into_place(published, tmp_path, monkeypatch):
    calls: list[dict] = []
    fake_hub(monkeypatch, published, calls)
    paths = fetch_models([SMART_PIPELINE], tmp_path, log=lambda _: None)
    assert paths == [tmp_path / SMART_PIPELINE] and is_installed(SMART_PIPELINE, tmp_path)
    assert not (tmp_path / SMART_PIPELINE / ".cache").exists()
    assert [p.name for p in tmp_path.iterdir()] == [SMART_PIPELINE]  # no staging left behind
    spec = PIPELINES[SMART_PIPELINE]
    assert calls[0]["repo_id"] == spec.repo_id == "stabilityai/stable-diffusion-x4-upscaler"
    assert "*.ckpt" not in calls[0]["allow_patterns"] and "*/*.safetensors" in calls[0]["allow_patterns"]

    fetch_models([SMART_PIPELINE], tmp_path, log=lambda _: None)
    assert len(calls) == 1  # already installed: nothing downloaded
    fetch_models([SMART_PIPELINE], tmp_path, force=True, base_url="http://mirror.invalid", log=lambda _: None)
    assert len(calls) == 2 and calls[1]["endpoint"] == "http://mirror.invalid"
    assert is_installed(SMART_PIPELINE, tmp_path)


def test_it_refuses_an_incomplete_download_and_keeps_nothing(published, tmp_path, monkeypatch):
    fake_hub(monkeypatch, published, [], drop="unet")
    with pytest.raises(FetchError, match="incomplete: .* no unet/ folder"):
        fetch_models([SMART_PIPELINE], tmp_path, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_it_reports_a_failed_download(tmp_path, monkeypatch):
    def offline(**kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(FetchError, match="stabilityai/stable-diffusion-x4-upscaler failed: no route to host"):
        fetch_models([SMART_PIPELINE], tmp_path, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_pipelines_are_fetched_only_by_name(tmp_path, monkeypatch):
    fetched: list[str] = []
    calls: list[dict] = []
    monkeypatch.setattr(fetch, "_fetch_one", lambda spec, folder, **kwargs: fetched.append(spec.name) or folder)
    fake_hub(monkeypatch, tmp_path, calls)
    fetch_models(None, tmp_path / "models", log=lambda _: None)
    assert fetched == list(MODELS) and calls == []  # a deployment's plain fetch stays small
    assert SMART_PIPELINE in known_names()
