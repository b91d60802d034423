"""The web app's jobs send the Upsampler-style status payload to their webhook: the API
their curl equivalent calls (jobs/web/curl.py)."""

from __future__ import annotations

from jobs import surfaces
from jobs.api.serializers import status_payload
from jobs.models import Job

surfaces.register_webhook_body(Job.Surface.WEB, lambda job: status_payload(job, job.public_base_url()))
