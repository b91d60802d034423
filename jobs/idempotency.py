"""`Idempotency-Key` on submits: the same key and body within 24 hours returns the first
response, without a second job or charge; the same key with another body is a 409.

A duplicate of a request still in flight is refused at once (IdempotencyInProgress, with a
Retry-After), as Stripe does: no thread waits on another request and nothing polls. The key
records the job its request created, in the transaction that creates and charges it
(`attach`), so a request that dies between that commit and recording its response (a
killed process) does not hold the key for 24 hours: once it has run longer than any request
can (IDEMPOTENCY_LEASE_SECONDS), a retry resolves to that job, charged once; a request that
died before creating a job lets the retry take the key over and run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.errors import IdempotencyConflict, IdempotencyInProgress, InvalidRequest
from jobs.models import IdempotencyRecord, Job

TTL = timedelta(hours=24)
IN_PROGRESS_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Replay:
    """What a retry answers instead of running: the first request's response, or (`job`,
    `status` and `body` None) the job of a first request that died before recording one."""

    status: int | None = None
    body: dict | None = None
    job: Job | None = None


def fingerprint(endpoint: str, fields: dict, webhook: str, image_digest: str | None) -> str:
    canonical = json.dumps([endpoint, fields, webhook, image_digest], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidRequest("The Idempotency-Key header must be 1-255 printable characters.", field="Idempotency-Key")
    return key


def _in_progress() -> IdempotencyInProgress:
    return IdempotencyInProgress(
        "A request with this Idempotency-Key is still being processed; retry in "
        f"{IN_PROGRESS_RETRY_AFTER_SECONDS} seconds to get its answer.",
        retry_after=IN_PROGRESS_RETRY_AFTER_SECONDS,
    )


def begin(account, key: str, print_: str) -> Replay | None:
    """Claim the key. Returns None if this request holds it and must run (then call `finish`
    or `abandon`), or the Replay to answer. Raises IdempotencyConflict (another body) or
    IdempotencyInProgress (the first request may still be running). A handful of queries,
    never a wait."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(account=account, key=key, created_at__lt=now - TTL).delete()
    for _ in range(2):  # once more if the holder let the key go between our insert and read
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(account=account, key=key, fingerprint=print_)
            return None
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(account=account, key=key).select_related("job").first()
        if record is not None:
            break
    else:
        raise _in_progress()
    if record.fingerprint != print_:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request; use a new key for a different request.",
            field="Idempotency-Key",
        )
    if record.response_status is not None:
        return Replay(record.response_status, record.response_body)
    if record.created_at > now - timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS):
        raise _in_progress()
    # Its request has run longer than any request can: it died.
    if record.job is not None:
        return Replay(job=record.job)
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, created_at=record.created_at, response_status__isnull=True, job__isnull=True
    ).update(created_at=now)
    if not taken:  # another retry took it over first
        raise _in_progress()
    return None


def attach(account, key: str, job: Job) -> None:
    """Record the job the key's request created. Call inside the transaction that creates
    and charges the job, so the two commit together."""
    IdempotencyRecord.objects.filter(account=account, key=key).update(job=job)


def finish(account, key: str, status: int, body: dict) -> None:
    IdempotencyRecord.objects.filter(account=account, key=key).update(response_status=status, response_body=body)


def abandon(account, key: str) -> Job | None:
    """The request failed. Without a job nothing was charged: the key is released, so a retry
    may run. Returns the job if the request had created one (then record its answer with
    `finish`: the key keeps it)."""
    record = IdempotencyRecord.objects.filter(account=account, key=key, response_status__isnull=True).first()
    if record is None:
        return None
    if record.job_id is None:
        IdempotencyRecord.objects.filter(pk=record.pk, job__isnull=True).delete()
        return None
    return Job.objects.get(pk=record.job_id)
