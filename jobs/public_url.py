"""The public base URL: where the app's links point (signed output URLs, webhook bodies,
the `curl` commands, set-password and reset links). One place decides it:

- PUBLIC_BASE_URL, when the deployment sets it (compose and Kubernetes do);
- else, for an answer to a request, the scheme and host the client reached us by;
- else, for a link handed out of band (`create_account --email` prints one), the address
  the running web server listens on: gunicorn records it when it is ready
  (upscaler_platform/gunicorn_conf.py, in WEB_SERVER_URL_FILE) and removes it when it
  stops; with no server running, http://localhost:PORT.
"""

from __future__ import annotations

from django.conf import settings


def of_request(request) -> str:
    """scheme://host as the client reached us (behind a proxy: SECURE_PROXY_SSL_HEADER)."""
    return request.build_absolute_uri("/").rstrip("/")


def or_else(fallback: str) -> str:
    """PUBLIC_BASE_URL when set, else `fallback` (the base a job was submitted through)."""
    return settings.PUBLIC_BASE_URL or fallback


def for_request(request) -> str:
    """The base of the links in an answer to `request`."""
    return or_else(of_request(request))


def out_of_band() -> str:
    """The base of a link handed out with no request to go by."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    try:
        recorded = settings.WEB_SERVER_URL_FILE.read_text().strip()
    except OSError:
        recorded = ""
    if recorded.startswith(("http://", "https://")):
        return recorded.rstrip("/")
    return f"http://localhost:{settings.PORT}"
