"""APIXO's answers: every body is the envelope {code, message, data}; a task's status is
`data` with Unix-millisecond times, `resultJson` as a JSON string and APIXO's failCodes.
The callback (webhook) body is the status answer itself.

A task is defined once, by ApixoTaskSerializer: it renders the answer and documents it in
the OpenAPI schema (schema.py wraps it in the envelope)."""

from __future__ import annotations

import json

from rest_framework import serializers

from jobs.api.serializers import AnswerSerializer, StateField, computed
from jobs.models import Job
from jobs.storage import absolute_url
from jobs.timestamps import unix_ms

STATE: dict[str, str] = {
    Job.Status.IN_QUEUE: "pending",
    Job.Status.IN_PROGRESS: "processing",
    Job.Status.SUCCESS: "success",
    Job.Status.FAILED: "failed",
    Job.Status.CANCELED: "failed",
}
FAIL_CODE: dict[str, str] = {
    Job.Failure.IMAGE: "ImageFormatIncorrect",
    Job.Failure.TIMEOUT: "Timeout",
}
UNKNOWN_ERROR = "Unknown error"
FAIL_CODES = list(dict.fromkeys([*FAIL_CODE.values(), UNKNOWN_ERROR]))


# The submit path's messages name the Upsampler API's fields; APIXO's name its own, in its
# `{{param}}` pattern, and offer nothing APIXO does not take (an image in the request).
_OUR_WORDS = [
    (" (or send the image itself, in imageBase64 or a multipart file)", ""),
    ("imageUrl ", "The parameter {{image_urls}} "),
    ("input.imageUrl", "{{image_urls}}"),
    ("imageUrl", "{{image_urls}}"),
]


def apixo_words(text: str) -> str:
    """A domain message in APIXO's words: its field names, in its pattern."""
    for ours, theirs in _OUR_WORDS:
        text = text.replace(ours, theirs)
    return text


def envelope(data, code: int = 200, message: str = "success") -> dict:
    return {"code": code, "message": message, "data": data}


def fail_code(job: Job) -> str:
    """APIXO's failCode for a failed (or canceled) job."""
    if job.status == Job.Status.CANCELED:
        return UNKNOWN_ERROR
    return FAIL_CODE.get(job.failure, UNKNOWN_ERROR)


def _failed(job: Job) -> bool:
    return job.is_finished and job.status != Job.Status.SUCCESS


def _result_json(job: Job, context: dict) -> str | None:
    if job.status != Job.Status.SUCCESS:
        return None
    urls = [absolute_url(job.image_url, context["base_url"])]
    return json.dumps({"resultUrls": urls}, separators=(",", ":"))


def _cost_time(job: Job, context: dict) -> int | None:
    seconds = job.processing_seconds
    return round(seconds * 1000) if job.status == Job.Status.SUCCESS and seconds is not None else None


class ApixoTaskSerializer(AnswerSerializer):
    """A task's `data`, in the order APIXO's document writes it. completeTime once it ended;
    costTime (the worker's processing time) on success."""

    taskId = serializers.CharField(source="pk")
    state = StateField(STATE)
    resultJson = computed(
        serializers.CharField(
            required=False,
            help_text='A JSON string, {"resultUrls": [<signed URL that expires after 3 hours>]} (success)',
        ),
        _result_json,
    )
    failCode = computed(
        serializers.ChoiceField(choices=FAIL_CODES, required=False, help_text="failed"),
        lambda job, context: fail_code(job) if _failed(job) else None,
    )
    failMsg = computed(
        serializers.CharField(required=False, help_text="failed"),
        lambda job, context: (apixo_words(job.error) if job.error else f"{UNKNOWN_ERROR}.") if _failed(job) else None,
    )
    createTime = computed(
        serializers.IntegerField(help_text="Unix milliseconds"), lambda job, context: unix_ms(job.created_at)
    )
    completeTime = computed(
        serializers.IntegerField(required=False, help_text="Unix milliseconds, once it ended"),
        lambda job, context: unix_ms(job.finished_at) if job.is_finished else None,
    )
    costTime = computed(
        serializers.IntegerField(required=False, help_text="Processing milliseconds (success)"), _cost_time
    )


def task(job: Job, base_url: str) -> dict:
    return ApixoTaskSerializer(job, context={"base_url": base_url}).data


def status(job: Job, base_url: str) -> dict:
    """The statusTask answer, and the body POSTed to a callback_url."""
    return envelope(task(job, base_url))


def webhook_body(job: Job) -> dict:
    return status(job, job.public_base_url())
