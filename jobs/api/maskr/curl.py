"""A Maskr job's call as a curl command: the file uploaded to the single-image endpoint
with the batch's or upload's query (each file of a batch is a job of its own, run alike)."""

from __future__ import annotations

import shlex
from urllib.parse import urlencode

from jobs.api.maskr.params import OUTPUT_FORMATS
from jobs.models import Job, output_format


def command(job: Job, base_url: str) -> str:
    name = next((n for n in OUTPUT_FORMATS if output_format(n) == job.output_format), job.output_format)
    query = urlencode(
        {"scale_factor": int(job.params.get("upscaleFactor", 4)), "output_format": name, "quality": job.output_quality}
    )
    url = f"{base_url.rstrip('/')}/v1/services/image-upscaling?{query}"
    filename = job.params.get("inputFilename") or "input.jpg"
    lines = [
        f"curl -X POST {shlex.quote(url)}",
        '-H "Authorization: Bearer $UPSCALER_API_KEY"',
        f"-F {shlex.quote(f'file=@{filename}')}",
    ]
    return " \\\n  ".join(lines)
