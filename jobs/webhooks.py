"""Webhook delivery: POST a job's final payload (in its surface's shape) or an owner's test
event, signed per Standard Webhooks, and record every attempt; the retry policy; and the
schedule of retries in the database.

An attempt is claimed in the database before it is sent, so a task message delivered
twice (a broker redelivery, or a retry sent both by Celery and by the dispatcher) sends
it once:
- the first attempt, by inserting attempt 1 (attempts are unique per job);
- a retry, by clearing the `dispatch_at` of the attempt it retries (a conditional update),
  then inserting the next attempt;
- a manual redelivery, by inserting the next attempt.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from standardwebhooks import Webhook

from jobs import connections, safe_http, surfaces
from jobs.models import Job, WebhookDelivery
from jobs.timestamps import iso

# --- Retry policy: whether an attempt is retried, and when -------------------------------
# Responses after which retrying cannot help: the receiver said the endpoint is gone.
PERMANENT_STATUSES = {410}
HONOURS_RETRY_AFTER = {429, 503}
MAX_RETRY_AFTER_SECONDS = 3600
# A retry sent as a Celery countdown is also recorded for the dispatcher, which sends it
# itself if no worker has taken it this long after it was due (its message was lost). A
# retry the dispatcher sent and no worker took is sent again after this long, too.
LOST_RETRY_GRACE_SECONDS = 300


def should_retry(record: WebhookDelivery) -> bool:
    return not record.succeeded and record.status_code not in PERMANENT_STATUSES


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), +-20%; Retry-After wins if later."""
    delay = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def retry_delay(record: WebhookDelivery, retry_after: float | None = None) -> float | None:
    """Seconds until the attempt after `record`, or None when there is none: it succeeded,
    the answer was permanent, or WEBHOOK_MAX_RETRIES retries are spent."""
    if not should_retry(record) or record.attempt > settings.WEBHOOK_MAX_RETRIES:
        return None
    return backoff_seconds(record.attempt, retry_after)


def schedule_retry(record: WebhookDelivery, retry_after: float | None = None) -> float | None:
    """Record the retry of `record` and return the countdown to send it with, or None when
    Celery has nothing to send: no retry is due, or the wait is longer than a countdown may
    be (WEBHOOK_MAX_COUNTDOWN_SECONDS, under the broker's visibility timeout, after which
    Redis would deliver the held message a second time): the dispatcher sends it when due."""
    delay = retry_delay(record, retry_after)
    if delay is None:
        return None
    due = timezone.now() + timedelta(seconds=delay)
    countdown = delay if delay <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS else None
    dispatch_at = due if countdown is None else due + timedelta(seconds=LOST_RETRY_GRACE_SECONDS)
    # Recorded before the message is sent, so the retry always finds it to claim.
    WebhookDelivery.objects.filter(pk=record.pk).update(dispatch_at=dispatch_at)
    record.dispatch_at = dispatch_at
    return countdown


# --- Claims -----------------------------------------------------------------------------


def claim_attempt(job: Job, attempt: int) -> WebhookDelivery | None:
    """Attempt number `attempt` of this job's delivery, or None if it is taken."""
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(job=job, attempt=attempt, url=job.webhook_url)
    except IntegrityError:
        return None


def claim_next(job: Job) -> WebhookDelivery:
    """The next attempt number, whoever else is claiming one at the same moment."""
    for _ in range(10):
        last = WebhookDelivery.objects.filter(job=job).aggregate(last=Max("attempt"))["last"] or 0
        record = claim_attempt(job, last + 1)
        if record is not None:
            return record
    raise RuntimeError(f"Could not claim a webhook attempt for job {job.pk}")


def claim_retry(job: Job, retry_of: int) -> WebhookDelivery | None:
    """The retry of attempt row `retry_of`, or None if it was taken (this message is a
    duplicate) or is no longer wanted (a redelivery got through meanwhile)."""
    with transaction.atomic():
        taken = WebhookDelivery.objects.filter(pk=retry_of, job=job, dispatch_at__isnull=False).update(dispatch_at=None)
        if not taken or WebhookDelivery.objects.filter(job=job, succeeded=True).exists():
            return None
        return claim_next(job)


# --- Sending ----------------------------------------------------------------------------


def signature_header(account, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<signature>` with each of the account's valid secrets, space-separated: during a
    rotation the receiver verifies with either the new or the old one."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(Webhook(secret).sign(msg_id, when, body) for secret in account.valid_webhook_secrets())


def send(job: Job, record: WebhookDelivery) -> tuple[bool, float | None]:
    """POST the claimed attempt and record its outcome. Returns whether the outcome was
    recorded (not if the dispatcher gave the attempt up for dead meanwhile) and the
    server's Retry-After, if any."""
    body = json.dumps(surfaces.webhook_body(job), separators=(",", ":"))
    # The message id is stable across retries, so receivers can de-duplicate.
    outcome, retry_after = _post(job.webhook_url, job.account, f"msg_{job.id}", body, job.webhook_headers)
    recorded = WebhookDelivery.objects.filter(pk=record.pk, completed_at__isnull=True).update(**outcome)
    for name, value in outcome.items():
        setattr(record, name, value)
    return bool(recorded), retry_after


def new_test_event(account, url: str) -> WebhookDelivery:
    """Record a test event for `url`: a delivery row without a job, not yet sent (attempt 0
    until a worker takes it; taking it, 0 -> 1, is the claim). jobs.tasks.queue_test_event
    queues it; a worker sends it once, within the same deadline as any attempt; the owner
    who asked reads the outcome, nothing retries it."""
    return WebhookDelivery.objects.create(account=account, event=WebhookDelivery.Event.TEST, attempt=0, url=url)


def pending_test_event(account) -> WebhookDelivery | None:
    """The account's test event still being sent, if any: an account has one at a time."""
    since = timezone.now() - timedelta(seconds=attempt_lifetime_seconds())
    return (
        WebhookDelivery.objects.filter(
            account=account, event=WebhookDelivery.Event.TEST, completed_at__isnull=True, created_at__gte=since
        )
        .order_by("-created_at")
        .first()
    )


def send_test_event(record: WebhookDelivery) -> bool:
    """Send the queued test event `record` and record its outcome; False if it was sent (or
    given up) already."""
    if not WebhookDelivery.objects.filter(pk=record.pk, attempt=0, completed_at__isnull=True).update(attempt=1):
        return False  # a duplicate message: another worker has it
    assert record.account is not None  # a test event's row names its account
    event_id = uuid.uuid4().hex
    payload = {
        "type": "webhook.test",
        "id": f"test_{event_id}",
        "account": record.account.name,
        "createdAt": iso(timezone.now()),
        "message": "A test event from the web app. Verify its signature as you would a job's webhook.",
    }
    body = json.dumps(payload, separators=(",", ":"))
    outcome, _ = _post(record.url, record.account, f"msg_test_{event_id}", body)
    return bool(WebhookDelivery.objects.filter(pk=record.pk, completed_at__isnull=True).update(**outcome))


def record_failure(record: WebhookDelivery, error: str) -> bool:
    """Complete an attempt that ended without an outcome of its own (the task's time limit
    struck, the message could not be queued)."""
    now = timezone.now()
    record.error, record.completed_at = error[:500], now
    return bool(
        WebhookDelivery.objects.filter(pk=record.pk, completed_at__isnull=True).update(
            error=record.error, completed_at=now
        )
    )


def attempt_lifetime_seconds() -> float:
    """Longer than any attempt can last, whoever sends it: its deadline, the task's time
    limit past it, and a grace for a worker that took its message late."""
    return settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS + LOST_RETRY_GRACE_SECONDS


def _post(url: str, account, msg_id: str, body: str, extra_headers: dict | None = None) -> tuple[dict, float | None]:
    """POST `body` to `url`, signed for `account`, through the SSRF guard, all of it (name
    lookup, connect, TLS, sending, the answer's head and the start of its body) within
    WEBHOOK_TIMEOUT_SECONDS: a receiver that trickles its answer is cut off there. Returns
    the outcome (WebhookDelivery fields) and the server's Retry-After, if any. The client's
    own extra headers are sent too, but never in place of the signature's."""
    timestamp = int(time.time())
    headers = {str(name): str(value) for name, value in (extra_headers or {}).items()}
    headers.update(
        {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(account, msg_id, timestamp, body),
        }
    )
    limit = settings.WEBHOOK_TIMEOUT_SECONDS
    connections.give_back()  # the POST may take WEBHOOK_TIMEOUT_SECONDS and needs no connection
    started = time.monotonic()
    outcome: dict = {"status_code": None, "succeeded": False, "error": "", "response_body": ""}
    retry_after = None
    with safe_http.deadline(limit):
        try:
            response = safe_http.request(
                "POST", url, data=body.encode(), headers=headers, timeout=(min(5.0, limit), limit), stream=True
            )
            with response:
                outcome["status_code"] = response.status_code
                outcome["succeeded"] = 200 <= response.status_code < 300
                if 300 <= response.status_code < 400:
                    outcome["error"] = "the receiver answered with a redirect, which is not followed"
                if response.status_code in HONOURS_RETRY_AFTER:
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                outcome["response_body"] = _start_of_body(response)
        except safe_http.BlockedURLError as exc:
            outcome["error"] = f"not sent: {exc}"[:500]
        except requests.RequestException as exc:
            outcome["error"] = safe_http.describe_failure(exc, peer="the receiver", deadline_seconds=limit)[:500]
    outcome["duration_ms"] = int((time.monotonic() - started) * 1000)
    outcome["completed_at"] = timezone.now()
    return outcome, retry_after


def _start_of_body(response: requests.Response, limit: int = 1000) -> str:
    """The first `limit` characters of the answer's body, as much of them as arrives before
    the deadline: once the status is in, a slow body only shortens what is kept."""
    body = bytearray()
    try:
        for chunk in response.iter_content(256):
            body += chunk
            if len(body) >= limit:
                break
    except (requests.RequestException, safe_http.DeadlineExceeded, OSError):
        pass
    return body.decode("utf-8", errors="replace")[:limit]


def deliver(job: Job, attempt: int) -> tuple[WebhookDelivery, float | None] | None:
    """Claim attempt number `attempt` and send it: the recorded delivery and the server's
    Retry-After, or None if that attempt was taken already."""
    record = claim_attempt(job, attempt)
    if record is None:
        return None
    _, retry_after = send(job, record)
    return record, retry_after


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


# --- The dispatcher's side (jobs.tasks.dispatch_webhooks) -----------------------------------


def due_retries(now: datetime, limit: int = 500) -> Iterator[tuple[str, int]]:
    """(job id, attempt row id) of each retry due now. Each is leased as it is yielded (its
    dispatch time moved on by LOST_RETRY_GRACE_SECONDS, a conditional update), so a second
    dispatcher running meanwhile does not send it again; the worker that takes it clears it."""
    lease = now + timedelta(seconds=LOST_RETRY_GRACE_SECONDS)
    due = WebhookDelivery.objects.filter(dispatch_at__lte=now).order_by("dispatch_at")
    for pk, job_id, dispatch_at in due.values_list("pk", "job_id", "dispatch_at")[:limit]:
        if WebhookDelivery.objects.filter(pk=pk, dispatch_at=dispatch_at).update(dispatch_at=lease):
            yield str(job_id), pk


def recover_stalled(now: datetime, limit: int = 500) -> int:
    """Attempts claimed but never completed (the worker died while sending) are recorded as
    failed and retried like any failure. Returns how many."""
    before = now - timedelta(seconds=attempt_lifetime_seconds())
    recovered = 0
    for record in WebhookDelivery.objects.filter(completed_at__isnull=True, created_at__lt=before)[:limit]:
        record.error = (
            "no worker took this test event in time"
            if record.attempt == 0
            else "the worker stopped while sending this attempt"
        )
        # A test event is sent once: it is recorded as failed, never retried.
        delay = retry_delay(record) if record.event == WebhookDelivery.Event.JOB else None
        recovered += WebhookDelivery.objects.filter(pk=record.pk, completed_at__isnull=True).update(
            completed_at=now,
            error=record.error,
            dispatch_at=None if delay is None else now + timedelta(seconds=delay),
        )
    return recovered
