"""Reading Ximilar's upscale bodies: one record with `_url` or `_base64`, and the options.

Unknown top-level and record fields are allowed (Ximilar's client adds its own, e.g.
`noresize`); the record's fields come back in the answer, except `_base64`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from inference.imageio import DEFAULT_QUALITY
from jobs.errors import InvalidRequest
from jobs.models import OutputFormat
from jobs.submission import clean_webhook

SCALES = {"2x": 2, "4x": 4, "8x": 8}
ENDPOINTS = {f"upscale_{name}": factor for name, factor in SCALES.items()}  # the asynchronous form's
REQUEST_TYPE = "upscaler"
# Ximilar keeps upscaled images for 24 hours.
OUTPUT_TTL_SECONDS = 24 * 3600
MODES = ("artifact_removal", "ironed_out", "high_fidelity")
MODEL_TYPES = ("gan",)  # absent or null: the classic model
IMAGE_FORMATS = tuple(OutputFormat.values)
QUALITY_RANGE = (1, 100)
# The record's own fields are stored with the job and echoed in every answer: bounded.
MAX_RECORD_BYTES = 64 * 1024
MAX_WEBHOOK_HEADERS = 20
MAX_WEBHOOK_HEADER_CHARS = 1000
# Headers a client may not set on its webhook: the request's framing, and the signature's.
RESERVED_HEADERS = {"host", "content-length", "content-type", "transfer-encoding", "connection"}

# Ximilar's mode -> the engine's clean-up look (inference/finishing.py).
FINISH = {"artifact_removal": "clean", "ironed_out": "smooth", "high_fidelity": "none"}


@dataclass(frozen=True)
class Options:
    factor: int
    record: dict  # the record as sent, without `_base64`
    image_url: str = ""
    image_base64: str = ""
    mode: str = "artifact_removal"
    model_type: str | None = None
    image_format: str | None = None  # None: decided from the input (alpha: png, else jpg)
    image_quality: int = DEFAULT_QUALITY
    tune_colors: bool = True
    webhook: str = ""
    webhook_headers: dict = field(default_factory=dict)

    def engine_fields(self) -> dict:
        """The job's fields the inference engine reads (jobs/processing.py)."""
        return {
            "upscaleFactor": self.factor,
            "inputImageType": "universal",
            "classic": self.model_type is None,
            "finish": FINISH[self.mode],
            "matchColors": self.tune_colors,
        }

    def output_format(self, input_has_alpha: bool) -> str:
        if self.image_format is not None:
            return self.image_format
        return OutputFormat.PNG if input_has_alpha else OutputFormat.JPG


def _choice(body: dict, name: str, allowed: tuple, default, absent: str = ""):
    """One of `allowed`; `default` when absent (and null too where the default is None)."""
    value = body.get(name, default)
    if value is None and default is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}{absent} (got {value!r}).", field=name)
    return value


def _record(body: dict) -> dict:
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise InvalidRequest('records must be a list with one record, e.g. [{"_url": "https://..."}].')
    if len(records) != 1:
        raise InvalidRequest(f"records must hold exactly one record (got {len(records)}): one image per request.")
    record = records[0]
    if not isinstance(record, dict):
        raise InvalidRequest("The record must be a JSON object with _url or _base64.")
    sources = [name for name in ("_url", "_base64") if record.get(name)]
    if len(sources) != 1:
        raise InvalidRequest(
            "The record must carry exactly one of _url or _base64 "
            f"(got {len(sources)}: {', '.join(sources) or 'none'})."
        )
    for name in sources:
        if not isinstance(record[name], str):
            raise InvalidRequest(f"{name} must be a string.", field=name)
    echoed = {name: value for name, value in record.items() if name != "_base64"}
    if len(json.dumps(echoed)) > MAX_RECORD_BYTES:
        raise InvalidRequest(
            f"The record's fields other than _base64 must total at most {MAX_RECORD_BYTES // 1024} KB: "
            "they are stored with the job and sent back in every answer."
        )
    return record


def _quality(body: dict) -> int:
    value = body.get("image_quality", DEFAULT_QUALITY)
    low, high = QUALITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"image_quality must be an integer from {low} to {high} (got {value!r}).")
    return value


def _tune_colors(body: dict) -> bool:
    value = body.get("tune_colors", True)
    if not isinstance(value, bool):
        raise InvalidRequest(f"tune_colors must be true or false (got {value!r}).")
    return value


def _webhook(body: dict) -> tuple[str, dict]:
    webhook = body.get("webhook")
    if webhook is None:
        return "", {}
    if not isinstance(webhook, dict):
        raise InvalidRequest('webhook must be an object: {"endpoint": "https://...", "headers": {...}}.')
    endpoint = clean_webhook(webhook.get("endpoint"), field="webhook.endpoint")
    if not endpoint:
        raise InvalidRequest("webhook.endpoint is required: the URL to POST the finished request to.")
    headers = webhook.get("headers") or {}
    if not isinstance(headers, dict) or not all(_header_ok(k, v) for k, v in headers.items()):
        raise InvalidRequest(
            "webhook.headers must be an object of header names to string values (Latin-1 text without line "
            f"breaks, as HTTP headers carry, at most {MAX_WEBHOOK_HEADER_CHARS} characters each)."
        )
    if len(headers) > MAX_WEBHOOK_HEADERS:
        raise InvalidRequest(f"webhook.headers may hold at most {MAX_WEBHOOK_HEADERS} headers (got {len(headers)}).")
    reserved = sorted(k for k in headers if k.lower() in RESERVED_HEADERS or k.lower().startswith("webhook-"))
    if reserved:
        raise InvalidRequest(
            f"webhook.headers may not set {', '.join(reserved)}: the request's framing and its signature "
            "(webhook-id, webhook-timestamp, webhook-signature) are ours."
        )
    return endpoint, headers


def _header_ok(name, value) -> bool:
    if not isinstance(name, str) or not isinstance(value, str) or not name.strip():
        return False
    if len(name) + len(value) > MAX_WEBHOOK_HEADER_CHARS or any(c in name + value for c in "\r\n\0"):
        return False
    try:
        value.encode("latin-1")  # what http.client sends a header value as; "€" or "…" it cannot
    except UnicodeEncodeError:
        return False
    return all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name)


def parse(body, factor: int, *, asynchronous: bool = False) -> Options:
    """The options of an upscale body; InvalidRequest naming the first thing wrong."""
    if not isinstance(body, dict):
        raise InvalidRequest('The body must be a JSON object: {"records": [{"_url": "https://..."}]}.')
    record = _record(body)
    webhook, headers = _webhook(body) if asynchronous else ("", {})
    return Options(
        factor=factor,
        record={name: value for name, value in record.items() if name != "_base64"},
        image_url=record.get("_url") or "",
        image_base64=record.get("_base64") or "",
        mode=_choice(body, "mode", MODES, "artifact_removal"),
        model_type=_choice(body, "model_type", MODEL_TYPES, None, ", or absent or null for the classic model"),
        image_format=_choice(body, "image_format", IMAGE_FORMATS, None, ", or absent to keep the input's kind"),
        image_quality=_quality(body),
        tune_colors=_tune_colors(body),
        webhook=webhook,
        webhook_headers=headers,
    )


def parse_request(body) -> Options:
    """An asynchronous request (`POST /account/v2/request`): `type`, `endpoint`, then the
    same body as the synchronous endpoint's, plus an optional `webhook`."""
    if not isinstance(body, dict):
        raise InvalidRequest('The body must be a JSON object: {"type": "upscaler", "endpoint": "upscale_2x", ...}.')
    if body.get("type") != REQUEST_TYPE:
        raise InvalidRequest(f"type must be {REQUEST_TYPE!r}, the only service here (got {body.get('type')!r}).")
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise InvalidRequest(f"endpoint must be one of {', '.join(ENDPOINTS)} (got {endpoint!r}).")
    return parse(body, ENDPOINTS[endpoint], asynchronous=True)
