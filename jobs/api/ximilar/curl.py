"""A Ximilar request's call as a curl command: the synchronous endpoint of its scale, or
the asynchronous request (with its webhook) when it was sent that way; `Token` auth; the
record as sent, and the options that differ from Ximilar's defaults."""

from __future__ import annotations

import json
import shlex
import uuid

from inference.imageio import EXTENSIONS
from jobs.api.ximilar.params import REQUEST_TYPE, Options
from jobs.models import Job

DEFAULTS = Options(factor=2, record={})
SENTINEL = uuid.uuid4().hex


def command(job: Job, base_url: str) -> str:
    sent = job.params.get("ximilar", {})
    endpoint = sent.get("endpoint", f"upscale_{int(job.params.get('upscaleFactor', 2))}x")
    body: dict = {}
    if sent.get("asynchronous"):
        url = f"{base_url.rstrip('/')}/account/v2/request"
        body.update(type=REQUEST_TYPE, endpoint=endpoint)
    else:
        url = f"{base_url.rstrip('/')}/upscaler/{endpoint.removeprefix('upscale_')}/upscale"
    record = dict(sent.get("record") or {})
    from_file = "_url" not in record
    if from_file:
        record["_base64"] = SENTINEL  # replaced by the file's base64 in the shell, below
    body["records"] = [record]
    for name in ("mode", "model_type", "image_format", "image_quality", "tune_colors"):
        if name in sent and sent[name] != getattr(DEFAULTS, name):
            body[name] = sent[name]
    if job.webhook_url:
        body["webhook"] = {
            "endpoint": job.webhook_url,
            **({"headers": job.webhook_headers} if job.webhook_headers else {}),
        }
    data = shlex.quote(json.dumps(body))
    if from_file:  # the JSON around the image; the image's base64 from the shell
        before, after = json.dumps(body).split(SENTINEL, 1)
        name = f"input.{EXTENSIONS.get(job.input_format, 'jpg')}"
        data = f'{shlex.quote(before)}"$(base64 -w0 {name})"{shlex.quote(after)}'
    lines = [
        f"curl -X POST {shlex.quote(url)}",
        '-H "Authorization: Token $UPSCALER_API_KEY"',
        "-H 'Content-Type: application/json'",
        f"-d {data}",
    ]
    return " \\\n  ".join(lines)
