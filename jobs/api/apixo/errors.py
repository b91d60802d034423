"""APIXO's errors: the envelope {"code": <HTTP status>, "message": <what is wrong>, "data":
null} with the HTTP status of APIXO's table, for every refusal of its paths: the body's
validation (APIXO's words, params.py), the key (401, 403), credits (402), an unknown task
(404), limits (429 with Retry-After).

Domain errors (jobs/errors.py) get their status here, in one table."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.api.apixo.payloads import apixo_words, envelope
from jobs.api.errors import (
    domain_headers,
    domain_status,
    error_response,
    request_too_large_message,
    retry_after_headers,
)

# Most specific first: the first class that matches gives the status.
DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InsufficientCredits, status.HTTP_402_PAYMENT_REQUIRED),
    (errors.InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (errors.Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (errors.ModelNotInstalled, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.JobNotFound, status.HTTP_404_NOT_FOUND),
]

MISSING_KEY = "Missing API key: send 'Authorization: Bearer YOUR_API_KEY'."


class UnknownModel(errors.DomainError):
    """A model id other than image-upscaler in the path: 404, as for a task not found."""


def refusal(message: str, code: int, headers: dict | None = None) -> Response:
    return error_response(envelope(None, code, message), code, headers)


def exception_handler(exc, context):
    if isinstance(exc, UnknownModel):
        return refusal(exc.message, status.HTTP_404_NOT_FOUND)
    if isinstance(exc, errors.DomainError):
        return refusal(apixo_words(exc.message), domain_status(exc, DOMAIN_STATUS), domain_headers(exc))
    if isinstance(exc, RequestDataTooBig):
        return refusal(request_too_large_message(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, exceptions.NotAuthenticated):
        return refusal(MISSING_KEY, status.HTTP_401_UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.AuthenticationFailed):
        return refusal(str(exc.detail), status.HTTP_401_UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.PermissionDenied):
        # A revoked key or a disabled account: APIXO's 403, a key that cannot use the model.
        return refusal(str(exc.detail), status.HTTP_403_FORBIDDEN)
    if isinstance(exc, exceptions.ParseError):
        return refusal(f"The request body is not valid JSON: {exc.detail}", status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return refusal("Not found.", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.APIException):
        return refusal(str(exc.detail), exc.status_code, retry_after_headers(exc))
    return None
