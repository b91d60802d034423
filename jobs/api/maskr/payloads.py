"""Maskr's answers: a job as Maskr's `result`, a single upload's answer around it, and a
batch's answer over its files in upload order. Each is defined once, by its serializer: the
values are computed here and rendered through it, and it documents the answer in the
OpenAPI schema (a field missing, renamed or of another type fails here, not in a client)."""

from __future__ import annotations

from rest_framework import serializers

from jobs.models import Batch, Job
from jobs.storage import absolute_url

STATUS: dict[str, str] = {
    Job.Status.IN_QUEUE: "pending",
    Job.Status.IN_PROGRESS: "processing",
    Job.Status.SUCCESS: "completed",
    Job.Status.FAILED: "failed",
    Job.Status.CANCELED: "failed",
}


STATUSES = list(dict.fromkeys(STATUS.values()))


class MaskrResultSerializer(serializers.Serializer):
    job_id = serializers.CharField(allow_null=True, help_text="null for a batch file refused before it became a job")
    status = serializers.ChoiceField(choices=STATUSES)
    input_filename = serializers.CharField(allow_null=True)
    output_url = serializers.CharField(allow_null=True, help_text="Signed URL that expires (completed)")
    processing_time_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    original_width = serializers.IntegerField(allow_null=True)
    original_height = serializers.IntegerField(allow_null=True)
    output_width = serializers.IntegerField(allow_null=True)
    output_height = serializers.IntegerField(allow_null=True)
    credits_used = serializers.IntegerField(allow_null=True, help_text="0 once a failed job was refunded")


class MaskrUploadAnswerSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    result = MaskrResultSerializer()
    error = serializers.CharField(allow_null=True)


class MaskrBatchAnswerSerializer(serializers.Serializer):
    batch_id = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    total_files = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = MaskrResultSerializer(many=True)
    total_processing_time_ms = serializers.FloatField()
    total_credits_used = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)


def credits_used(job: Job) -> int:
    """What the job costs the account: its charge, or nothing once it was refunded."""
    return 0 if job.status in (Job.Status.FAILED, Job.Status.CANCELED) else job.credit_cost


def result(job: Job, base_url: str) -> dict:
    return MaskrResultSerializer(_result(job, base_url)).data


def _result(job: Job, base_url: str) -> dict:
    seconds = job.processing_seconds
    done = job.status == Job.Status.SUCCESS
    return {
        "job_id": str(job.id),
        "status": STATUS[job.status],
        "input_filename": job.params.get("inputFilename"),
        "output_url": absolute_url(job.image_url, base_url) if done and job.image_url else None,
        "processing_time_ms": round(seconds * 1000, 1) if seconds is not None else None,
        "error": (job.error or None) if not done else None,
        "original_width": job.input_width,
        "original_height": job.input_height,
        "output_width": job.output_width,
        "output_height": job.output_height,
        "credits_used": credits_used(job),
    }


def rejected_result(item: dict) -> dict:
    """A batch file refused before it became a job (stored in Batch.items): failed, free."""
    return MaskrResultSerializer(_rejected_result(item)).data


def _rejected_result(item: dict) -> dict:
    return {
        "job_id": None,
        "status": "failed",
        "input_filename": item.get("filename"),
        "output_url": None,
        "processing_time_ms": None,
        "error": item["error"],
        "original_width": item.get("original_width"),
        "original_height": item.get("original_height"),
        "output_width": item.get("output_width"),
        "output_height": item.get("output_height"),
        "credits_used": 0,
    }


def single(job: Job, base_url: str) -> dict:
    answer = _result(job, base_url)
    body = {"job_id": answer["job_id"], "status": answer["status"], "result": answer, "error": answer["error"]}
    return MaskrUploadAnswerSerializer(body).data


def batch_status(results: list[dict]) -> str:
    """pending until a file starts, processing while any is unfinished, then completed if
    any file was upscaled (check `failed` for the others), else failed."""
    statuses = {r["status"] for r in results}
    if statuses == {"pending"}:
        return "pending"
    if statuses & {"pending", "processing"}:
        return "processing"
    return "completed" if "completed" in statuses else "failed"


def batch(batch: Batch, base_url: str) -> dict:
    jobs = {str(job.pk): job for job in batch.jobs.all()}
    # Items are written once every file was submitted; until then (or if that request died
    # part way) the batch's jobs stand for its files, in the order they were created.
    items = batch.items or [{"job_id": pk} for pk, _ in sorted(jobs.items(), key=lambda kv: kv[1].created_at)]
    results = [
        _result(jobs[item["job_id"]], base_url) if "job_id" in item else _rejected_result(item["rejected"])
        for item in items
    ]
    state = batch_status(results)
    completed = sum(r["status"] == "completed" for r in results)
    failed = sum(r["status"] == "failed" for r in results)
    body = {
        "batch_id": str(batch.pk),
        "status": state,
        "total_files": batch.total_files,
        "completed": completed,
        "failed": failed,
        "results": results,
        "total_processing_time_ms": round(sum((r["processing_time_ms"] or 0.0 for r in results), 0.0), 1),
        "total_credits_used": sum(r["credits_used"] for r in results),
        "error": "Every file failed; each result says why." if state == "failed" else None,
    }
    return MaskrBatchAnswerSerializer(body).data
