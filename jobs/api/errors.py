"""The API surfaces' errors, decided once. Each surface (the Upsampler-style API here, and
each vendor's errors module) supplies a `SurfaceErrors`: the shape of its error body, the
rows of its domain-error table that differ from `COMMON_STATUS`, and its own words for the
few refusals every surface has (a missing key, a body that cannot be parsed, a busy
server). `exception_handler_for` turns that into its DRF exception handler; which
exception gets which answer is written here only.

The Upsampler-style shape is {"status": "FAILED", "error": "<what is wrong and what is
allowed>"}."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.errors import flatten_errors

StatusTable = list[tuple[type[errors.DomainError], int]]

# Every surface's status for each domain error, unless its own rows (put first) say
# otherwise. Most specific first: the first class that matches gives the status; none: 400.
COMMON_STATUS: StatusTable = [
    (errors.InsufficientCredits, status.HTTP_402_PAYMENT_REQUIRED),
    (errors.InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (errors.IdempotencyConflict, status.HTTP_409_CONFLICT),
    (errors.Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (errors.ModelNotInstalled, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.JobNotFound, status.HTTP_404_NOT_FOUND),
    (errors.JobStateConflict, status.HTTP_409_CONFLICT),
]

# A surface that answers once the job is done holds one of this web process's wait slots
# (jobs/completion.py); when they are all taken it answers 503 with this Retry-After.
BUSY_RETRY_AFTER_SECONDS = 5


class WaitsBusy(Exception):
    """This web process holds SYNC_WAIT_MAX_CONCURRENT synchronous waits already."""


def status_table(*rows: tuple[type[errors.DomainError], int]) -> StatusTable:
    """A surface's table: its own rows first, then the common ones."""
    return [*rows, *COMMON_STATUS]


def domain_status(exc: errors.DomainError, table: StatusTable = COMMON_STATUS) -> int:
    """The status `table` gives `exc`; 400 if none."""
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return status.HTTP_400_BAD_REQUEST


def domain_headers(exc: errors.DomainError) -> dict[str, str]:
    """Retry-After (and rate-limit headers) for errors that say when to come back."""
    if isinstance(exc, errors.Throttled):
        return {**exc.headers, "Retry-After": str(exc.retry_after)}
    return {}


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


def request_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"The request body is larger than {limit // 2**20} MB, the largest allowed."


def _own_message(exc: errors.DomainError) -> str:
    return exc.message


@dataclass(frozen=True)
class SurfaceErrors:
    """What one surface's errors look like; `exception_handler_for` does the rest."""

    # (message, status) -> the body of an error answer in the surface's shape.
    shape: Callable[[Any, int], Any]
    # The rows of its domain-error table that differ from COMMON_STATUS.
    rows: tuple[tuple[type[errors.DomainError], int], ...] = ()
    # Its words for a domain error (its field names, its vendor's fixed messages).
    message: Callable[[errors.DomainError], str] = _own_message
    missing_key: str = "Missing API key: send 'Authorization: Bearer <key>'."
    # A revoked key or a disabled account: 403, or 401 as any bad key (Maskr, Ximilar).
    refused_key_status: int = status.HTTP_403_FORBIDDEN
    # The message for a body that cannot be parsed, from the parser's detail.
    unparsable: Callable[[Any], str] = lambda detail: f"The request body could not be parsed: {detail}"
    # An unsupported Content-Type is an unparsable body too (else DRF's 415).
    unsupported_media_is_unparsable: bool = False
    not_found: str = "Not found."
    too_large: Callable[[], str] = request_too_large_message
    busy_hint: str = ""  # after "Retry in N seconds", before "; nothing was charged."
    # Exceptions only this surface raises, answered before the rest (None: not one of them).
    special: Callable[[Exception], Response | None] = lambda exc: None
    table: StatusTable = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", status_table(*self.rows))

    def answer(self, message: Any, code: int, headers: dict | None = None) -> Response:
        return error_response(self.shape(message, code), code, headers)


def exception_handler_for(surface: SurfaceErrors) -> Callable[[Exception, Any], Response | None]:
    """The DRF exception handler of a surface: every refusal in its shape, with its status."""

    def handler(exc, context):
        special = surface.special(exc)
        if special is not None:
            return special
        if isinstance(exc, errors.DomainError):
            return surface.answer(surface.message(exc), domain_status(exc, surface.table), domain_headers(exc))
        if isinstance(exc, WaitsBusy):
            return surface.answer(
                f"The server is busy: too many requests are waiting for their results. Retry in "
                f"{BUSY_RETRY_AFTER_SECONDS} seconds{surface.busy_hint}; nothing was charged.",
                status.HTTP_503_SERVICE_UNAVAILABLE,
                {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
            )
        if isinstance(exc, RequestDataTooBig):
            return surface.answer(surface.too_large(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        # A key refused: the view's challenge (its get_authenticate_header, as DRF sends it).
        view, request = context.get("view"), context.get("request")
        scheme = view.get_authenticate_header(request) if view is not None and request is not None else None
        challenge = {"WWW-Authenticate": scheme} if scheme else {}
        if isinstance(exc, exceptions.NotAuthenticated):
            return surface.answer(surface.missing_key, status.HTTP_401_UNAUTHORIZED, challenge)
        if isinstance(exc, exceptions.AuthenticationFailed):
            return surface.answer(str(exc.detail), status.HTTP_401_UNAUTHORIZED, challenge)
        if isinstance(exc, exceptions.PermissionDenied):
            code = surface.refused_key_status
            return surface.answer(str(exc.detail), code, challenge if code == status.HTTP_401_UNAUTHORIZED else {})
        if isinstance(exc, PermissionDenied):
            return surface.answer(str(exceptions.PermissionDenied.default_detail), status.HTTP_403_FORBIDDEN)
        if isinstance(exc, exceptions.ParseError) or (
            surface.unsupported_media_is_unparsable and isinstance(exc, exceptions.UnsupportedMediaType)
        ):
            return surface.answer(surface.unparsable(exc.detail), status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, Http404 | exceptions.NotFound):
            return surface.answer(surface.not_found, status.HTTP_404_NOT_FOUND)
        if isinstance(exc, exceptions.ValidationError):
            return surface.answer(" ".join(flatten_errors(exc.detail)), exc.status_code)
        if isinstance(exc, exceptions.APIException):
            headers = retry_after_headers(exc)
            if exc.status_code == status.HTTP_429_TOO_MANY_REQUESTS and not headers:
                headers = {"Retry-After": "60"}
            return surface.answer(str(exc.detail), exc.status_code, headers)
        return None

    return handler


UPSAMPLER = SurfaceErrors(
    shape=lambda message, code: {"status": "FAILED", "error": message},
    rows=(
        (errors.InsufficientCredits, status.HTTP_403_FORBIDDEN),
        (errors.IdempotencyInProgress, status.HTTP_409_CONFLICT),
    ),
)
exception_handler = exception_handler_for(UPSAMPLER)
