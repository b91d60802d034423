"""The jobs pages: the list (newest first, filters, pagination), a job's page, its status
JSON, its files, cancel and webhook redelivery; another account's job is a 404 everywhere."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from PIL import Image

from billing.models import LedgerEntry
from jobs.models import Batch, Job, WebhookDelivery
from tests.test_admin_actions import make_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def listed(response) -> list[Job]:
    return list(response.context["page_obj"].object_list)


def test_it_lists_the_accounts_jobs_newest_first(web, account, other_account):
    old = make_job(account, created_ago=timedelta(hours=2))
    new = make_job(account, Job.Status.IN_QUEUE, mode="dynamic", created_ago=timedelta(minutes=1))
    make_job(other_account)
    r = web.get("/jobs")
    assert r.status_code == 200
    assert listed(r) == [new, old]
    page = r.content.decode()
    assert f'href="/jobs/{new.id}"' in page and "In queue" in page and "Done" in page
    assert f"/jobs/{old.id}/thumbnail/input" in page


def test_it_filters_by_status_mode_surface_and_batch(web, account):
    failed = make_job(account, Job.Status.FAILED, error="x")
    restore = make_job(account, mode="restore", cost=8)
    web_job = make_job(account, surface="web")
    batch = Batch.objects.create(account=account, surface="maskr", total_files=1)
    batched = make_job(account, surface="maskr")
    Job.objects.filter(pk=batched.pk).update(batch=batch)
    assert listed(web.get("/jobs?status=FAILED")) == [failed]
    assert listed(web.get("/jobs?mode=restore")) == [restore]
    assert listed(web.get("/jobs?surface=web")) == [web_job]
    r = web.get(f"/jobs?batch={batch.id}")
    assert [j.pk for j in listed(r)] == [batched.pk]
    assert f'<option value="{batch.id}" selected>' in r.content.decode()
    # An unknown value is ignored, and a filter with no match says so.
    assert len(listed(web.get("/jobs?status=NOPE"))) == 4
    r = web.get("/jobs?status=CANCELED")
    assert b'id="empty-filtered"' in r.content and b"Clear filters" in r.content


def test_another_accounts_batch_filters_to_nothing(web, other_account, account):
    make_job(account)
    theirs = Batch.objects.create(account=other_account, surface="maskr", total_files=1)
    assert listed(web.get(f"/jobs?batch={theirs.id}")) == []


def test_it_paginates(web, account):
    for minutes in range(25):
        make_job(account, created_ago=timedelta(minutes=minutes + 1))
    first = web.get("/jobs?status=SUCCESS")
    assert len(listed(first)) == 20
    assert b'href="?status=SUCCESS&amp;page=2"' in first.content
    second = web.get("/jobs?status=SUCCESS&page=2")
    assert len(listed(second)) == 5
    assert len(listed(web.get("/jobs?page=99"))) == 5  # past the end: the last page


def test_a_jobs_page_shows_its_parameters_outputs_and_deliveries(web, account):
    job = make_job(account, with_files=True, webhook_url="https://example.com/hook")
    Job.objects.filter(pk=job.pk).update(
        expires_at=job.finished_at + timedelta(hours=3),
        image_url=f"/files/outputs/{job.id}.png?x=1",
        compressed_image_url=f"/files/outputs/{job.id}.jpg?x=1",
        params={"upscaleFactor": 2.0, "shouldEnhanceFaces": False},
    )
    WebhookDelivery.objects.create(job=job, attempt=1, url=job.webhook_url, status_code=500, error="", duration_ms=12)
    r = web.get(f"/jobs/{job.id}")
    assert r.status_code == 200
    page = r.content.decode()
    assert str(job.id) in page
    assert '<dd class="mono">2</dd>' in page and '<dd class="mono">false</dd>' in page
    assert f'href="/files/outputs/{job.id}.png?x=1"' in page
    assert 'id="deliveries-table"' in page and ">500<" in page
    assert 'id="redeliver"' in page
    assert "$UPSCALER_API_KEY" in page


def test_expired_outputs_are_not_linked(web, account):
    job = make_job(account, with_files=True)
    from django.utils import timezone

    Job.objects.filter(pk=job.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1), image_url="/files/gone.png", files_deleted_at=timezone.now()
    )
    page = web.get(f"/jobs/{job.id}").content.decode()
    assert 'id="job-expired"' in page and "/files/gone.png" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/{id}",
        "/jobs/{id}/status.json",
        "/jobs/{id}/input",
        "/jobs/{id}/thumbnail/input",
    ],
)
def test_another_accounts_job_is_a_404(web, other_account, path):
    theirs = make_job(other_account, with_files=True)
    r = web.get(path.format(id=theirs.id))
    assert r.status_code == 404
    assert str(theirs.id).encode() not in r.content
    assert web.get(path.format(id=uuid.uuid4())).status_code == 404


@pytest.mark.parametrize("path", ["/jobs/{id}/redeliver", "/jobs/{id}/cancel"])
def test_another_accounts_job_cannot_be_acted_on(web, other_account, path):
    theirs = make_job(other_account, Job.Status.IN_QUEUE, webhook_url="https://example.com/h")
    assert web.post(path.format(id=theirs.id)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Job.Status.IN_QUEUE


def test_the_status_json_is_the_api_payload_plus_what_the_page_draws(web, account):
    job = make_job(account, Job.Status.IN_PROGRESS)
    Job.objects.filter(pk=job.pk).update(progress=35)
    data = web.get(f"/jobs/{job.id}/status.json").json()
    assert data["id"] == str(job.id) and data["status"] == "IN_PROGRESS" and data["progress"] == 35
    assert data["surface"] == "upsampler" and data["creditCost"] == 1
    assert data["inputUrl"] == f"/jobs/{job.id}/input"
    assert data["webhookDeliveries"] == 0 and data["balance"] == 99
    assert "imageUrl" not in data


def test_the_input_and_thumbnails_are_served_to_their_owner(web, account):
    job = make_job(account, with_files=True)
    r = web.get(f"/jobs/{job.id}/input")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(r.streaming_content))).size == (64, 48)
    r = web.get(f"/jobs/{job.id}/thumbnail/output")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert "max-age=3600" in r["Cache-Control"]
    assert web.get(f"/jobs/{job.id}/thumbnail/other").status_code == 404


def test_redelivery_is_queued_for_a_finished_job_with_a_webhook(web, account, monkeypatch):
    from jobs import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", lambda args, kwargs: sent.append((args, kwargs)))
    job = make_job(account, webhook_url="https://example.com/hook")
    assert web.get(f"/jobs/{job.id}/redeliver").status_code == 405
    r = web.post(f"/jobs/{job.id}/redeliver")
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.id}?redelivery=queued#deliveries"
    assert sent == [([str(job.id)], {"manual": True})]
    page = web.get(f"/jobs/{job.id}?redelivery=queued").content.decode()
    assert 'data-wait-deliveries="true"' in page and "Redelivery queued" in page

    no_hook = make_job(account)
    queued = make_job(account, Job.Status.IN_QUEUE, webhook_url="https://example.com/hook")
    assert b"This job has no webhook." in web.post(f"/jobs/{no_hook.id}/redeliver", follow=True).content
    assert b"its webhook is sent when it ends" in web.post(f"/jobs/{queued.id}/redeliver", follow=True).content
    assert len(sent) == 1


def test_a_queued_job_is_canceled_and_refunded(web, account):
    job = make_job(account, Job.Status.IN_QUEUE, cost=3)
    r = web.post(f"/jobs/{job.id}/cancel", follow=True)
    assert b"Job canceled; its 3 credits were refunded." in r.content
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert LedgerEntry.objects.get(job=job, kind="refund").amount == 3
    r = web.post(f"/jobs/{job.id}/cancel", follow=True)
    assert b"only a job still waiting in the queue can be canceled" in r.content


def test_an_apixo_tasks_page_shows_its_apixo_call(web, account):
    from jobs.web import curl

    job = make_job(account, surface="apixo", webhook_url="https://example.com/apixo", output=(2048, 1536))
    Job.objects.filter(pk=job.pk).update(
        output_format="webp",
        params={"imageUrl": "https://example.com/a.png", "resolution": "2k", "targetLongSide": 2048},
    )
    job.refresh_from_db()
    body = (
        '{"request_type": "callback", "callback_url": "https://example.com/apixo", "input": {"mode": "image-to-image", '
        '"image_urls": ["https://example.com/a.png"], "resolution": "2k", "output_format": "webp"}}'
    )
    assert curl.command(job, "https://app.example.com/") == (
        "curl -X POST https://app.example.com/api/v1/generateTask/image-upscaler \\\n"
        '  -H "Authorization: Bearer $UPSCALER_API_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )
    page = web.get(f"/jobs/{job.id}").content.decode()
    assert "/api/v1/generateTask/image-upscaler" in page and "precise-upscale" not in page
