"""The web app's "same job through the API" is right for every surface's jobs: the curl
command shown on a job's page, run as it is (with the key in $UPSCALER_API_KEY and the
input file beside it), submits the same job again through that job's own API."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest

from jobs.models import Job
from jobs.web import curl
from tests import images, maskr, ximilar

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_curl(command: str, workdir, key: str) -> str:
    """Runs the command in bash from `workdir`; returns the HTTP status it got."""
    out = subprocess.run(
        ["bash", "-c", command + " -sS -o answer.json -w '%{http_code}'"],
        cwd=workdir,
        env={**os.environ, "UPSCALER_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def again(account, first: Job, command: str, workdir) -> Job:
    assert run_curl(command, workdir, account.raw_key) == "200", (workdir / "answer.json").read_text()
    second = Job.objects.filter(account=account).exclude(pk=first.pk).get()
    assert (second.surface, second.mode, second.output_format, second.output_quality) == (
        first.surface,
        first.mode,
        first.output_format,
        first.output_quality,
    )
    assert (second.input_width, second.input_height, second.output_width, second.output_height) == (
        first.input_width,
        first.input_height,
        first.output_width,
        first.output_height,
    )
    return second


def test_a_ximilar_requests_curl_is_a_ximilar_request(celery_worker, live_server, account, tmp_path):
    data = images.png(24, 20)
    body = {
        "records": [{"_base64": ximilar.data_uri(data), "sku": "A-1"}],
        "image_format": "webp",
        "tune_colors": False,
    }
    r = ximilar.post(live_server.url, account.raw_key, "/upscaler/2x/upscale", body)
    assert r.status_code == 200, r.text
    first = Job.objects.get(account=account)
    command = curl.command(first, live_server.url)
    assert "/upscaler/2x/upscale" in command and "Token $UPSCALER_API_KEY" in command

    (tmp_path / "input.png").write_bytes(data)
    second = again(account, first, command, tmp_path)
    sent, resent = first.params["ximilar"], second.params["ximilar"]
    for name in ("endpoint", "mode", "model_type", "image_format", "image_quality", "tune_colors", "record"):
        assert resent[name] == sent[name], name


def test_a_maskr_jobs_curl_is_a_maskr_upload(celery_worker, live_server, account, tmp_path):
    data = images.jpeg(20, 16)
    r = maskr.upload(live_server.url, account.raw_key, data, name="shop photo.jpg", scale_factor=2, quality=70)
    assert r.status_code == 200, r.text
    first = Job.objects.get(account=account)
    command = curl.command(first, live_server.url)
    assert "/v1/services/image-upscaling?scale_factor=2&output_format=jpeg&quality=70" in command

    (tmp_path / "shop photo.jpg").write_bytes(data)
    second = again(account, first, command, tmp_path)
    assert second.params == first.params  # the file's name included


def test_an_upsampler_jobs_curl_is_the_same_call(celery_worker, live_server, account, tmp_path):
    import requests

    data = images.png(24, 20)
    fields = {"imageBase64": base64.b64encode(data).decode(), "upscaleFactor": 2, "outputFormat": "webp"}
    r = requests.post(
        f"{live_server.url}/api/v1/precise-upscale",
        json={"input": fields},
        headers={"Authorization": f"Bearer {account.raw_key}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    first = Job.objects.get(account=account)
    (tmp_path / "input.png").write_bytes(data)
    second = again(account, first, curl.command(first, live_server.url), tmp_path)
    assert second.params == first.params
