"""APIXO tasks over HTTP with a real worker: each output format at 2k, to the exact size
(the long side 2048, the aspect ratio kept), polled with statusTask; and a callback task
whose success is POSTed to a real receiver, signed, in the envelope statusTask answers.

The tasks run the compact Real-ESRGAN network (APIXO_MODEL, realesr-animevideov3, from
../shared/models): the default RealESRGAN_x4plus takes minutes on these CPUs for a
2048-pixel output. The default network's tier sizes and passes are checked at the engine
level (tests/inference/test_tiers.py)."""

from __future__ import annotations

import json

import pytest
import requests
from standardwebhooks import Webhook

from billing.models import LedgerEntry
from billing.pricing import price
from jobs.models import Job
from tests import apixo, images
from tests.flows import download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FAST_NETWORK = "realesr-animevideov3"


@pytest.fixture(autouse=True)
def fast_network(settings):
    settings.APIXO_MODEL = FAST_NETWORK


def succeeded(answer: dict) -> dict:
    assert answer["code"] == 200 and answer["message"] == "success", answer
    data = answer["data"]
    assert data["state"] == "success", data
    assert set(data) == {"taskId", "state", "resultJson", "createTime", "completeTime", "costTime"}
    assert all(isinstance(data[name], int) for name in ("createTime", "completeTime", "costTime"))
    assert 0 < data["costTime"] <= data["completeTime"] - data["createTime"]
    return data


@pytest.mark.parametrize(
    ("output_format", "pil_format", "input_size", "output_size"),
    [
        # (landscape 4:3, portrait, and a wide one whose short side is rounded: 17 * 2048 / 250 = 139.3)
        ("jpg", "JPEG", (128, 96), (2048, 1536)),
        ("png", "PNG", (96, 128), (1536, 2048)),
        ("webp", "WEBP", (250, 17), (2048, 139)),
    ],
)
def test_async_2k_is_that_format_at_the_exact_size(
    celery_worker, live_server, account, file_server, output_format, pil_format, input_size, output_size
):
    url = file_server.add(f"/in-{output_format}.png", images.png(*input_size))
    payload = apixo.body(url, resolution="2k", output_format=output_format)
    task = apixo.task_id(apixo.generate(live_server.url, account.raw_key, payload))

    data = succeeded(apixo.wait(live_server.url, account.raw_key, task))
    assert data["taskId"] == task
    [result] = apixo.result_urls(data)
    assert "expires=" in result and "signature=" in result
    image, _ = download_image(result)
    assert (image.format, image.size) == (pil_format, output_size)

    job = Job.objects.get(pk=task)
    assert (job.surface, job.mode, job.status, job.engine) == ("apixo", "precise", "SUCCESS", f"precise/{FAST_NETWORK}")
    assert (job.output_width, job.output_height) == output_size
    assert abs(data["completeTime"] - job.finished_at.timestamp() * 1000) < 1
    # Charged from the one ledger by the output size, and not refunded.
    assert job.credit_cost == price("precise", *output_size) == 1
    assert [(e.kind, e.amount) for e in LedgerEntry.objects.filter(job=job)] == [("debit", -1)]
    account.refresh_from_db()
    assert account.balance == 99 == account.ledger_sum()


def test_a_callback_task_posts_its_success_signed_in_apixos_envelope(
    celery_worker, live_server, account, file_server, webhook_receiver
):
    url = file_server.add("/small.png", images.png(80, 20))
    payload = {
        **apixo.body(url, "callback", resolution="2k", output_format="png"),
        "callback_url": webhook_receiver.url,
    }
    task = apixo.task_id(apixo.generate(live_server.url, account.raw_key, payload))

    [call] = webhook_receiver.wait_for(1, timeout=180)
    sent = json.loads(call["body"])
    data = succeeded(sent)
    assert data["taskId"] == task
    image, _ = download_image(apixo.result_urls(data)[0])
    assert (image.format, image.size) == ("PNG", (2048, 512))
    # What statusTask answers once it is done, and verifiable with the account's secret.
    assert apixo.status(live_server.url, account.raw_key, task).json() == sent
    headers = {name.lower(): value for name, value in call["headers"].items()}
    Webhook(account.webhook_secret).verify(call["body"], headers)
    assert headers["webhook-id"] == f"msg_{task}"

    # The attempt is recorded and the account sees it.
    r = requests.get(
        f"{live_server.url}/api/v1/jobs/{task}/webhook-deliveries", headers=apixo.headers(account.raw_key), timeout=10
    )
    [attempt] = r.json()
    assert (attempt["attempt"], attempt["statusCode"], attempt["succeeded"]) == (1, 200, True)
    assert attempt["url"] == webhook_receiver.url
