"""The web app's jobs send the Upsampler-style status payload to their webhook: the API
their curl equivalent calls (jobs/web/curl.py)."""

from __future__ import annotations

from jobs import surfaces
from jobs.api.serializers import webhook_body
from jobs.models import Job


def wire() -> None:
    """Called once when the app loads (jobs/apps.py), like every face's wire()."""
    surfaces.register_webhook_body(Job.Surface.WEB, webhook_body)
