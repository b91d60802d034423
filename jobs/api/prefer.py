"""The `Prefer` request header (RFC 7240): `Prefer: wait=N` asks the submit to answer when
the job has ended, or after N seconds, whichever comes first (as Replicate does)."""

from __future__ import annotations

from django.conf import settings


def requested_wait(header: str | None) -> int | None:
    """Seconds to wait (capped at SYNC_WAIT_MAX_SECONDS), or None when no positive wait is
    asked for. Preferences that cannot be parsed are ignored, as the RFC says."""
    if not header:
        return None
    for preference in header.split(","):
        token, _, value = preference.split(";", 1)[0].partition("=")
        if token.strip().lower() != "wait":
            continue
        value = value.strip().strip('"')
        if value.isdigit() and int(value) > 0:
            return min(int(value), settings.SYNC_WAIT_MAX_SECONDS)
        return None
    return None
