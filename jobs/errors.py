"""Domain errors: what the platform refuses, and why, in words the client can act on.

Domain modules (submission, idempotency, lifecycle, the ledger, the rate limiter) raise
these and never pick an HTTP status. Each API surface maps them to its own codes and
shapes in one place: `jobs/api/errors.py` for the Upsampler-style API, and each vendor
surface's own error module for theirs.
"""

from __future__ import annotations

from billing.errors import InsufficientCredits as InsufficientCredits
from billing.errors import Refusal

# The base of every refusal and the credit refusal live in billing (the lower package: jobs
# imports billing, never the reverse); here they are the domain's like any other.
DomainError = Refusal


class InvalidRequest(DomainError):
    """The body or one of its fields is wrong; the message says what is allowed."""


class ImageUnusable(InvalidRequest):
    """No usable image came of what the client sent: the surfaces that accept such a request
    as a job that fails (Submission.defer_image_errors) catch this one."""


class ImageInvalid(ImageUnusable):
    """The image is not a readable JPEG, PNG or WebP (or too many pixels to decode)."""


class ImageFetchFailed(ImageUnusable):
    """The image URL is not allowed, or could not be downloaded."""


class ImageTooLarge(ImageUnusable):
    """The image is over the byte-size cap."""

    def __init__(self, max_bytes: int, *, field: str | None = None):
        self.max_bytes = max_bytes
        super().__init__(f"The image is larger than {max_bytes // 2**20} MB, the largest allowed.", field=field)


class OutputTooLarge(InvalidRequest):
    """The output would be over MAX_OUTPUT_PIXELS; `largest_factor` is what would fit."""

    def __init__(self, message: str, *, largest_factor: float, field: str | None = None):
        super().__init__(message, field=field)
        self.largest_factor = largest_factor


class Throttled(DomainError):
    """Come back later: `retry_after` seconds, and any rate-limit headers to send."""

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.retry_after = max(int(retry_after), 1)
        self.headers = dict(headers or {})


class RateLimited(Throttled):
    """A per-key request window is full."""


class QueueFull(Throttled):
    """The account has the most unfinished jobs allowed."""


class TooManyFetches(Throttled):
    """The most image downloads in flight allowed: the account's, or this web process's."""


class ModelNotInstalled(DomainError):
    """The mode's model is not installed on this deployment (an operator can install it)."""

    def __init__(self, message: str, *, mode: str):
        super().__init__(message)
        self.mode = mode


class IdempotencyConflict(DomainError):
    """An Idempotency-Key reused with another request."""


class IdempotencyInProgress(Throttled):
    """The first request with this Idempotency-Key has not finished yet."""


class JobNotFound(DomainError):
    """No such job for this account (another account's job is not found either)."""


class JobStateConflict(DomainError):
    """The job is not in a state that allows this (cancel a running job, redeliver early)."""


def flatten_errors(detail, path: str = "") -> list[str]:
    """Nested field errors (a validator's dict of lists, as DRF's and Django's forms give
    them) -> readable lines that name the field, for every face that words them."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            lines += flatten_errors(value, f"{path}.{name}" if path and name else (name or path))
        return lines
    if isinstance(detail, list):
        lines = []
        for item in detail:
            lines += flatten_errors(item, path)
        return lines
    message = str(detail)
    field = path.rsplit(".", 1)[-1]
    if not path or message.startswith(field):
        return [message]
    return [f"{path}: {message}"]
