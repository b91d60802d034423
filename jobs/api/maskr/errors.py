"""Maskr's errors as its FastAPI service answers them: {"detail": "<message>"}, and for a
request it cannot validate 422 with {"detail": [<one entry per problem>]}.

Domain errors (jobs/errors.py) get their status here, in one table, and Maskr's own words
where its document gives them ("Insufficient credits", the 50 MB limit)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.api.errors import domain_headers, domain_status, error_response, retry_after_headers
from jobs.api.uploads import UploadTooLarge

INSUFFICIENT_CREDITS = "Insufficient credits"
BUSY_RETRY_AFTER_SECONDS = 5

# Most specific first: the first class that matches gives the status.
DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InsufficientCredits, status.HTTP_402_PAYMENT_REQUIRED),
    (errors.ImageTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (errors.InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (errors.Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (errors.ModelNotInstalled, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.JobNotFound, status.HTTP_404_NOT_FOUND),
    (errors.JobStateConflict, status.HTTP_409_CONFLICT),
    (errors.IdempotencyConflict, status.HTTP_409_CONFLICT),
]


class ValidationFailed(Exception):
    """422: the detail entries (jobs/api/maskr/params.py) of every problem found."""

    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} validation problems")
        self.problems = problems


class WaitsBusy(Exception):
    """This web process holds SYNC_WAIT_MAX_CONCURRENT synchronous waits already."""


def file_too_large_message(limit_bytes: int | None = None) -> str:
    limit = settings.MAX_INPUT_BYTES if limit_bytes is None else limit_bytes
    return f"Image exceeds the maximum file size limit ({limit // 2**20} MB)."


def message(exc: errors.DomainError) -> str:
    """What Maskr says about a refusal: its own words where it has them."""
    if isinstance(exc, errors.InsufficientCredits):
        return INSUFFICIENT_CREDITS
    if isinstance(exc, errors.ImageTooLarge):
        return file_too_large_message(exc.max_bytes)
    return exc.message


def detail(text, code: int, headers: dict | None = None) -> Response:
    return error_response({"detail": text}, code, headers)


def upload_too_large(exc: UploadTooLarge) -> Response:
    if exc.scope == "batch":
        text = f"The request exceeds the maximum batch size limit ({exc.limit_bytes // 2**20} MB)."
    else:
        text = file_too_large_message()
    return detail(text, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        return detail(message(exc), domain_status(exc, DOMAIN_STATUS), domain_headers(exc))
    if isinstance(exc, ValidationFailed):
        return detail(exc.problems, status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, UploadTooLarge):
        return upload_too_large(exc)
    if isinstance(exc, RequestDataTooBig):
        return detail(file_too_large_message(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, WaitsBusy):
        return detail(
            f"The server is busy: too many requests are waiting for their results. Retry in "
            f"{BUSY_RETRY_AFTER_SECONDS} seconds; nothing was charged.",
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        return detail("Not authenticated", status.HTTP_401_UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        # Only the key check raises these here: a revoked key or a disabled account is an
        # invalid key to Maskr, which answers 401 for every key problem.
        return detail(str(exc.detail), status.HTTP_401_UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.ParseError):
        return detail("There was an error parsing the body", status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return detail("Not Found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return detail("Method Not Allowed", status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, exceptions.APIException):
        return detail(str(exc.detail), exc.status_code, retry_after_headers(exc))
    return None
