"""The API call equivalent to a job submitted in the web app, as a curl command. The key is
a shell variable: the page never holds a real one."""

from __future__ import annotations

import json
import shlex

from jobs.api.serializers import INPUT_SERIALIZERS
from jobs.models import Job

ENDPOINTS = {"precise": "precise-upscale", "dynamic": "dynamic-upscale", "smart": "smart-upscale", "restore": "restore"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


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


def apixo_command(job: Job, base_url: str) -> str:
    """An APIXO task's call: its own API, which names the output by a resolution tier."""
    from jobs.api.apixo.params import MODE, MODEL_ID

    body: dict = {"request_type": "callback" if job.webhook_url else "async"}
    if job.webhook_url:
        body["callback_url"] = job.webhook_url
    body["input"] = {
        "mode": MODE,
        "image_urls": [job.params.get("imageUrl", "")],
        "resolution": job.params.get("resolution", ""),
        "output_format": job.output_format,
    }
    url = f"{base_url.rstrip('/')}/api/v1/generateTask/{MODEL_ID}"
    lines = [
        f"curl -X POST {shlex.quote(url)}",
        '-H "Authorization: Bearer $UPSCALER_API_KEY"',
        "-H 'Content-Type: application/json'",
        f"-d {shlex.quote(json.dumps(body))}",
    ]
    return " \\\n  ".join(lines)


def command(job: Job, base_url: str) -> str:
    if job.surface == Job.Surface.APIXO:
        return apixo_command(job, base_url)
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
