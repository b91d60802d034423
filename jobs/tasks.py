"""Celery tasks. Each takes a job id, loads the row, and returns if there is nothing to do,
so a task delivered twice does no harm."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs import lifecycle, storage, webhooks
from jobs.models import Job

log = logging.getLogger(__name__)
WORKER_NAME = socket.gethostname()


@shared_task(
    soft_time_limit=settings.JOB_TIME_LIMIT_SECONDS,
    time_limit=settings.JOB_TIME_LIMIT_SECONDS + 60,
)
def run_job(job_id: str) -> None:
    from jobs.processing import client_message, process

    job = lifecycle.claim(job_id, worker=WORKER_NAME)
    if job is None:
        return  # canceled, finished, or another worker has it
    try:
        process(job)
    except SoftTimeLimitExceeded:
        lifecycle.fail(job, f"The job took longer than {settings.JOB_TIME_LIMIT_SECONDS} seconds")
    except Exception as exc:
        log.exception("job %s failed", job_id)
        lifecycle.fail(job, client_message(exc))


@shared_task
def deliver_webhook(job_id: str, manual: bool = False) -> None:
    """One delivery attempt; schedules the next one with backoff while retries remain."""
    job = Job.objects.select_related("account").filter(pk=job_id).first()
    if job is None or not job.webhook_url or not job.is_finished:
        return
    deliveries = job.webhook_deliveries
    if not manual and deliveries.filter(succeeded=True).exists():
        return
    attempt = deliveries.count() + 1
    if not manual and attempt > 1 + settings.WEBHOOK_MAX_RETRIES:
        return
    record, retry_after = webhooks.deliver(job, attempt)
    if manual or not webhooks.should_retry(record) or attempt > settings.WEBHOOK_MAX_RETRIES:
        return
    deliver_webhook.apply_async(args=[job_id], countdown=webhooks.backoff_seconds(attempt, retry_after))


@shared_task
def sweep_jobs() -> dict:
    """Re-send jobs stuck IN_QUEUE (their message was lost, or the broker was down), and
    recover jobs whose worker died IN_PROGRESS: retried up to JOB_MAX_ATTEMPTS, then failed
    and refunded."""
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    requeued = 0
    for job_id in Job.objects.filter(status=Job.Status.IN_QUEUE, created_at__lt=queued_before).values_list(
        "pk", flat=True
    )[:500]:
        run_job.apply_async(args=[str(job_id)])
        requeued += 1

    dead_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    stale = Job.objects.filter(status=Job.Status.IN_PROGRESS).filter(
        Q(heartbeat_at__lt=dead_before) | Q(heartbeat_at__isnull=True, started_at__lt=dead_before)
    )
    retried = failed = 0
    for job in stale[:500]:
        if job.attempts < settings.JOB_MAX_ATTEMPTS:
            back = Job.objects.filter(pk=job.pk, status=Job.Status.IN_PROGRESS, attempts=job.attempts).update(
                status=Job.Status.IN_QUEUE, progress=0, heartbeat_at=None
            )
            if back:
                run_job.apply_async(args=[str(job.pk)])
                retried += 1
        elif lifecycle.fail(
            job, f"The worker stopped responding {job.attempts} times", from_statuses=[Job.Status.IN_PROGRESS]
        ):
            failed += 1
    return {"requeued": requeued, "retried": retried, "failed": failed}


@shared_task
def purge_expired_outputs() -> int:
    """Delete output (and input) files whose 3 hours are up."""
    now = timezone.now()
    purged = 0
    expired = Job.objects.filter(expires_at__lt=now, files_deleted_at__isnull=True)
    for job in expired.only("pk", "input_name", "image_name", "compressed_image_name")[:1000]:
        storage.delete(job.image_name, job.compressed_image_name, job.input_name)
        purged += Job.objects.filter(pk=job.pk, files_deleted_at__isnull=True).update(files_deleted_at=now)
    # Inputs of jobs that ended without outputs (failed, canceled) go after the same TTL.
    ended_before = now - timedelta(seconds=settings.OUTPUT_TTL_SECONDS)
    leftovers = Job.objects.filter(
        status__in=[Job.Status.FAILED, Job.Status.CANCELED], finished_at__lt=ended_before, files_deleted_at__isnull=True
    )
    for job in leftovers.only("pk", "input_name")[:1000]:
        storage.delete(job.input_name)
        purged += Job.objects.filter(pk=job.pk).update(files_deleted_at=now)
    return purged
