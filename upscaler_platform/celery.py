"""The Celery app. Its configuration is the `CELERY_*` settings (queues, routes, acks,
prefetch, the beat schedule): upscaler_platform/settings.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "upscaler_platform.settings")

app = Celery("upscaler_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
