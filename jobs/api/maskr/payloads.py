"""Maskr's answers: a job as Maskr's `result`, a single upload's answer around it, and a
batch's answer over its files in upload order."""

from __future__ import annotations

from jobs.models import Batch, Job
from jobs.storage import absolute_url

STATUS: dict[str, str] = {
    Job.Status.IN_QUEUE: "pending",
    Job.Status.IN_PROGRESS: "processing",
    Job.Status.SUCCESS: "completed",
    Job.Status.FAILED: "failed",
    Job.Status.CANCELED: "failed",
}


def credits_used(job: Job) -> int:
    """What the job costs the account: its charge, or nothing once it was refunded."""
    return 0 if job.status in (Job.Status.FAILED, Job.Status.CANCELED) else job.credit_cost


def result(job: Job, base_url: str) -> dict:
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
    answer = result(job, base_url)
    return {"job_id": answer["job_id"], "status": answer["status"], "result": answer, "error": answer["error"]}


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
        result(jobs[item["job_id"]], base_url) if "job_id" in item else rejected_result(item["rejected"])
        for item in items
    ]
    state = batch_status(results)
    completed = sum(r["status"] == "completed" for r in results)
    failed = sum(r["status"] == "failed" for r in results)
    return {
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
