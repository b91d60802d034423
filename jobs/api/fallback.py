"""Answers for requests no view of a vendor surface handled: a path under a surface's prefix
that does not exist (404), or a request Django or the web server refused before any view
ran (400 for too many fields or files, 414 for a long URL, 431 for big headers). Each is
answered in the shape of the surface the path belongs to, as that surface's own errors are,
instead of the web app's HTML pages. Paths of no surface keep Django's (and the web app's)
pages.

Django calls `handler400` and `handler404` (upscaler_platform/urls.py); the web server's
worker (upscaler_platform/gunicorn_worker.py) calls `error_response_bytes` for what it
refuses itself."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpResponse, JsonResponse
from django.views import defaults

# Prefixes, most specific first: APIXO's two paths share /api/v1/ with the Upsampler API.
APIXO_PREFIXES = ("/api/v1/generateTask/", "/api/v1/statusTask/", "/api/v1/apikeys/")
UPSAMPLER_PREFIX = "/api/v1/"
MASKR_PREFIX = "/v1/services/"
XIMILAR_PREFIXES = ("/upscaler/", "/account/v2/")
# Pages of the Upsampler API's prefix that are no API answers.
NOT_API = ("/api/v1/docs", "/api/v1/schema")

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


def surface_of(path: str) -> str | None:
    """The vendor surface whose prefix `path` is under, or None (the web app, the admin...)."""
    if path.startswith(APIXO_PREFIXES):
        return "apixo"
    if path.startswith(UPSAMPLER_PREFIX) and not path.startswith(NOT_API):
        return "upsampler"
    if path.startswith(MASKR_PREFIX):
        return "maskr"
    if path.startswith(XIMILAR_PREFIXES):
        return "ximilar"
    return None


def _shapes() -> dict[str, Callable[[str, int], dict]]:
    """Each surface's error body, as its exception handler writes it (its SurfaceErrors):
    one definition of each shape."""
    from jobs.api.apixo.errors import APIXO
    from jobs.api.errors import UPSAMPLER
    from jobs.api.maskr.errors import MASKR
    from jobs.api.ximilar.errors import XIMILAR

    return {"upsampler": UPSAMPLER.shape, "apixo": APIXO.shape, "maskr": MASKR.shape, "ximilar": XIMILAR.shape}


NOT_FOUND = {
    "upsampler": "There is no endpoint {method} {path}: the API's endpoints are listed at /api/v1/docs.",
    "apixo": "There is no endpoint {method} {path}: APIXO's are POST /api/v1/generateTask/image-upscaler and "
    "GET /api/v1/statusTask/image-upscaler.",
    "maskr": "Not Found",
    "ximilar": "There is no endpoint {method} {path}: the upscaler's are /upscaler/2x/upscale, /upscaler/4x/upscale "
    "and /upscaler/8x/upscale, and asynchronous requests are under /account/v2/request.",
}


def error_body(surface: str, code: int, message: str) -> dict:
    return _shapes()[surface](message, code)


def error_response_bytes(path: str, code: int, message: str) -> bytes | None:
    """A whole HTTP/1.1 response (closing the connection) in the surface's shape, for the
    web server to send when it refuses a request before the application sees it; None for
    a path of no surface."""
    surface = surface_of(path)
    if surface is None:
        return None
    body = json.dumps(error_body(surface, code, message)).encode()
    head = (
        f"HTTP/1.1 {code} {REASONS.get(code, 'Bad Request')}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def handler404(request, exception=None) -> HttpResponse:
    surface = surface_of(request.path)
    if surface is None:
        return defaults.page_not_found(request, exception)
    path = request.path if len(request.path) <= 200 else request.path[:200] + "…"
    message = NOT_FOUND[surface].format(method=request.method, path=path)
    return JsonResponse(error_body(surface, 404, message), status=404)


def handler400(request, exception=None) -> HttpResponse:
    """What Django refuses before a view answers: too many form fields or files
    (DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_NUMBER_FILES), a bad Host."""
    surface = surface_of(request.path)
    if surface is None:
        return defaults.bad_request(request, exception)
    why = str(exception or "").rstrip(".")
    message = f"The request was refused: {why}." if why else "The request was refused."
    return JsonResponse(error_body(surface, 400, message), status=400)
