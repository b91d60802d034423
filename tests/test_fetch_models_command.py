"""`manage.py fetch_models` against a local mirror: verified downloads, refused mismatches."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from inference import registry


def test_it_refuses_a_file_whose_sha256_does_not_match(file_server, tmp_path):
    spec = registry.MODELS["RealESRGAN_x4plus"]
    file_server.add(f"/{spec.name}.pth", b"not the real weights")
    with pytest.raises(CommandError) as error:
        call_command(
            "fetch_models", spec.name, "--dir", str(tmp_path), "--base-url", file_server.url, stdout=io.StringIO()
        )
    assert "sha256" in str(error.value)
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_it_downloads_and_verifies_into_the_model_dir(file_server, tmp_path, monkeypatch):
    import dataclasses

    body = b"weights" * 1000
    spec = dataclasses.replace(registry.MODELS["realesr-animevideov3"], sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    file_server.add(f"/{spec.name}.pth", body)
    out = io.StringIO()
    call_command("fetch_models", spec.name, "--dir", str(tmp_path), "--base-url", file_server.url, stdout=out)
    assert (tmp_path / f"{spec.name}.pth").read_bytes() == body
    assert "ok " in out.getvalue()


def test_it_names_unknown_models():
    with pytest.raises(CommandError, match="Unknown model"):
        call_command("fetch_models", "NotAModel")
