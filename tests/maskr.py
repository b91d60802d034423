"""A Maskr client over real HTTP, as a team posting files to Maskr's service would write it."""

from __future__ import annotations

import requests

from billing import ledger
from billing.models import Account, ApiKey

UPLOAD = "/v1/services/image-upscaling"
BATCH = "/v1/services/image-upscaling/batch"
RESULT_KEYS = {
    "job_id",
    "status",
    "input_filename",
    "output_url",
    "processing_time_ms",
    "error",
    "original_width",
    "original_height",
    "output_width",
    "output_height",
    "credits_used",
}
BATCH_KEYS = {
    "batch_id",
    "status",
    "total_files",
    "completed",
    "failed",
    "results",
    "total_processing_time_ms",
    "total_credits_used",
    "error",
}


def headers(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def upload(base: str, key: str | None, data: bytes, name: str = "photo.png", timeout: float = 120, **query):
    return requests.post(
        base + UPLOAD, params=query, files={"file": (name, data)}, headers=headers(key), timeout=timeout
    )


def batch(base: str, key: str | None, files: list[tuple[str, bytes]], timeout: float = 240, **query):
    return requests.post(
        base + BATCH,
        params=query,
        files=[("files", (name, data)) for name, data in files],
        headers=headers(key),
        timeout=timeout,
    )


def account_with(credits: int, name: str = "maskr-client") -> Account:
    account = Account.objects.create(name=name)
    if credits:
        ledger.top_up(account, credits)
    _, account.raw_key = ApiKey.issue(account)
    return account
