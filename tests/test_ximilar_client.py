"""Ximilar's own client (`ximilar-client`) against a running server and a real worker: the
synchronous endpoints at 2x, 4x and 8x from _url, _base64 and _file, every format, alpha in
and out, every mode and model, the price by output size, and the asynchronous requests with
their webhook. Each upscale is an ordinary precise job of the `ximilar` surface."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import requests
from PIL import Image
from standardwebhooks import Webhook

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images, ximilar
from tests.flows import download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def done(answer: dict) -> dict:
    """The one record of a successful answer, after checking Ximilar's shape around it."""
    assert set(answer) == {"records", "statistics", "status"}, answer
    assert answer["status"]["code"] == 200 and answer["status"]["text"] == "OK", answer["status"]
    assert set(answer["status"]) == {"code", "text", "request_id", "proc_id"}
    assert isinstance(answer["statistics"]["processing time"], float)
    [record] = answer["records"]
    assert set(record) >= ximilar.RECORD_KEYS and "_base64" not in record
    assert record["_status"] == {"code": 200, "text": "OK", "request_id": answer["status"]["request_id"]}
    return record


def test_each_scale_from_url_base64_and_file_through_the_client(
    celery_worker, live_server, account, tmp_path, file_server
):
    client = ximilar.client(live_server.url, account.raw_key)
    data = images.png(16, 12)
    url = file_server.add("/photo.png", data, "image/png")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    sources = {
        2: {"_url": url, "sku": "A-1"},
        4: {"_base64": ximilar.data_uri(data), "sku": "A-2", "noresize": True},
        8: {"_file": str(path), "sku": "A-3"},
    }
    for scale, record in sources.items():
        answer = client.upscale([record], scale, model_type=None)
        result = done(answer)
        assert (result["_width"], result["_height"]) == (16, 12)
        assert (result["_upscaled_width"], result["_upscaled_height"]) == (16 * scale, 12 * scale)
        assert result["sku"] == record["sku"]  # the record's own fields come back
        if "_url" in record:
            assert result["_url"] == url
        image, _ = download_image(result["_upscaled_image_url"])
        assert (image.format, image.size) == ("JPEG", (16 * scale, 12 * scale))  # no alpha: jpg

        job = Job.objects.get(pk=result["_id"])
        assert (job.surface, job.mode, job.status, job.params["upscaleFactor"]) == (
            "ximilar",
            "precise",
            "SUCCESS",
            scale,
        )
        # Ximilar's classic model is the faithful network: DAT-light at 2x, at 4x (and twice for 8x).
        network = "DAT_light_x2" if scale == 2 else "DAT_light_x4"
        assert job.webhook_url == "" and job.engine == f"precise/{network}" and job.model == network
        assert job.finished_at + timedelta(hours=24) == job.expires_at  # Ximilar's 24 hours
    account.refresh_from_db()
    assert account.balance == 100 - 3 == account.ledger_sum()
    assert LedgerEntry.objects.filter(kind="debit").count() == 3


def test_each_format_and_alpha_in_and_out(celery_worker, live_server, account):
    client = ximilar.client(live_server.url, account.raw_key)
    rgba = images.pattern(16, 12, mode="RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((16, 12)))
    with_alpha = images.encode(rgba, "PNG")
    for image_format, pil_format in FORMATS.items():
        for data in (images.png(16, 12), with_alpha):
            record = done(
                client.upscale([{"_base64": ximilar.data_uri(data)}], 2, model_type=None, image_format=image_format)
            )
            image, _ = download_image(record["_upscaled_image_url"])
            assert (image.format, image.size) == (pil_format, (32, 24))
            keeps_alpha = data is with_alpha and image_format != "jpg"
            assert ("A" in image.getbands()) == keeps_alpha, (image_format, image.mode)
    # No image_format: alpha comes back as png, the rest as jpg.
    image, _ = download_image(
        done(client.upscale([{"_base64": ximilar.data_uri(with_alpha)}], 2, model_type=None))["_upscaled_image_url"]
    )
    assert image.format == "PNG" and image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3].astype(float)
    assert alpha[0].mean() < 60 and alpha[-1].mean() > 190  # the gradient, upscaled
    # image_quality reaches the file.
    sizes = [
        len(
            download_image(
                done(
                    client.upscale(
                        [{"_base64": ximilar.data_uri(images.png(16, 12))}],
                        2,
                        model_type=None,
                        image_format="jpg",
                        image_quality=q,
                    )
                )["_upscaled_image_url"]
            )[1]
        )
        for q in (10, 95)
    ]
    assert sizes[0] < 0.7 * sizes[1], sizes


def test_every_mode_and_model_is_a_different_operation(celery_worker, live_server, account):
    client = ximilar.client(live_server.url, account.raw_key)
    data = images.png(16, 16)
    outputs = {}
    for model_type in ("gan", None):
        for mode in ("artifact_removal", "ironed_out", "high_fidelity"):
            record = done(
                client.upscale(
                    [{"_base64": ximilar.data_uri(data)}], 2, model_type=model_type, mode=mode, image_format="png"
                )
            )
            image, _ = download_image(record["_upscaled_image_url"])
            outputs[model_type, mode] = np.asarray(image.convert("RGB")).astype(float)
            job = Job.objects.get(pk=record["_id"])
            network = "RealESRGAN_x4plus" if model_type else "DAT_light_x2"
            assert job.engine == f"precise/{network}"
            finish = {"artifact_removal": "clean", "ironed_out": "smooth", "high_fidelity": "none"}[mode]
            assert (job.params["finish"], job.params["classic"], job.params["matchColors"]) == (
                finish,
                model_type is None,
                True,
            )
    for a in outputs:
        for b in outputs:
            if a != b:
                assert np.abs(outputs[a] - outputs[b]).mean() > 0.5, (a, b)

    def fine_detail(output):
        return float(np.abs(np.diff(output, axis=0)).mean() + np.abs(np.diff(output, axis=1)).mean())

    for model_type in ("gan", None):
        assert fine_detail(outputs[model_type, "ironed_out"]) < fine_detail(outputs[model_type, "high_fidelity"])
    # The default mode is artifact_removal, tune_colors is on; tune_colors false reaches the job.
    record = done(client.upscale([{"_base64": ximilar.data_uri(data)}], 2, model_type=None, tune_colors=False))
    job = Job.objects.get(pk=record["_id"])
    assert (job.params["finish"], job.params["matchColors"]) == ("clean", False)


def test_the_price_is_by_output_size_whatever_the_endpoint(celery_worker, live_server, account, settings):
    # The classic model (DAT-light) costs twice the per-megapixel price: 2 x 1000 a megapixel.
    settings.PRICE_PER_OUTPUT_MEGAPIXEL = {**settings.PRICE_PER_OUTPUT_MEGAPIXEL, "precise": 1000}
    client = ximilar.client(live_server.url, account.raw_key)
    costs = {}
    for side, scale in ((40, 2), (20, 4), (40, 4)):
        record = done(client.upscale([{"_base64": ximilar.data_uri(images.png(side, side))}], scale, model_type=None))
        costs[side, scale] = Job.objects.get(pk=record["_id"]).credit_cost
    # 40 px at 2x and 20 px at 4x are both 80x80: 0.0064 MP at 2 x 1000 credits per MP.
    assert costs[40, 2] == costs[20, 4] == 13
    assert costs[40, 4] == 51
    account.refresh_from_db()
    assert account.balance == 100 - 13 - 13 - 51 == account.ledger_sum()


def test_plain_http_with_token_or_bearer_and_the_job_is_an_ordinary_one(celery_worker, live_server, account):
    ids = []
    for scheme, path in (("Token", "/upscaler/2x/upscale"), ("Bearer", "/upscaler/2x/upscale/")):
        body = {"records": [{"_base64": ximilar.data_uri(images.png(8, 8))}], "something_new": 1}
        r = ximilar.post(live_server.url, account.raw_key, path, body, scheme=scheme)
        assert r.status_code == 200, r.text
        record = done(r.json())
        assert record["_upscaled_width"] == 16
        ids.append(record["_id"])
    # The account's ordinary jobs: the status endpoint and the jobs list show them.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {account.raw_key}"
    status = session.get(f"{live_server.url}/api/v1/status/{ids[0]}", timeout=30).json()
    assert (status["status"], status["surface"], status["mode"], status["outputWidth"]) == (
        "SUCCESS",
        "ximilar",
        "precise",
        16,
    )
    listed = session.get(f"{live_server.url}/api/v1/jobs", timeout=30).json()
    assert set(ids) <= {job["id"] for job in listed["results"]}


def test_the_asynchronous_form_through_the_clients_asyncr(celery_worker, live_server, account, webhook_receiver):
    client = ximilar.async_client(live_server.url, account.raw_key)
    request = client.submit(
        {
            "endpoint": "upscale_4x",
            "records": [{"_base64": ximilar.data_uri(images.png(12, 10)), "sku": "B-7"}],
            "mode": "high_fidelity",
            "image_format": "webp",
            "webhook": {"endpoint": webhook_receiver.url + "/hook", "headers": {"X-Shop-Token": "s3cret"}},
        },
        "upscaler",
    )
    assert (request.status, request.type, request.response) == ("CREATED", "upscaler", None)
    job = Job.objects.get(pk=request.id)
    assert (job.surface, job.webhook_headers) == ("ximilar", {"X-Shop-Token": "s3cret"})

    ximilar.wait_done(request)
    assert request.status == "DONE"
    record = done(request.response)
    assert (record["_id"], record["sku"], record["_upscaled_width"]) == (request.id, "B-7", 48)
    image, _ = download_image(record["_upscaled_image_url"])
    assert (image.format, image.size) == ("WEBP", (48, 40))
    # The response is the very body the synchronous endpoint answers.
    fetched, _ = client.get_request(request.id)
    assert fetched.response == request.response and fetched.status == "DONE"

    [call] = webhook_receiver.wait_for(1)
    assert call["headers"]["X-Shop-Token"] == "s3cret"
    account.refresh_from_db()
    payload = Webhook(account.webhook_secret).verify(call["body"], call["headers"])  # signed
    assert payload == {"id": request.id, "status": "DONE", "type": "upscaler", "response": request.response}
    assert job.webhook_deliveries.get().succeeded  # logged like any delivery

    listed, _, meta = client.get_requests(type="upscaler", status="DONE")
    assert request.id in [r.id for r in listed] and meta["count"] >= 1
