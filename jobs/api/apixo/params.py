"""The body of APIXO's generateTask/image-upscaler, checked in the order and with the words
of APIXO's validation table (the `{{name}}` braces are APIXO's, written as they are).

Where the table is silent (request_type, callback_url, a body that is no object, an input
that is no object) the messages are ours, in the same pattern."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.errors import InvalidRequest
from jobs.models import OutputFormat, output_format
from jobs.submission import clean_webhook

MODEL_ID = "image-upscaler"
MODE = "image-to-image"
REQUEST_TYPES = ("async", "callback")
# Resolution tiers: the output's long side in pixels, the aspect ratio kept.
RESOLUTIONS = {"2k": 2048, "4k": 4096, "8k": 8192}
# output_format -> the job's format ("jpeg" is an alias of "jpg").
OUTPUT_FORMATS = {name: output_format(name) for name in ("jpg", "jpeg", "png", "webp")}
DEFAULT_RESOLUTION = "4k"
DEFAULT_OUTPUT_FORMAT = "jpg"

MISSING = "The required parameter {{{{{name}}}}} is missing."
INVALID_MODE = f"Invalid mode type. Supported: {MODE}"
IMAGE_URLS_NOT_ARRAY = "The parameter {{image_urls}} must be Array type."
IMAGE_URLS_NOT_ONE = "The parameter {{image_urls}} must contain exactly 1 image."
IMAGE_URLS_NOT_STRING = "The parameter {{image_urls}} Array elements must be String type."
IMAGE_URLS_EMPTY = "The parameter {{image_urls}} cannot contain empty string."
INVALID_RESOLUTION = "The parameter {{resolution}} must be either '2k', '4k' or '8k'."
INVALID_OUTPUT_FORMAT = "The parameter {{output_format}} must be either 'jpg', 'png' or 'webp'."
# Ours, in APIXO's pattern.
NOT_AN_OBJECT = "The request body must be a JSON object."
INPUT_NOT_OBJECT = "The parameter {{input}} must be Object type."
INVALID_REQUEST_TYPE = "The parameter {{request_type}} must be either 'async' or 'callback'."


def missing(name: str) -> str:
    return MISSING.format(name=name)


@dataclass(frozen=True)
class Task:
    """A valid request: what the job is made of."""

    image_url: str
    resolution: str = DEFAULT_RESOLUTION  # lowercase
    output_format: str = OutputFormat.JPG  # the job's: jpg, png or webp
    callback_url: str = ""  # set in callback mode only

    @property
    def long_side(self) -> int:
        return RESOLUTIONS[self.resolution]


def _given(container: dict, name: str) -> bool:
    """Present and not null: a null optional field means its default."""
    return container.get(name) is not None


def _choice(container: dict, name: str, allowed, default: str, message: str) -> str:
    if not _given(container, name):
        return default
    value = container[name]
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise InvalidRequest(message, field=name)
    return value.strip().lower()


def _callback_url(body: dict) -> str:
    request_type = _choice(body, "request_type", REQUEST_TYPES, "async", INVALID_REQUEST_TYPE)
    if request_type != "callback":
        return ""  # a callback_url in async mode is not used
    if not _given(body, "callback_url") or body["callback_url"] == "":
        raise InvalidRequest(missing("callback_url"), field="callback_url")
    # http(s), a host, no credentials, and a public address (the SSRF guard), else a 400 now.
    try:
        return clean_webhook(body["callback_url"], field="callback_url")
    except InvalidRequest as exc:  # "callback_url must be ...": in APIXO's pattern
        raise InvalidRequest(
            "The parameter {{callback_url}}" + exc.message.removeprefix("callback_url"), field="callback_url"
        ) from None


def _image_url(fields: dict) -> str:
    if not _given(fields, "image_urls"):
        raise InvalidRequest(missing("image_urls"), field="image_urls")
    urls = fields["image_urls"]
    if not isinstance(urls, list):
        raise InvalidRequest(IMAGE_URLS_NOT_ARRAY, field="image_urls")
    if len(urls) != 1:
        raise InvalidRequest(IMAGE_URLS_NOT_ONE, field="image_urls")
    if not isinstance(urls[0], str):
        raise InvalidRequest(IMAGE_URLS_NOT_STRING, field="image_urls")
    if not urls[0].strip():
        raise InvalidRequest(IMAGE_URLS_EMPTY, field="image_urls")
    return urls[0].strip()


def parse(body) -> Task:
    """The task a request body asks for; InvalidRequest with APIXO's message for the first
    problem found: request_type and callback_url, then input in the table's order."""
    if not isinstance(body, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    callback_url = _callback_url(body)
    if not _given(body, "input"):
        raise InvalidRequest(missing("input"), field="input")
    fields = body["input"]
    if not isinstance(fields, dict):
        raise InvalidRequest(INPUT_NOT_OBJECT, field="input")
    if _given(fields, "mode") and fields["mode"] != MODE:
        raise InvalidRequest(INVALID_MODE, field="mode")
    image_url = _image_url(fields)
    resolution = _choice(fields, "resolution", RESOLUTIONS, DEFAULT_RESOLUTION, INVALID_RESOLUTION)
    output_format = _choice(fields, "output_format", OUTPUT_FORMATS, DEFAULT_OUTPUT_FORMAT, INVALID_OUTPUT_FORMAT)
    return Task(
        image_url=image_url,
        resolution=resolution,
        output_format=OUTPUT_FORMATS[output_format],
        callback_url=callback_url,
    )
