"""GET /api/v1/status/<id>, GET /api/v1/jobs, POST /api/v1/cancel/<id>, GET /api/v1/account."""

from __future__ import annotations

import base64
import uuid

import pytest

from billing.models import LedgerEntry
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


def submit(api, mode="precise-upscale", **fields):
    body = {"input": {"imageBase64": base64.b64encode(images.png()).decode(), **fields}}
    r = api.post(mode, body)
    assert r.status_code == 200, r.content
    return r.json()["id"]


def test_it_shows_a_queued_job(api):
    job_id = submit(api)
    r = api.get(f"status/{job_id}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == job_id and body["status"] == "IN_QUEUE" and body["progress"] == 0
    assert body["creditCost"] == 1


def test_it_hides_other_accounts_jobs(api, other_account):
    job_id = submit(api)
    r = api.as_key(other_account.raw_key).get(f"status/{job_id}")
    assert r.status_code == 404 and r.json()["status"] == "FAILED"
    assert api.get(f"status/{uuid.uuid4()}").status_code == 404
    assert api.get("status/not-a-uuid").status_code == 404


def test_it_shows_success_with_urls(api, account):
    from django.utils import timezone

    job_id = submit(api)
    Job.objects.filter(pk=job_id).update(
        status="SUCCESS",
        image_url="/files/outputs/x.png?expires=1&signature=a",
        compressed_image_url="https://s3.example/x.jpg",
        expires_at=timezone.now(),
    )
    body = api.get(f"status/{job_id}").json()
    assert body["status"] == "SUCCESS"
    assert body["imageUrl"].startswith("http://testserver/files/outputs/x.png")
    assert body["compressedImageUrl"] == "https://s3.example/x.jpg"
    assert body["expiresAt"].endswith("Z") and "progress" not in body


def test_it_cancels_a_queued_job_and_refunds_once(api, account):
    job_id = submit(api)
    r = api.post(f"cancel/{job_id}")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "CANCELED" and "refunded" in r.json()["error"]
    account.refresh_from_db()
    assert account.balance == 100 == account.ledger_sum()
    again = api.post(f"cancel/{job_id}")
    assert again.status_code == 409 and "CANCELED" in again.json()["error"]
    assert LedgerEntry.objects.filter(job_id=job_id, kind="refund").count() == 1


def test_it_does_not_cancel_a_running_job(api):
    job_id = submit(api)
    Job.objects.filter(pk=job_id).update(status="IN_PROGRESS")
    r = api.post(f"cancel/{job_id}")
    assert r.status_code == 409 and "IN_PROGRESS" in r.json()["error"]


def test_it_lists_the_accounts_jobs_paginated(api, other_account):
    ids = [submit(api) for _ in range(3)]
    submit(api.as_key(other_account.raw_key))
    r = api.get("jobs?pageSize=2")
    body = r.json()
    assert r.status_code == 200 and body["count"] == 3 and len(body["results"]) == 2
    assert body["next"] and body["previous"] is None
    page2 = api.get("jobs?pageSize=2&page=2").json()
    listed = [j["id"] for j in body["results"] + page2["results"]]
    assert sorted(listed) == sorted(ids)
    assert api.get("jobs?status=SUCCESS").json()["count"] == 0
    bad = api.get("jobs?status=DONE")
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]
    assert api.get("jobs?pageSize=1000").status_code == 400


def test_it_shows_the_account(api, account):
    submit(api)
    body = api.get("account").json()
    assert body["name"] == "acme" and body["balance"] == 99 and body["unfinishedJobs"] == 1
    assert body["limits"]["maxUnfinishedJobs"] == 100


def test_it_describes_the_modes(api):
    modes = {m["mode"]: m for m in api.get("modes").json()["modes"]}
    assert modes["precise"]["available"] and "RealESRGAN_x4plus" in modes["precise"]["models"]
    assert not modes["smart"]["available"] and modes["smart"]["reason"]


def test_it_serves_the_openapi_schema_and_docs(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/precise-upscale", "/api/v1/status/{job_id}", "/api/v1/cancel/{job_id}", "/api/v1/jobs"):
        assert path in paths
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=99999999999999999999", "page"),  # was a 500: bigint out of range
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=2", "page"),  # beyond the last page of an empty list
        ("page=abc", "page"),
        ("pageSize=0", "pageSize"),
        ("pageSize=-5", "pageSize"),
        ("pageSize=99999999999999999999", "pageSize"),
    ],
)
def test_it_refuses_a_page_out_of_range_naming_the_parameter(api, query, field):
    r = api.get(f"jobs?{query}")
    assert r.status_code == 400, r.content
    assert r.json() == {"status": "FAILED", "error": r.json()["error"]}
    assert r.json()["error"].startswith(f"{field} must be a whole number from 1 to ")
