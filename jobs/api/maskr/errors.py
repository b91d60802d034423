"""Maskr's errors as its FastAPI service answers them: {"detail": "<message>"}, and for a
request it cannot validate 422 with {"detail": [<one entry per problem>]}.

Domain errors (jobs/errors.py) get their status here, in one table, and Maskr's own words
where its document gives them ("Insufficient credits", the 50 MB limit)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobs import errors
from jobs.api.errors import SurfaceErrors, error_response, exception_handler_for
from jobs.api.uploads import UploadTooLarge

INSUFFICIENT_CREDITS = "Insufficient credits"


class ValidationFailed(Exception):
    """422: the detail entries (jobs/api/maskr/params.py) of every problem found."""

    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} validation problems")
        self.problems = problems


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


def _maskr_only(exc: Exception) -> Response | None:
    if isinstance(exc, ValidationFailed):
        return detail(exc.problems, status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, UploadTooLarge):
        if exc.scope == "batch":
            text = f"The request exceeds the maximum batch size limit ({exc.limit_bytes // 2**20} MB)."
        else:
            text = file_too_large_message()
        return detail(text, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return detail("Method Not Allowed", status.HTTP_405_METHOD_NOT_ALLOWED)
    return None


MASKR = SurfaceErrors(
    shape=lambda text, code: {"detail": text},
    rows=((errors.ImageTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),),
    message=message,
    missing_key="Not authenticated",
    # Only the key check raises these here: a revoked key or a disabled account is an
    # invalid key to Maskr, which answers 401 for every key problem.
    refused_key_status=status.HTTP_401_UNAUTHORIZED,
    unparsable=lambda detail: "There was an error parsing the body",
    not_found="Not Found",
    too_large=file_too_large_message,
    special=_maskr_only,
)
exception_handler = exception_handler_for(MASKR)
