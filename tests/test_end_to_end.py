"""The whole product over real HTTP: web app (live server), a real Celery worker process,
PostgreSQL, Redis, an image host and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest
import requests

from billing.models import LedgerEntry
from tests import images
from tests.flows import Client, download_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CASES = [
    # (endpoint, source, extra input fields, input size, expected output size, credits)
    ("precise-upscale", "url", {"upscaleFactor": 2}, (24, 20), (48, 40), 1),
    ("precise-upscale", "base64", {"upscaleFactor": 2.5, "inputImageType": "anime"}, (24, 20), (60, 50), 1),
    ("dynamic-upscale", "base64", {"upscaleFactor": 1.5, "resemblance": 3, "detail": 7}, (24, 20), (36, 30), 1),
    ("dynamic-upscale", "url", {"upscaleFactor": 2}, (20, 16), (40, 32), 1),
    ("restore", "url", {}, (32, 24), (32, 24), 8),
    ("restore", "base64", {}, (24, 20), (24, 20), 8),
]


def test_it_runs_every_mode_end_to_end(celery_worker, live_server, file_server, webhook_receiver, account):
    client = Client(live_server.url, account.raw_key)
    submitted = []
    for i, (path, source, fields, (w, h), out, credits) in enumerate(CASES):
        data = images.jpeg(w, h) if i % 2 else images.png(w, h)
        if source == "url":
            image = {"imageUrl": file_server.add(f"/in{i}", data)}
        else:
            image = {"imageBase64": base64.b64encode(data).decode()}
        r = client.submit(path, {"webhook": webhook_receiver.url + f"/hook{i}", "input": {**image, **fields}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"id", "status", "creditCost"}
        assert body["status"] == "IN_QUEUE" and body["creditCost"] == credits
        submitted.append((body["id"], out))

    finals = {}
    for job_id, (w, h) in submitted:
        final, _ = client.wait(job_id)
        assert final["status"] == "SUCCESS", (final, celery_worker.log()[-3000:])
        png, _ = download_image(final["imageUrl"])
        jpg, raw_jpg = download_image(final["compressedImageUrl"])
        assert png.format == "PNG" and png.size == (w, h)
        assert jpg.format == "JPEG" and jpg.size == (w, h)
        assert final["expiresAt"]
        finals[job_id] = final

    account.refresh_from_db()
    spent = sum(c[-1] for c in CASES)
    assert account.balance == 100 - spent == account.ledger_sum()
    assert LedgerEntry.objects.filter(kind="debit").count() == len(CASES)
    assert not LedgerEntry.objects.filter(kind="refund").exists()

    calls = webhook_receiver.wait_for(len(CASES))
    by_id = {p["id"]: p for p in webhook_receiver.payloads()}
    assert by_id == finals  # the webhook carries exactly the status payload
    assert all(r["headers"]["webhook-id"] for r in calls)


def test_it_reports_progress_while_running(celery_worker, live_server, account):
    client = Client(live_server.url, account.raw_key)
    # 2 x 2 tiles of 192 px on the CPU (one tile would report only at the end); the anime
    # network keeps it quick.
    data = base64.b64encode(images.png(320, 240)).decode()
    r = client.submit(
        "precise-upscale", {"input": {"imageBase64": data, "upscaleFactor": 2, "inputImageType": "anime"}}
    )
    assert r.status_code == 200, r.text
    final, seen = client.wait(r.json()["id"])
    assert final["status"] == "SUCCESS", celery_worker.log()[-3000:]
    assert any(0 < p < 99 for p in seen), (client.polls, celery_worker.log()[-3000:])
    assert seen == sorted(seen)


def test_prefer_wait_answers_when_the_job_is_done(celery_worker, live_server, account):
    data = base64.b64encode(images.png(24, 20)).decode()
    r = requests.post(
        f"{live_server.url}/api/v1/precise-upscale",
        json={"input": {"imageBase64": data, "upscaleFactor": 2, "outputFormat": "webp"}},
        headers={"Authorization": f"Bearer {account.raw_key}", "Prefer": "wait=120"},
        timeout=180,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Preference-Applied"] == "wait=120"
    final = r.json()
    assert final["status"] == "SUCCESS", (final, celery_worker.log()[-3000:])
    image, _ = download_image(final["imageUrl"])
    assert image.format == "WEBP" and image.size == (48, 40)
    assert final == Client(live_server.url, account.raw_key).status(final["id"])
