"""The API call equivalent to a job, shown on its page and in the playground: the curl of
the API its surface is, which each surface supplies (jobs/surfaces.py)."""

from __future__ import annotations

from jobs import surfaces
from jobs.models import Job


def command(job: Job, base_url: str) -> str:
    return surfaces.curl_command(job, base_url)
