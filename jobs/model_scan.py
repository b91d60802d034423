"""Scanning the model directory on an inference worker and recording what is there
(jobs/model_catalog.py): when the worker starts, when the admin asks (the `scan_models`
task), and from `manage.py rescan_models`.

The scan itself (`inference.catalog.scan`) loads every file with spandrel, so it needs torch.
This module imports neither at the top: the web process imports it too (the admin queues the
task), and a worker's main process runs its start-up scan in a child Python process, so
torch stays out of the process that forks the pool (and its memory).
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from inference.modelinfo import ModelInfo
from jobs import model_catalog

log = logging.getLogger(__name__)

# A collection of large community models takes a while to hash and load, one by one.
SCAN_TIME_LIMIT_SECONDS = 15 * 60


class ScanFailed(RuntimeError):
    """The model directory could not be scanned; nothing was recorded."""


def _model_dir() -> Path:
    folder = Path(settings.UPSCALER_MODEL_DIR)
    if not folder.is_dir():
        # Recording an empty scan would mark every model unavailable because one worker
        # lacks the volume: refuse instead.
        raise ScanFailed(f"The model directory {folder} does not exist on {socket.gethostname()}")
    return folder


def scan_here() -> list[ModelInfo]:
    """Scan in this process (imports torch)."""
    from inference.catalog import scan

    return scan(_model_dir())


def scan_in_child() -> list[ModelInfo]:
    """Scan in a child Python process (`python -m inference.models list --json`)."""
    folder = _model_dir()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "inference.models", "list", "--json", "--model-dir", str(folder)],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=SCAN_TIME_LIMIT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ScanFailed(f"Scanning {folder} took longer than {SCAN_TIME_LIMIT_SECONDS} s") from None
    if done.returncode != 0:
        raise ScanFailed(f"Scanning {folder} failed: {done.stderr.strip()[-2000:]}")
    try:
        return [ModelInfo.from_dict(item) for item in json.loads(done.stdout)]
    except (ValueError, TypeError) as exc:
        raise ScanFailed(f"The scan of {folder} printed something else than its JSON: {exc}") from None


def scan_and_record(scanned_by: str, *, in_child: bool = False) -> dict[str, list[str]]:
    """Scan the model directory and record the result. Raises ScanFailed."""
    infos = scan_in_child() if in_child else scan_here()
    summary = model_catalog.record_scan(infos, scanned_by)
    log.info(
        "model scan by %s: %d usable (%s), %d unusable (%s), %d gone (%s)",
        scanned_by,
        len(summary["usable"]),
        ", ".join(summary["usable"]) or "-",
        len(summary["unusable"]),
        ", ".join(summary["unusable"]) or "-",
        len(summary["gone"]),
        ", ".join(summary["gone"]) or "-",
    )
    return summary


def _scan_in_background(hostname: str) -> None:
    from django.db import connection

    try:
        scan_and_record(hostname, in_child=True)
    except ScanFailed as exc:
        log.error("model scan by %s: %s; the recorded models are unchanged", hostname, exc)
    except Exception:
        log.exception("model scan by %s failed; the recorded models are unchanged", hostname)
    finally:
        connection.close()


@worker_ready.connect
def scan_when_a_worker_starts(sender=None, **kwargs) -> None:
    """An inference worker records the models it can run as it starts. In a thread, so the
    worker takes jobs meanwhile (those naming no model, or models recorded before)."""
    if not settings.MODEL_SCAN_ON_WORKER_START or sender is None:
        return
    if settings.INFERENCE_QUEUE not in sender.app.amqp.queues.consume_from:
        return  # webhooks and maintenance workers have no models (nor torch)
    threading.Thread(target=_scan_in_background, args=(sender.hostname,), name="model-scan", daemon=True).start()


@shared_task(bind=True, soft_time_limit=SCAN_TIME_LIMIT_SECONDS, time_limit=SCAN_TIME_LIMIT_SECONDS + 60)
def scan_models(self) -> dict[str, list[str]]:
    """Rescan the model directory on whichever inference worker takes this (the admin's
    "rescan now"); they share the model directory, so any one will do."""
    return scan_and_record(self.request.hostname or socket.gethostname())
