"""Ximilar's errors: the HTTP code equals `status.code`, and the body is
{"status": {"code", "text", "error_description"}, "statistics": {"processing time": 0}}.

Domain errors (jobs/errors.py) get their code here, in one table. Messages are the domain's
own, with the Upsampler field names of the image read as Ximilar's record fields."""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.api.errors import SurfaceErrors, error_response, exception_handler_for
from jobs.api.ximilar.payloads import status as status_body

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


def message(exc: errors.DomainError) -> str:
    text = exc.message
    for ours, theirs in FIELD_NAMES.items():
        text = text.replace(ours, theirs)
    return text


def shape(description: str, code: int) -> dict:
    return {"status": status_body(code, description), "statistics": {"processing time": 0.0}}


def failure(code: int, description: str, headers: dict | None = None) -> Response:
    return error_response(shape(description, code), code, headers)


def _not_found(exc: Exception) -> Response | None:
    if isinstance(exc, UnknownEndpoint | Http404 | exceptions.NotFound):
        return failure(status.HTTP_404_NOT_FOUND, str(exc) or "Not found.")
    return None


XIMILAR = SurfaceErrors(
    shape=shape,
    rows=(
        (errors.ImageTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
        (errors.JobStateConflict, status.HTTP_400_BAD_REQUEST),
        (errors.IdempotencyConflict, status.HTTP_400_BAD_REQUEST),
    ),
    message=message,
    missing_key="Authentication credentials were not provided: send 'Authorization: Token <key>'.",
    refused_key_status=status.HTTP_401_UNAUTHORIZED,  # a revoked key or a disabled account is an invalid key too
    unparsable=lambda detail: f"The body must be JSON: {detail}",
    unsupported_media_is_unparsable=True,
    busy_hint=", or use an asynchronous request",
    special=_not_found,
)
exception_handler = exception_handler_for(XIMILAR)
