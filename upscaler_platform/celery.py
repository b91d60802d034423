"""The Celery app. Queues: `inference` (GPU workers), `webhooks` (I/O), `maintenance` (beat)."""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "upscaler_platform.settings")

app = Celery("upscaler_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")

INFERENCE_QUEUE = "inference"
WEBHOOKS_QUEUE = "webhooks"
MAINTENANCE_QUEUE = "maintenance"

app.conf.task_queues = [Queue(INFERENCE_QUEUE), Queue(WEBHOOKS_QUEUE), Queue(MAINTENANCE_QUEUE)]
app.conf.task_default_queue = MAINTENANCE_QUEUE
app.conf.task_routes = {
    "jobs.tasks.run_job": {"queue": INFERENCE_QUEUE},
    "jobs.tasks.deliver_webhook": {"queue": WEBHOOKS_QUEUE},
    "jobs.tasks.*": {"queue": MAINTENANCE_QUEUE},
}
# Long GPU tasks: one message at a time per process, acknowledged only when done, and put
# back on the queue if the worker process dies mid-job.
app.conf.worker_prefetch_multiplier = 1
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.beat_schedule = {
    "sweep-jobs": {"task": "jobs.tasks.sweep_jobs", "schedule": settings.SWEEP_INTERVAL_SECONDS},
    "purge-expired-outputs": {"task": "jobs.tasks.purge_expired_outputs", "schedule": 300.0},
}
app.autodiscover_tasks()
