"""A job's API call as a curl command, for the Upsampler-style API (and the web app's jobs,
which that API would run the same). Each vendor surface has its own (its curl.py); the web
app shows the one of the job's surface (jobs/surfaces.py). The key is a shell variable: the
page never holds a real one."""

from __future__ import annotations

import json
import shlex

from inference.imageio import EXTENSIONS
from jobs.api.serializers import INPUT_SERIALIZERS
from jobs.models import Job

ENDPOINTS = {"precise": "precise-upscale", "dynamic": "dynamic-upscale", "smart": "smart-upscale", "restore": "restore"}


def _non_default(job: Job) -> dict:
    """The job's fields that differ from the API's defaults (the factor always), in the
    serializer's order."""
    declared = INPUT_SERIALIZERS[job.mode]().fields
    fields = {}
    for name, field in declared.items():
        if name in ("imageUrl", "imageBase64") or name not in job.params:
            continue
        value = job.params[name]
        if name == "upscaleFactor" or value != field.default:
            fields[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    return fields


def command(job: Job, base_url: str) -> str:
    """The Upsampler-style API call of a job (this API's, and the web app's: its jobs are
    submitted with the same fields)."""
    url = f"{base_url.rstrip('/')}/api/v1/{ENDPOINTS[job.mode]}"
    lines = [f"curl -X POST {shlex.quote(url)}", '-H "Authorization: Bearer $UPSCALER_API_KEY"']
    fields = _non_default(job)
    image_url = job.params.get("imageUrl")
    if image_url:
        body: dict = {"input": {"imageUrl": image_url, **fields}}
        if job.webhook_url:
            body = {"webhook": job.webhook_url, **body}
        lines.append("-H 'Content-Type: application/json'")
        lines.append(f"-d {shlex.quote(json.dumps(body))}")
    else:
        lines.append(f"-F image=@input.{EXTENSIONS.get(job.input_format, 'png')}")
        for name, value in fields.items():
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            lines.append(f"-F {shlex.quote(f'{name}={text}')}")
        if job.webhook_url:
            lines.append(f"-F {shlex.quote('webhook=' + job.webhook_url)}")
    return " \\\n  ".join(lines)
