"""Ximilar's errors: the HTTP code equals `status.code`, and the body is
{"status": {"code", "text", "error_description"}, "statistics": {"processing time": 0}}.

Domain errors (jobs/errors.py) get their code here, in one table. Messages are the domain's
own, with the Upsampler field names of the image read as Ximilar's record fields."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.api.errors import domain_headers, domain_status, request_too_large_message
from jobs.api.ximilar.payloads import status as status_body

BUSY_RETRY_AFTER_SECONDS = 5

# Most specific first: the first class that matches gives the code.
DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InsufficientCredits, status.HTTP_402_PAYMENT_REQUIRED),
    (errors.ImageTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (errors.InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (errors.Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (errors.ModelNotInstalled, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.JobNotFound, status.HTTP_404_NOT_FOUND),
    (errors.JobStateConflict, status.HTTP_400_BAD_REQUEST),
    (errors.IdempotencyConflict, status.HTTP_400_BAD_REQUEST),
]
# The submit path names fields as the Upsampler API does; Ximilar's names replace them.
FIELD_NAMES = {
    "input.imageUrl": "_url",
    "input.imageBase64": "_base64",
    "imageUrl": "_url",
    "imageBase64": "_base64",
    "upscaleFactor": "scale",
    "outputFormat": "image_format",
}


class UnknownEndpoint(Exception):
    def __init__(self, path: str):
        super().__init__(
            f"There is no endpoint {path}: the upscaler's are /upscaler/2x/upscale, /upscaler/4x/upscale and "
            "/upscaler/8x/upscale."
        )


class WaitsBusy(Exception):
    """This web process holds SYNC_WAIT_MAX_CONCURRENT synchronous waits already."""


def message(exc: errors.DomainError) -> str:
    text = exc.message
    for ours, theirs in FIELD_NAMES.items():
        text = text.replace(ours, theirs)
    return text


def failure(code: int, description: str, headers: dict | None = None) -> Response:
    body = {"status": status_body(code, description), "statistics": {"processing time": 0.0}}
    return Response(body, status=code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        return failure(domain_status(exc, DOMAIN_STATUS), message(exc), domain_headers(exc))
    if isinstance(exc, UnknownEndpoint | Http404 | exceptions.NotFound):
        return failure(status.HTTP_404_NOT_FOUND, str(exc) or "Not found.")
    if isinstance(exc, WaitsBusy):
        return failure(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"The server is busy: too many requests are waiting for their results. Retry in "
            f"{BUSY_RETRY_AFTER_SECONDS} seconds, or use an asynchronous request; nothing was charged.",
            {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        return failure(
            status.HTTP_401_UNAUTHORIZED,
            "Authentication credentials were not provided: send 'Authorization: Token <key>'.",
            {"WWW-Authenticate": "Token"},
        )
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        # Only the key check raises these here: a revoked key or a disabled account is an
        # invalid key too.
        return failure(status.HTTP_401_UNAUTHORIZED, str(exc.detail), {"WWW-Authenticate": "Token"})
    if isinstance(exc, RequestDataTooBig):
        return failure(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, request_too_large_message())
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return failure(status.HTTP_400_BAD_REQUEST, f"The body must be JSON: {exc.detail}")
    if isinstance(exc, exceptions.APIException):
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(wait)} if wait else None
        return failure(exc.status_code, str(exc.detail), headers)
    return None
