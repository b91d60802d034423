"""Every Upsampler-style API error has one shape: {"status": "FAILED", "error": "<what is wrong
and what is allowed>"}. Domain errors (jobs/errors.py) get their HTTP status here, in one
table; DRF's own errors (auth, parsing, validation) are reshaped the same way."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jobs import errors

# Most specific first: the first class that matches gives the status.
DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InsufficientCredits, status.HTTP_403_FORBIDDEN),
    (errors.InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (errors.IdempotencyConflict, status.HTTP_409_CONFLICT),
    (errors.IdempotencyInProgress, status.HTTP_409_CONFLICT),
    (errors.Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (errors.ModelNotInstalled, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.JobNotFound, status.HTTP_404_NOT_FOUND),
    (errors.JobStateConflict, status.HTTP_409_CONFLICT),
]


def domain_status(exc: errors.DomainError, table: list[tuple[type[errors.DomainError], int]] = DOMAIN_STATUS) -> int:
    """The status `table` gives `exc` (each surface has its own table); 400 if none."""
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return status.HTTP_400_BAD_REQUEST


def domain_headers(exc: errors.DomainError) -> dict[str, str]:
    """Retry-After (and rate-limit headers) for errors that say when to come back."""
    if isinstance(exc, errors.Throttled):
        return {**exc.headers, "Retry-After": str(exc.retry_after)}
    return {}


def flatten_errors(detail, path: str = "") -> list[str]:
    """DRF's nested error dict -> readable lines that name the field."""
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


def error_response(body, code: int, headers: dict | None = None) -> Response:
    """An error answer in any surface's shape, with its headers (Retry-After, WWW-Authenticate)."""
    response = Response(body, status=code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def retry_after_headers(exc) -> dict[str, str]:
    """Retry-After for a DRF exception that says when to come back (Throttled's `wait`)."""
    wait = getattr(exc, "wait", None)
    return {"Retry-After": str(wait)} if wait else {}


def failure(message: str, code: int, headers: dict | None = None) -> Response:
    return error_response({"status": "FAILED", "error": message}, code, headers)


def request_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"The request body is larger than {limit // 2**20} MB, the largest allowed."


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        return failure(exc.message, domain_status(exc), domain_headers(exc))
    if isinstance(exc, RequestDataTooBig):
        return failure(request_too_large_message(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, exceptions.NotAuthenticated):
        missing = exceptions.NotAuthenticated("Missing API key: send 'Authorization: Bearer <key>'.")
        missing.auth_header = getattr(exc, "auth_header", None)  # type: ignore[attr-defined]  # set by DRF's views
        exc = missing
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message = " ".join(flatten_errors(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        message = f"The request body could not be parsed: {exc.detail}"
    else:
        message = str(exc.detail)
    headers = {h: response[h] for h in ("WWW-Authenticate", "Retry-After", "Allow") if h in response}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" not in headers:
        headers["Retry-After"] = "60"
    return failure(message, response.status_code, headers)
