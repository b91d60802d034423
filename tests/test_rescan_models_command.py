"""`manage.py rescan_models`: scans UPSCALER_MODEL_DIR in-process (torch, the worker extra),
records what it finds as a worker would, and attaches descriptions that survive rescans."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jobs.models import NetworkModel
from tests import model_zoo

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoo(tmp_path, settings):
    settings.UPSCALER_MODEL_DIR = str(model_zoo.build(tmp_path / "models", ["2x_SPAN_tiny", "1x_Compact_tiny"]))
    return tmp_path / "models"


def rescan(*args: str) -> str:
    out = StringIO()
    call_command("rescan_models", *args, stdout=out)
    return out.getvalue()


def test_it_records_the_models_and_attaches_a_description(zoo):
    out = rescan("--describe", "2x_SPAN_tiny", "Fast 2x for photos")
    assert "2 usable, 1 unusable, 0 no longer in the model directory" in out
    assert "described 2x_SPAN_tiny" in out
    row = NetworkModel.objects.get(pk="2x_SPAN_tiny")
    assert (row.architecture, row.scale, row.available, row.description) == ("SPAN", 2, True, "Fast 2x for photos")
    assert row.parameters > 0 and row.scanned_by.endswith("(rescan_models)")
    assert NetworkModel.objects.get(pk="1x_Compact_tiny").scale == 1
    broken = NetworkModel.objects.get(pk=model_zoo.BROKEN)
    assert not broken.available and "cannot be read" in broken.error
    assert "2x_SPAN_tiny" in out and "Fast 2x for photos" in out and "unavailable: 4x_Broken.safetensors" in out


def test_a_description_survives_a_rescan_and_a_file_gone_is_kept(zoo):
    rescan("--describe", "1x_Compact_tiny", "Denoiser")
    (zoo / "1x_Compact_tiny.pth").unlink()
    out = rescan()
    assert "1 no longer in the model directory" in out
    row = NetworkModel.objects.get(pk="1x_Compact_tiny")
    assert row.description == "Denoiser" and not row.available
    assert "was not in the model directory at the last scan" in row.error


def test_describe_without_scanning(zoo):
    rescan()
    before = NetworkModel.objects.get(pk="2x_SPAN_tiny").scanned_at
    rescan("--no-scan", "--describe", "2x_SPAN_tiny", "Sharper")
    row = NetworkModel.objects.get(pk="2x_SPAN_tiny")
    assert row.description == "Sharper" and row.scanned_at == before
    rescan("--no-scan", "--describe", "2x_SPAN_tiny", "")
    assert NetworkModel.objects.get(pk="2x_SPAN_tiny").description == ""


def test_it_refuses_an_unknown_name_and_a_missing_directory(zoo, settings):
    with pytest.raises(CommandError, match="No recorded model named 'nope'; recorded: 1x_Compact_tiny"):
        rescan("--describe", "nope", "x")
    with pytest.raises(CommandError, match="--no-scan does nothing without --describe"):
        rescan("--no-scan")
    settings.UPSCALER_MODEL_DIR = str(zoo / "missing")
    with pytest.raises(CommandError, match="does not exist"):
        rescan()
    assert NetworkModel.objects.filter(available=True).count() == 2  # nothing was marked gone
