"""APIXO's errors: the envelope {"code": <HTTP status>, "message": <what is wrong>, "data":
null} with the HTTP status of APIXO's table, for every refusal of its paths: the body's
validation (APIXO's words, params.py), the key (401, 403), credits (402), an unknown task
(404), limits (429 with Retry-After).

Domain errors (jobs/errors.py) get their status here, in one table."""

from __future__ import annotations

from rest_framework import status

from jobs import errors
from jobs.api.apixo.payloads import apixo_words, envelope
from jobs.api.errors import SurfaceErrors, exception_handler_for

MISSING_KEY = "Missing API key: send 'Authorization: Bearer YOUR_API_KEY'."


class UnknownModel(errors.DomainError):
    """A model id other than image-upscaler in the path: 404, as for a task not found."""


APIXO = SurfaceErrors(
    shape=lambda message, code: envelope(None, code, message),
    rows=(
        (UnknownModel, status.HTTP_404_NOT_FOUND),
        (errors.JobStateConflict, status.HTTP_400_BAD_REQUEST),
        (errors.IdempotencyConflict, status.HTTP_400_BAD_REQUEST),
    ),
    # Its field names, in its pattern; an unknown model's message is APIXO's own already.
    message=lambda exc: exc.message if isinstance(exc, UnknownModel) else apixo_words(exc.message),
    missing_key=MISSING_KEY,
    # A revoked key or a disabled account: APIXO's 403, a key that cannot use the model.
    refused_key_status=status.HTTP_403_FORBIDDEN,
    unparsable=lambda detail: f"The request body is not valid JSON: {detail}",
)
exception_handler = exception_handler_for(APIXO)
