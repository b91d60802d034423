"""`Idempotency-Key` on submits: the same key and body within 24 hours returns the first
response, without a second job or charge; the same key with another body is a 409."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.errors import IdempotencyConflict, IdempotencyInProgress, InvalidRequest
from jobs.models import IdempotencyRecord

TTL = timedelta(hours=24)
WAIT_FOR_FIRST_SECONDS = 60


def fingerprint(endpoint: str, fields: dict, webhook: str, image_digest: str | None) -> str:
    canonical = json.dumps([endpoint, fields, webhook, image_digest], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidRequest("The Idempotency-Key header must be 1-255 printable characters.", field="Idempotency-Key")
    return key


def begin(account, key: str, print_: str) -> dict | None:
    """Claim the key. Returns the stored response to replay, or None if this request is the
    first and must run (then call `finish` or `abandon`)."""
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        IdempotencyRecord.objects.filter(account=account, key=key, created_at__lt=timezone.now() - TTL).delete()
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(account=account, key=key, fingerprint=print_)
            return None
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(account=account, key=key).first()
        if record is None:
            continue  # the first request failed and let the key go: try again
        if record.fingerprint != print_:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used with a different request; use a new key "
                "for a different request.",
                field="Idempotency-Key",
            )
        if record.response_status is not None:
            return {"status": record.response_status, "body": record.response_body}
        if time.monotonic() > deadline:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly.", retry_after=5
            )
        time.sleep(0.1)


def finish(account, key: str, status: int, body: dict) -> None:
    IdempotencyRecord.objects.filter(account=account, key=key).update(response_status=status, response_body=body)


def abandon(account, key: str) -> None:
    """The first request failed: nothing was charged, so a retry with this key may run."""
    IdempotencyRecord.objects.filter(account=account, key=key, response_status__isnull=True).delete()
