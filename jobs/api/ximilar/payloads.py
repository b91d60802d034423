"""Ximilar's answers, built from the job: the synchronous endpoint's body (also the
asynchronous request's `response`), and the asynchronous request's own shapes. Each is
defined once, by its serializer: the values are computed here and rendered through it, and
it documents the answer in the OpenAPI schema (a record's own fields, the client's, pass
through as sent)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from jobs.api.ximilar.params import OUTPUT_TTL_SECONDS, REQUEST_TYPE
from jobs.models import Job
from jobs.storage import absolute_url

# The job's status -> the asynchronous request's (a failed or canceled upscale is DONE too,
# with its error in `response`).
REQUEST_STATUS: dict[str, str] = {
    Job.Status.IN_QUEUE: "CREATED",
    Job.Status.IN_PROGRESS: "PROCESSING",
    Job.Status.SUCCESS: "DONE",
    Job.Status.FAILED: "DONE",
    Job.Status.CANCELED: "DONE",
}
# The words of Ximilar's document where it gives them (200, 402, 500); HTTP's elsewhere.
TEXTS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "aborted by error",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "unknown error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class XimilarStatusSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="the HTTP code of the answer")
    text = serializers.CharField()
    error_description = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    proc_id = serializers.CharField(required=False)


class XimilarAnswerRecordSerializer(serializers.Serializer):
    """A record of the answer: the client's own fields as sent (not documented: they are
    the client's), then the answer's, rendered through this serializer."""

    _status = XimilarStatusSerializer()
    _id = serializers.CharField(help_text="the job's id")
    _width = serializers.IntegerField()
    _height = serializers.IntegerField()
    _upscaled_width = serializers.IntegerField(required=False)
    _upscaled_height = serializers.IntegerField(required=False)
    _upscaled_image_url = serializers.CharField(
        required=False, help_text=f"works for {OUTPUT_TTL_SECONDS // 3600} hours"
    )

    def to_representation(self, instance: dict) -> dict:
        own = {name: value for name, value in instance.items() if name not in self.fields}
        return {**own, **super().to_representation(instance)}


class XimilarAnswerSerializer(serializers.Serializer):
    records = XimilarAnswerRecordSerializer(many=True)
    statistics = serializers.DictField(help_text='{"processing time": seconds}')
    status = XimilarStatusSerializer()


class XimilarRequestSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=list(dict.fromkeys(REQUEST_STATUS.values())))
    type = serializers.ChoiceField(choices=[REQUEST_TYPE])
    response = XimilarAnswerSerializer(required=False, help_text="once DONE: the synchronous endpoint's answer")


def ximilar(job: Job) -> dict:
    """What the Ximilar surface stored on the job at submit (see views.submission)."""
    return job.params.get("ximilar", {})


def processing_seconds(job: Job) -> float:
    """From the worker taking the job to its end (so far, while it runs; 0 while queued)."""
    if job.started_at is None:
        return 0.0
    return ((job.finished_at or timezone.now()) - job.started_at).total_seconds()


def status(code: int, description: str | None = None, request_id: str | None = None, **extra) -> dict:
    body: dict = {"code": code, "text": TEXTS.get(code, "unknown error")}
    if description is not None:
        body["error_description"] = description
    if request_id is not None:
        body["request_id"] = request_id
    body.update(extra)
    return body


def outcome(job: Job) -> tuple[int, str | None]:
    """The answer's code and error description for the job as it is now."""
    if job.status == Job.Status.SUCCESS:
        return 200, None
    if job.is_finished:
        return 500, job.error or "The upscale failed."
    return 504, (
        f"The upscale is still {'queued' if job.status == Job.Status.IN_QUEUE else 'running'} and goes on; "
        f"its result will be at GET /account/v2/request/{job.id} (or /api/v1/status/{job.id})."
    )


def answer(job: Job, base_url: str) -> tuple[int, dict]:
    """(HTTP code, body) of the synchronous endpoint for the job as it is now."""
    info = ximilar(job)
    code, description = outcome(job)
    request_id = info.get("request_id")
    record = {
        **info.get("record", {}),
        "_status": status(code, description, request_id),
        "_id": str(job.id),
        "_width": job.input_width,
        "_height": job.input_height,
    }
    if code == 200:
        record.update(
            _upscaled_width=job.output_width,
            _upscaled_height=job.output_height,
            _upscaled_image_url=absolute_url(job.image_url, base_url),
        )
    body = {
        "records": [record],
        "statistics": {"processing time": processing_seconds(job)},
        "status": status(code, description, request_id, proc_id=info.get("proc_id")),
    }
    return code, XimilarAnswerSerializer(body).data


def request(job: Job, base_url: str, *, with_response: bool = True) -> dict:
    """An asynchronous request: id, status, type, and once DONE the synchronous answer."""
    body: dict[str, Any] = {"id": str(job.id), "status": REQUEST_STATUS[job.status], "type": REQUEST_TYPE}
    if with_response and job.is_finished:
        body["response"] = answer(job, base_url)[1]
    return XimilarRequestSerializer(body).data


def user(account, email: str) -> dict:
    """GET /account/v2/user/ (what the client's get_user_details() reads) and Ximilar's
    documented /account/v2/details/: the fields Ximilar documents that an account here has,
    its credits as stats.credits_counter."""
    return {
        "id": str(account.pk),
        "email": email,
        "first_name": "",
        "last_name": "",
        "stats": {"credits_counter": account.balance},
    }


def webhook_body(job: Job) -> dict:
    """POSTed to the request's webhook.endpoint when it is DONE."""
    return request(job, job.public_base_url())
