"""Maskr's refusals over HTTP, in its words and FastAPI's shapes (401, 402, 422, 429, 400,
503), none of them charged; and the answer when the synchronous wait runs out. No worker
runs in this module: jobs that get queued stay queued."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from billing.models import ApiKey, LedgerEntry
from jobs.models import Batch, Job
from tests import images, maskr

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_waits(settings):
    settings.SYNC_WAIT_MAX_SECONDS = 2  # a request that wrongly got as far as waiting ends soon


def nothing_charged(account, balance: int = 100) -> None:
    assert not Job.objects.exists() and not Batch.objects.exists()
    assert not LedgerEntry.objects.filter(kind="debit").exists()
    account.refresh_from_db()
    assert account.balance == balance == account.ledger_sum()


def missing_field(name: str) -> dict:
    return {"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}


# -- 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [maskr.UPLOAD, maskr.BATCH])
def test_a_missing_key_is_a_401_in_fastapis_shape(live_server, account, path):
    r = requests.post(live_server.url + path, files={"file": ("a.png", images.png())}, timeout=10)
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert r.headers["WWW-Authenticate"] == "Bearer"
    nothing_charged(account)


def test_an_unknown_or_revoked_key_is_a_401(live_server, account):
    r = maskr.upload(live_server.url, "upk_nope", images.png())
    assert r.status_code == 401 and r.json() == {"detail": "Unknown API key."}
    ApiKey.objects.filter(account=account).update(is_active=False)
    r = maskr.upload(live_server.url, account.raw_key, images.png())
    assert r.status_code == 401 and r.json() == {"detail": "This API key has been revoked."}
    nothing_charged(account)


# -- 402 -------------------------------------------------------------------------------------


def test_no_credits_is_a_402_in_maskrs_words(live_server):
    broke = maskr.account_with(0)
    r = maskr.upload(live_server.url, broke.raw_key, images.png())
    assert r.status_code == 402 and r.json() == {"detail": "Insufficient credits"}
    r = maskr.batch(live_server.url, broke.raw_key, [("a.png", images.png()), ("b.png", images.png())])
    assert r.status_code == 402 and r.json() == {"detail": "Insufficient credits"}
    nothing_charged(broke, 0)


# -- 422 -------------------------------------------------------------------------------------


def test_a_missing_file_is_a_422_field_required(live_server, account):
    auth = maskr.headers(account.raw_key)
    url = live_server.url + maskr.UPLOAD
    for r in (
        requests.post(url, headers=auth, timeout=10),
        requests.post(url, headers=auth, files={"image": ("a.png", images.png())}, timeout=10),
        requests.post(url, headers=auth, data={"file": "not a file"}, timeout=10),
        requests.post(url, headers=auth, json={"file": "a.png"}, timeout=10),
    ):
        assert r.status_code == 422 and r.json() == {"detail": [missing_field("file")]}, r.text
    r = requests.post(live_server.url + maskr.BATCH, headers=auth, timeout=10)
    assert r.status_code == 422 and r.json() == {"detail": [missing_field("files")]}
    nothing_charged(account)


def not_integer(name: str) -> dict:
    return {"loc": ["query", name], "msg": "value is not a valid integer", "type": "type_error.integer"}


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"scale_factor": "3"},
            {
                "loc": ["query", "scale_factor"],
                "msg": "unexpected value; permitted: 2, 4",
                "type": "value_error.const",
                "ctx": {"given": 3, "permitted": [2, 4]},
            },
        ),
        ({"scale_factor": "two"}, not_integer("scale_factor")),
        ({"scale_factor": "2.0"}, not_integer("scale_factor")),
        (
            {"output_format": "gif"},
            {
                "loc": ["query", "output_format"],
                "msg": "unexpected value; permitted: 'jpeg', 'png', 'webp'",
                "type": "value_error.const",
                "ctx": {"given": "gif", "permitted": ["jpeg", "png", "webp"]},
            },
        ),
        ({"quality": "high"}, not_integer("quality")),
        (
            {"quality": "0"},
            {
                "loc": ["query", "quality"],
                "msg": "ensure this value is greater than or equal to 1",
                "type": "value_error.number.not_ge",
                "ctx": {"limit_value": 1},
            },
        ),
        (
            {"quality": "101"},
            {
                "loc": ["query", "quality"],
                "msg": "ensure this value is less than or equal to 100",
                "type": "value_error.number.not_le",
                "ctx": {"limit_value": 100},
            },
        ),
    ],
)
def test_a_bad_query_parameter_is_a_422_naming_it(live_server, account, query, problem):
    for r in (
        maskr.upload(live_server.url, account.raw_key, images.png(), **query),
        maskr.batch(live_server.url, account.raw_key, [("a.png", images.png())], **query),
    ):
        assert r.status_code == 422 and r.json() == {"detail": [problem]}, r.text
    nothing_charged(account)


def test_every_problem_is_listed_query_first(live_server, account):
    r = requests.post(
        live_server.url + maskr.UPLOAD,
        params={"scale_factor": "8", "quality": "x"},
        headers=maskr.headers(account.raw_key),
        timeout=10,
    )
    assert r.status_code == 422
    assert [p["loc"] for p in r.json()["detail"]] == [["query", "scale_factor"], ["query", "quality"], ["body", "file"]]


def test_a_batch_of_51_is_refused_whole_and_charges_nothing(live_server, account):
    files = [(f"{i}.png", images.png(8, 8, seed=i)) for i in range(51)]
    r = maskr.batch(live_server.url, account.raw_key, files)
    assert r.status_code == 422, r.text
    assert r.json() == {
        "detail": [
            {
                "loc": ["body", "files"],
                "msg": "ensure this value has at most 50 items",
                "type": "value_error.list.max_items",
                "ctx": {"limit_value": 50},
            }
        ]
    }
    nothing_charged(account)


# -- 400, 429, 503 ---------------------------------------------------------------------------


def test_an_unreadable_image_is_a_400_and_charges_nothing(live_server, account):
    r = maskr.upload(live_server.url, account.raw_key, b"GIF89a not what we take", name="a.gif")
    assert r.status_code == 400
    assert r.json() == {"detail": "The image is not a JPEG, PNG or WebP file (detected: GIF)."}
    nothing_charged(account)


def test_the_rate_limit_is_a_429_with_retry_after(live_server, account, settings):
    settings.RATE_LIMITS = {"submit": [(1, 60)], "status": [(100, 60)]}
    first = maskr.upload(live_server.url, account.raw_key, b"")  # refused (400: not an image), and counted
    assert first.status_code == 400
    for r in (
        maskr.upload(live_server.url, account.raw_key, images.png()),
        maskr.batch(live_server.url, account.raw_key, [("a.png", images.png())]),
    ):
        assert r.status_code == 429, r.text
        assert set(r.json()) == {"detail"} and r.json()["detail"].startswith("Rate limit exceeded")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    nothing_charged(account)


def test_past_the_wait_cap_it_is_a_503_before_anything_is_charged(live_server, account, settings):
    settings.SYNC_WAIT_MAX_CONCURRENT = 0
    for r in (
        maskr.upload(live_server.url, account.raw_key, images.png()),
        maskr.batch(live_server.url, account.raw_key, [("a.png", images.png())]),
    ):
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.json()["detail"].startswith("The server is busy")
    nothing_charged(account)


# -- the wait runs out -----------------------------------------------------------------------


def test_when_the_wait_runs_out_the_answer_is_pending_with_its_job_id(live_server, account, settings):
    settings.SYNC_WAIT_MAX_SECONDS = 1
    started = time.monotonic()
    r = maskr.upload(live_server.url, account.raw_key, images.png(24, 20), scale_factor=2)
    assert 1 <= time.monotonic() - started < 5
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "pending" and body["error"] is None
    assert body["result"] == {
        "job_id": body["job_id"],
        "status": "pending",
        "input_filename": "photo.png",
        "output_url": None,
        "processing_time_ms": None,
        "error": None,
        "original_width": 24,
        "original_height": 20,
        "output_width": 48,
        "output_height": 40,
        "credits_used": 1,
    }
    job = Job.objects.get(pk=body["job_id"])
    assert job.status == "IN_QUEUE"  # it goes on; the client looks it up
    lookup = requests.get(
        f"{live_server.url}/v1/services/image-upscaling/jobs/{job.pk}", headers=maskr.headers(account.raw_key)
    )
    assert lookup.json() == body

    r = maskr.batch(live_server.url, account.raw_key, [("a.png", images.png()), ("b.png", images.png())])
    answer = r.json()
    assert r.status_code == 200 and answer["status"] == "pending"
    assert (answer["completed"], answer["failed"], answer["total_credits_used"]) == (0, 0, 2)
    lookup = requests.get(
        f"{live_server.url}/v1/services/image-upscaling/batch/{answer['batch_id']}",
        headers=maskr.headers(account.raw_key),
    )
    assert lookup.json() == answer


def test_lookups_see_only_the_accounts_own(live_server, account, other_account, settings):
    settings.SYNC_WAIT_MAX_SECONDS = 0
    job_id = maskr.upload(live_server.url, account.raw_key, images.png()).json()["job_id"]
    batch_id = maskr.batch(live_server.url, account.raw_key, [("a.png", images.png())]).json()["batch_id"]
    theirs = maskr.headers(other_account.raw_key)
    base = f"{live_server.url}/v1/services/image-upscaling"
    for path in (f"jobs/{job_id}", f"batch/{batch_id}", f"jobs/{uuid.uuid4()}", "jobs/nope"):
        r = requests.get(f"{base}/{path}", headers=theirs, timeout=10)
        assert r.status_code == 404 and set(r.json()) == {"detail"}, path
    listed = requests.get(f"{live_server.url}/api/v1/jobs?batch={batch_id}", headers=theirs, timeout=10)
    assert listed.json()["count"] == 0
    bad = requests.get(f"{live_server.url}/api/v1/jobs?batch=nope", headers=theirs, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "batch must be a batch id (got 'nope')."
