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


# No Celery limit on retries: the retry policy (jobs/webhooks.py) counts attempts in the
# database, where retries scheduled by the dispatcher are counted too.
@shared_task(bind=True, max_retries=None)
def deliver_webhook(self, job_id: str, manual: bool = False, retry_of: int | None = None) -> None:
    """One delivery attempt: the first (no arguments), the retry of attempt row `retry_of`,
    or a manual redelivery (never retried). The attempt is claimed in the database before it
    is sent, so a message delivered twice sends it once. A failure schedules the next
    attempt: a Celery retry with a countdown, or the dispatcher for longer waits."""
    job = Job.objects.select_related("account").filter(pk=job_id).first()
    if job is None or not job.webhook_url or not job.is_finished:
        return
    if manual:
        record = webhooks.claim_next(job)
    elif retry_of is not None:
        record = webhooks.claim_retry(job, retry_of)
    else:
        record = webhooks.claim_attempt(job, 1)
    if record is None:
        return  # another worker has sent this attempt
    recorded, retry_after = webhooks.send(job, record)
    if manual or not recorded:
        return
    countdown = webhooks.schedule_retry(record, retry_after)
    if countdown is not None:
        raise self.retry(countdown=countdown, kwargs={"retry_of": record.pk})


@shared_task
def dispatch_webhooks() -> dict:
    """Send the webhook retries the database says are due: waits longer than a countdown
    may be, retries whose Celery message was lost, and attempts whose worker died while
    sending them."""
    now = timezone.now()
    stalled = webhooks.recover_stalled(now)
    sent = 0
    for job_id, delivery_id in webhooks.due_retries(now):
        try:
            deliver_webhook.apply_async(args=[job_id], kwargs={"retry_of": delivery_id})
        except Exception:
            # Leased but not sent: it comes round again when the lease is up.
            log.exception("Could not queue the webhook retry for job %s; the next dispatch will", job_id)
            break
        sent += 1
    return {"sent": sent, "stalled": stalled}


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
