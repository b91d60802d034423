"""Celery tasks. Each takes a job id, loads the row, and returns if there is nothing to do,
so a task delivered twice does no harm."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs import lifecycle, locks, storage, webhooks
from jobs.models import Job, WebhookDelivery

log = logging.getLogger(__name__)


_worker_names: dict[int, str] = {}


def worker_name() -> str:
    """This inference process, as a job's `worker` names it: host, pid and a token of its
    own (containers on one host network share the host name, and pid namespaces repeat
    pids). Each process is a slot; the scheduler counts them (jobs/scheduler.py)."""
    pid = os.getpid()
    if pid not in _worker_names:
        _worker_names[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}"
    return _worker_names[pid]


@shared_task(
    soft_time_limit=settings.JOB_TIME_LIMIT_SECONDS,
    time_limit=settings.JOB_TIME_LIMIT_SECONDS + 60,
)
def run_job(job_id: str | None = None) -> None:
    """Run the next queued job. `job_id` is the job whose queueing sent this message; the
    job run is the one the scheduler says is next (jobs/scheduler.py): one message per
    queued job, so every queued job gets a run, in the scheduler's order."""
    from jobs.processing import client_message, failure_of, process

    job = lifecycle.claim_next(worker=worker_name())
    if job is None:
        return  # nothing queued: canceled, or another worker took the last one
    try:
        process(job)
    except Exception as exc:
        if _caused_by(exc, SoftTimeLimitExceeded):
            lifecycle.fail(
                job, f"The job took longer than {settings.JOB_TIME_LIMIT_SECONDS} seconds", failure=Job.Failure.TIMEOUT
            )
            return
        log.exception("job %s failed", job_id)
        lifecycle.fail(job, client_message(exc), failure=failure_of(exc))


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """`exc` is a `kind`, or was raised while handling one: the time limit can strike inside
    a broad handler on the way (the model loader turns any failure into ModelFileError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# An attempt ends at its deadline (WEBHOOK_TIMEOUT_SECONDS, jobs/webhooks.py); the time
# limit past it is the backstop for whatever else could hold a delivery task (the database,
# a stuck name lookup thread), so no receiver holds a worker longer. Enforced by prefork
# pools; the threads pools that deliver webhooks (compose's and the embedded default's io
# workers) cannot interrupt a thread, and rely on the deadline alone.
WEBHOOK_TASK_LIMITS = {
    "soft_time_limit": settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS,
    "time_limit": settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS + 15,
}
TIME_LIMIT_ERROR = "the delivery task ran out of time ({seconds:g} s) before the receiver answered"


# No Celery limit on retries: the retry policy (jobs/webhooks.py) counts attempts in the
# database, where retries scheduled by the dispatcher are counted too.
@shared_task(bind=True, max_retries=None, **WEBHOOK_TASK_LIMITS)
def deliver_webhook(self, job_id: str, manual: bool = False, retry_of: int | None = None) -> None:
    """One delivery attempt: the first (no arguments), the retry of attempt row `retry_of`,
    or a manual redelivery (never retried). The attempt is claimed in the database before it
    is sent, so a message delivered twice sends it once. A failure schedules the next
    attempt: a Celery retry with a countdown, or the dispatcher for longer waits."""
    job = Job.objects.select_related("account").filter(pk=job_id).first()
    if job is None or not job.webhook_url or not job.is_finished:
        return
    record: WebhookDelivery | None
    if manual:
        record = webhooks.claim_next(job)
    elif retry_of is not None:
        record = webhooks.claim_retry(job, retry_of)
    else:
        record = webhooks.claim_attempt(job, 1)
    if record is None:
        return  # another worker has sent this attempt
    try:
        recorded, retry_after = webhooks.send(job, record)
    except SoftTimeLimitExceeded:
        recorded = webhooks.record_failure(
            record, TIME_LIMIT_ERROR.format(seconds=settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS)
        )
        retry_after = None
    if manual or not recorded:
        return
    countdown = webhooks.schedule_retry(record, retry_after)
    if countdown is not None:
        raise self.retry(countdown=countdown, kwargs={"retry_of": record.pk})


def queue_test_event(account, url: str) -> WebhookDelivery:
    """Record a test event and queue its task once that commits. If the broker cannot take
    it, the event is recorded as failed at once, saying so."""
    record = webhooks.new_test_event(account, url)

    def queue():
        try:
            send_test_webhook.apply_async(args=[record.pk])
        except Exception:
            log.exception("Could not queue the test event %s", record.pk)
            webhooks.record_failure(
                record, "the test event could not be queued (the broker is unreachable); send it again"
            )

    transaction.on_commit(queue)
    return record


@shared_task(**WEBHOOK_TASK_LIMITS)
def send_test_webhook(delivery_id: int) -> None:
    """Send a test event the web app recorded (jobs.webhooks.queue_test_event), once."""
    record = (
        WebhookDelivery.objects.select_related("account")
        .filter(pk=delivery_id, event=WebhookDelivery.Event.TEST, completed_at__isnull=True)
        .first()
    )
    if record is None:
        return
    try:
        webhooks.send_test_event(record)
    except SoftTimeLimitExceeded:
        webhooks.record_failure(record, TIME_LIMIT_ERROR.format(seconds=settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS))


# Periodic tasks (beat, CELERY_BEAT_SCHEDULE in settings) run under a short lock, so two
# runs at once (two beats, a manual run) do the work once; and every write they make is a
# conditional update, so a second run that gets in anyway changes nothing twice.
def _one_at_a_time(name: str, interval: float):
    """The lock lasts one interval at most: a run that died keeps out no more than the next."""
    return locks.held(name, max(interval, 5.0))


@shared_task
def dispatch_webhooks() -> dict:
    """Send the webhook retries the database says are due: waits longer than a countdown
    may be, retries whose Celery message was lost, and attempts whose worker died while
    sending them."""
    with _one_at_a_time("dispatch-webhooks", settings.SWEEP_INTERVAL_SECONDS) as mine:
        if not mine:
            return {"skipped": True}
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
    with _one_at_a_time("sweep-jobs", settings.SWEEP_INTERVAL_SECONDS) as mine:
        if not mine:
            return {"skipped": True}
        return _sweep(timezone.now())


def _sweep(now) -> dict:
    # Waiting since it was submitted, or since the last sweep re-sent it: a job is re-sent
    # once per JOB_REQUEUE_AFTER_SECONDS, not at every sweep while the queue is long.
    sent_before = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    waiting = Job.objects.filter(status=Job.Status.IN_QUEUE).filter(
        Q(requeued_at__isnull=True, created_at__lt=sent_before) | Q(requeued_at__lt=sent_before)
    )
    requeued = 0
    for job_id in waiting.values_list("pk", flat=True)[:500]:
        if waiting.filter(pk=job_id).update(requeued_at=now):  # of two sweeps, one re-sends it
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
                status=Job.Status.IN_QUEUE, progress=0, heartbeat_at=None, requeued_at=now
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
    with _one_at_a_time("purge-expired-outputs", settings.PURGE_INTERVAL_SECONDS) as mine:
        if not mine:
            return 0
        now = timezone.now()
        purged = 0
        expired = Job.objects.filter(expires_at__lt=now, files_deleted_at__isnull=True)
        for job in expired.only("pk", "input_name", "image_name", "compressed_image_name")[:1000]:
            purged += _purge(job, now, job.image_name, job.compressed_image_name, job.input_name)
        # Inputs of jobs that ended without outputs (failed, canceled) go after the same TTL.
        ended_before = now - timedelta(seconds=settings.OUTPUT_TTL_SECONDS)
        leftovers = Job.objects.filter(
            status__in=[Job.Status.FAILED, Job.Status.CANCELED],
            finished_at__lt=ended_before,
            files_deleted_at__isnull=True,
        )
        for job in leftovers.only("pk", "input_name")[:1000]:
            purged += _purge(job, now, job.input_name)
        return purged


def _purge(job: Job, now, *names: str) -> int:
    """Claim the job's files, then delete them. In one transaction: a purge running at the
    same moment waits for the row and finds it done; a failed delete undoes the claim."""
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, files_deleted_at__isnull=True).update(files_deleted_at=now):
            return 0
        storage.delete(*names)
    return 1
