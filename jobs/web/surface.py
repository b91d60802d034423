"""The web app's jobs are the Upsampler-style API's: their webhook gets its status payload,
and their curl equivalent calls it (jobs/api/curl.py)."""

from __future__ import annotations

from jobs import surfaces
from jobs.api import curl
from jobs.api.serializers import webhook_body
from jobs.models import Job


def wire() -> None:
    """Called once when the app loads (jobs/apps.py), like every face's wire()."""
    surfaces.register_webhook_body(Job.Surface.WEB, webhook_body)
    surfaces.register_curl(Job.Surface.WEB, curl.command)
