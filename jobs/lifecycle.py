"""Job state changes. Each is a conditional UPDATE, so two processes racing on one job
cannot both win: the one whose UPDATE matched a row owns the transition."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import ledger
from jobs import completion
from jobs.errors import JobStateConflict
from jobs.models import REFUND_NOTE, Job

log = logging.getLogger(__name__)


class _Tasks:
    """The Celery tasks a state change queues after its commit: bound once by the composition
    root (jobs/apps.py calls use_tasks with jobs.tasks'), so this module never imports the
    task module, which imports it."""

    run_job: Any = None
    deliver_webhook: Any = None


_tasks = _Tasks()


def use_tasks(*, run_job: Any, deliver_webhook: Any) -> None:
    _tasks.run_job = run_job
    _tasks.deliver_webhook = deliver_webhook


def _task(name: str) -> Any:
    task = getattr(_tasks, name)
    if task is None:
        raise RuntimeError(f"jobs.lifecycle has no {name} task bound: the jobs app is not ready")
    return task


def enqueue(job: Job) -> None:
    """Queue the job's task once the transaction that created it commits."""

    def send():
        try:
            _task("run_job").apply_async(args=[str(job.id)])
        except Exception:
            # The job is safe in the database; the maintenance sweep sends it later.
            log.exception("Could not queue job %s now; the sweep will re-queue it", job.id)

    transaction.on_commit(send)


def claim_next(worker: str = "") -> Job | None:
    """Claim the queued job the scheduler says runs next (jobs/scheduler.py), whichever
    message brought the worker here. Of two workers claiming at once each gets its own job
    (the row is locked, SKIP LOCKED on PostgreSQL; SQLite runs the two one after the other),
    and the claim itself is claim()'s conditional update. None when nothing is queued."""
    from jobs import scheduler

    with transaction.atomic():
        job_id = (
            scheduler.queued_in_order()
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
            .first()
        )
        if job_id is None:
            return None
        return claim(job_id, worker)


def claim(job_id, worker: str = "") -> Job | None:
    """IN_QUEUE -> IN_PROGRESS for this worker. None if someone else has it or it is done."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.IN_QUEUE).update(
        status=Job.Status.IN_PROGRESS,
        started_at=now,
        progress=0,
        stage="",
        attempts=F("attempts") + 1,
        worker=worker[:200],
    )
    return Job.objects.get(pk=job_id) if claimed else None


def set_progress(job_id, percent: int) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.IN_PROGRESS, progress__lt=percent).update(
        progress=min(max(int(percent), 0), 99)
    )


# Where each stage of a running job starts, in percent; the engine's own progress moves it
# from RUNNING's to ENCODING's (engine_progress).
STAGE_PROGRESS = {Job.Stage.FETCHED: 5, Job.Stage.RUNNING: 10, Job.Stage.ENCODING: 90, Job.Stage.UPLOADING: 95}


def set_stage(job_id, stage: str) -> None:
    """The running job reached `stage`: its progress moves to the stage's start at least."""
    percent = STAGE_PROGRESS[Job.Stage(stage)]
    Job.objects.filter(pk=job_id, status=Job.Status.IN_PROGRESS).update(stage=stage)
    set_progress(job_id, percent)


def engine_progress(fraction: float) -> int:
    """The job's percent for the engine's progress (0.0-1.0) while it runs."""
    low, high = STAGE_PROGRESS[Job.Stage.RUNNING], STAGE_PROGRESS[Job.Stage.ENCODING]
    return low + int(min(max(fraction, 0.0), 1.0) * (high - low))


def succeed(job: Job, *, image_name: str, compressed_name: str, engine: str, faces: dict | None = None) -> bool:
    from jobs import storage

    now = timezone.now()
    expires_at = job.output_expiry(now)
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status=Job.Status.IN_PROGRESS).update(
            status=Job.Status.SUCCESS,
            progress=100,
            finished_at=now,
            engine=engine[:100],
            faces=faces,
            image_name=image_name,
            compressed_image_name=compressed_name,
            image_url=storage.expiring_url(image_name, expires_at),
            compressed_image_url=storage.expiring_url(compressed_name, expires_at),
            expires_at=expires_at,
        )
        if done:
            _ended(job)
    return bool(done)


def fail(job: Job, reason: str, *, from_statuses=Job.UNFINISHED, failure: str = Job.Failure.OTHER) -> bool:
    """Mark the job FAILED (`failure`: why, as a code) and refund it, exactly once."""
    now = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status__in=from_statuses).update(
            status=Job.Status.FAILED,
            finished_at=now,
            failure=failure,
            error=f"{reason.rstrip('.')}. {REFUND_NOTE}",
            expires_at=job.output_expiry(now),  # when the input is deleted
        )
        if done:
            ledger.refund_job(job, reason=reason)
            _ended(job)
    return bool(done)


def cancel(job: Job) -> bool:
    """A queued job is canceled and refunded; a running or finished one is not."""
    now = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status=Job.Status.IN_QUEUE).update(
            status=Job.Status.CANCELED,
            finished_at=now,
            error=f"The job was canceled. {REFUND_NOTE}",
            expires_at=job.output_expiry(now),  # when the input is deleted
        )
        if done:
            ledger.refund_job(job, reason="canceled")
            # A canceled job has ended too: its waiters wake, and its webhook or callback
            # says so (each surface's final shape: APIXO's failed, Ximilar's DONE).
            _ended(job)
    return bool(done)


def _ended(job: Job) -> None:
    """After the commit that ended the job: wake its waiters, send its webhook."""
    transaction.on_commit(lambda: completion.announce(job.id))
    if job.webhook_url:
        transaction.on_commit(lambda: _send_webhook_task(job))


def redeliver(job: Job) -> None:
    """Queue the job's final payload to its webhook once more (recorded like any attempt).
    JobStateConflict when it cannot be (Job.redeliver_refusal); the broker's error, if it
    is down, propagates: nothing was queued."""
    refusal = job.redeliver_refusal
    if refusal:
        raise JobStateConflict(refusal)
    _task("deliver_webhook").apply_async(args=[str(job.id)], kwargs={"manual": True})


def _send_webhook_task(job: Job) -> None:
    try:
        _task("deliver_webhook").apply_async(args=[str(job.id)])
    except Exception:
        log.exception("Could not queue the webhook for job %s", job.id)
