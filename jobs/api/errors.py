"""Every API error has one shape: {"status": "FAILED", "error": "<what is wrong and what is allowed>"}."""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    def __init__(self, message: str, status_code: int = 400, headers: dict | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers or {}


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


def exception_handler(exc, context):
    if isinstance(exc, exceptions.NotAuthenticated):
        exc = exceptions.NotAuthenticated("Missing API key: send 'Authorization: Bearer <key>'.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message = " ".join(flatten_errors(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        message = f"The request body could not be parsed: {exc.detail}"
    else:
        message = str(exc.detail)
    body = Response({"status": "FAILED", "error": message}, status=response.status_code)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            body[header] = response[header]
    for header, value in getattr(exc, "headers", {}).items():
        body[header] = value
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" not in body:
        body["Retry-After"] = "60"
    return body
