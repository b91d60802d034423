"""Input and output files in the configured storage (local filesystem or S3), and the
3-hour URLs that expose outputs: S3 presigned URLs, or HMAC-signed app URLs locally."""

from __future__ import annotations

import hmac
import time
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.http import urlencode

_SALT = "jobs.storage.signed-file"


def is_s3() -> bool:
    return settings.STORAGE_BACKEND == "s3"


def save(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def delete(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def expiring_url(name: str, expires_at: datetime) -> str:
    """A URL for `name` that stops working at `expires_at`.

    Local storage gives a path on this app (made absolute by the caller with the request's
    host or PUBLIC_BASE_URL); S3 gives an absolute presigned URL.
    """
    expires = int(expires_at.timestamp())
    if is_s3():
        seconds = max(expires - int(time.time()), 1)
        return default_storage.url(name, expire=seconds)  # type: ignore[call-arg]  # S3Storage.url
    query = urlencode({"expires": str(expires), "signature": _signature(name, expires)})
    return f"{reverse('signed-file', kwargs={'name': name})}?{query}"


def absolute_url(url: str, base_url: str) -> str:
    """An expiring_url as a client can use it: S3's are absolute already, the app's signed
    paths get `base_url` (the request's, or PUBLIC_BASE_URL)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    return f"{base_url}{url}"


def check_signature(name: str, expires: str, signature: str) -> str | None:
    """None when the signed URL is valid now, else the reason it is not."""
    try:
        expires_ts = int(expires)
    except (TypeError, ValueError):
        return "invalid"
    if not hmac.compare_digest(_signature(name, expires_ts), signature or ""):
        return "invalid"
    if time.time() > expires_ts:
        return "expired"
    return None


def _signature(name: str, expires: int) -> str:
    return salted_hmac(_SALT, f"{name}|{expires}", algorithm="sha256").hexdigest()
