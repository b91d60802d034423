"""A canceled job has ended too (issue 22, item 11): its webhook or callback fires, through
the one webhook delivery, in its surface's final shape (APIXO: failed; Ximilar: DONE with
the error in its response; Upsampler: CANCELED). Only a webhooks worker runs here, so the
jobs stay queued until they are canceled."""

from __future__ import annotations

import base64

import pytest
import requests
from standardwebhooks import Webhook

from jobs.models import Job
from tests import apixo, images, ximilar

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def cancel(base: str, key: str, job_id: str) -> None:
    r = requests.post(f"{base}/api/v1/cancel/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text


def test_canceling_sends_each_surfaces_final_webhook(make_worker, live_server, account, file_server, webhook_receiver):
    make_worker(queues="webhooks")
    base, key = live_server.url, account.raw_key

    task = apixo.task_id(
        apixo.generate(
            base,
            key,
            apixo.body(file_server.add("/a.png", images.png()), request_type="callback")
            | {"callback_url": webhook_receiver.url + "/apixo"},
        )
    )
    request = ximilar.async_client(base, key).submit(
        {
            "endpoint": "upscale_4x",
            "records": [{"_base64": ximilar.data_uri(images.png(12, 10))}],
            "webhook": {"endpoint": webhook_receiver.url + "/ximilar"},
        },
        "upscaler",
    )
    r = requests.post(
        f"{base}/api/v1/precise-upscale",
        json={
            "input": {"imageBase64": base64.b64encode(images.png()).decode(), "upscaleFactor": 2},
            "webhook": webhook_receiver.url + "/upsampler",
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    upsampler = r.json()["id"]
    for job_id in (task, request.id, upsampler):
        cancel(base, key, job_id)

    calls = webhook_receiver.wait_for(3)
    account.refresh_from_db()
    for call in calls:
        Webhook(account.webhook_secret).verify(call["body"], call["headers"])  # signed like any delivery
    payloads = {p.get("id") or p["data"]["taskId"]: p for p in webhook_receiver.payloads()}

    data = payloads[task]["data"]
    assert (payloads[task]["code"], data["state"], data["failCode"]) == (200, "failed", "Unknown error")
    assert data["failMsg"] == "The job was canceled. Your credits have been refunded."
    done = payloads[request.id]
    assert (done["status"], done["type"]) == ("DONE", "upscaler")
    assert done["response"]["status"]["code"] == 500
    assert "canceled" in done["response"]["status"]["error_description"]
    assert payloads[upsampler]["status"] == "CANCELED"
    for job_id in (task, request.id, upsampler):
        assert Job.objects.get(pk=job_id).webhook_deliveries.get().succeeded
