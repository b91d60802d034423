"""An APIXO task's call as a curl command: its own API, which names the output by a
resolution tier."""

from __future__ import annotations

import json
import shlex

from jobs.api.apixo.params import MODE, MODEL_ID
from jobs.models import Job


def command(job: Job, base_url: str) -> str:
    """An APIXO task's call: its own API, which names the output by a resolution tier."""
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
