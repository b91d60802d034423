"""Webhook delivery: POST the final status payload (or an owner's test event), signed per
Standard Webhooks, and record every attempt. The retry policy lives here too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid

import requests
from django.conf import settings
from django.utils import timezone

from jobs import safe_http, surfaces
from jobs.models import Job, WebhookDelivery
from jobs.timestamps import iso

# Responses after which retrying cannot help: the receiver said the endpoint is gone.
PERMANENT_STATUSES = {410}
HONOURS_RETRY_AFTER = {429, 503}
MAX_RETRY_AFTER_SECONDS = 3600


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with a `whsec_<base64>` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(account, msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in account.valid_webhook_secrets())


def deliver(job: Job, attempt: int) -> tuple[WebhookDelivery, float | None]:
    """One attempt. Returns the recorded delivery and the server's Retry-After, if any."""
    body = json.dumps(surfaces.webhook_body(job), separators=(",", ":"))
    record = WebhookDelivery(job=job, attempt=attempt, url=job.webhook_url)
    # The message id is stable across retries, so receivers can de-duplicate.
    return _post(record, job.account, f"msg_{job.id}", body)


def send_test_event(account, url: str) -> WebhookDelivery:
    """A test event, signed and recorded like any attempt (a delivery row without a job),
    sent once: the owner who sent it reads the outcome, nothing retries it."""
    event_id = uuid.uuid4().hex
    payload = {
        "type": "webhook.test",
        "id": f"test_{event_id}",
        "account": account.name,
        "createdAt": iso(timezone.now()),
        "message": "A test event from the web app. Verify its signature as you would a job's webhook.",
    }
    record = WebhookDelivery(account=account, event=WebhookDelivery.Event.TEST, attempt=1, url=url)
    record, _ = _post(record, account, f"msg_test_{event_id}", json.dumps(payload, separators=(",", ":")))
    return record


def _post(record: WebhookDelivery, account, msg_id: str, body: str) -> tuple[WebhookDelivery, float | None]:
    """POST `body` to `record.url`, signed for `account`, through the SSRF guard; save the
    outcome on `record`."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(account, msg_id, timestamp, body),
    }
    started = time.monotonic()
    retry_after = None
    try:
        response = safe_http.request(
            "POST",
            record.url,
            data=body.encode(),
            headers=headers,
            timeout=(min(5.0, settings.WEBHOOK_TIMEOUT_SECONDS), settings.WEBHOOK_TIMEOUT_SECONDS),
        )
        record.status_code = response.status_code
        record.response_body = response.text[:1000]
        record.succeeded = 200 <= response.status_code < 300
        if 300 <= response.status_code < 400:
            record.error = "redirects are not followed"
        if response.status_code in HONOURS_RETRY_AFTER:
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except safe_http.BlockedURLError as exc:
        record.error = f"blocked: {exc}"[:500]
    except requests.Timeout:
        record.error = f"timed out after {settings.WEBHOOK_TIMEOUT_SECONDS:g}s"
    except requests.RequestException as exc:
        record.error = f"{type(exc).__name__}: {exc}"[:500]
    record.duration_ms = int((time.monotonic() - started) * 1000)
    record.save()
    return record, retry_after


def should_retry(record: WebhookDelivery) -> bool:
    return not record.succeeded and record.status_code not in PERMANENT_STATUSES


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), +-20%; Retry-After wins if later."""
    delay = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
