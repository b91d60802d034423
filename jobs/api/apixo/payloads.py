"""APIXO's answers: every body is the envelope {code, message, data}; a task's status is
`data` with Unix-millisecond times, `resultJson` as a JSON string and APIXO's failCodes.
The callback (webhook) body is the status answer itself."""

from __future__ import annotations

import json

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


def task(job: Job, base_url: str) -> dict:
    """A task's `data`, in the order APIXO's document writes it. completeTime once it ended;
    costTime (the worker's processing time) on success."""
    data: dict = {"taskId": str(job.id), "state": STATE[job.status]}
    if job.status == Job.Status.SUCCESS:
        urls = [absolute_url(job.image_url, base_url)]
        data["resultJson"] = json.dumps({"resultUrls": urls}, separators=(",", ":"))
    elif job.is_finished:
        data["failCode"] = fail_code(job)
        data["failMsg"] = apixo_words(job.error) if job.error else f"{UNKNOWN_ERROR}."
    data["createTime"] = unix_ms(job.created_at)
    if job.is_finished and job.finished_at is not None:
        data["completeTime"] = unix_ms(job.finished_at)
    seconds = job.processing_seconds
    if job.status == Job.Status.SUCCESS and seconds is not None:
        data["costTime"] = round(seconds * 1000)
    return data


def status(job: Job, base_url: str) -> dict:
    """The statusTask answer, and the body POSTed to a callback_url."""
    return envelope(task(job, base_url))


def webhook_body(job: Job) -> dict:
    return status(job, job.public_base_url())
