"""Runs the embedded default: the web app (gunicorn) and a Celery worker (with beat) as
separate processes, until interrupted. `make run` calls this."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web app and a worker on this machine (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "1")))

    def handle(self, host, port, web_workers, worker_concurrency, **options):
        bindir = os.path.dirname(sys.executable)
        web = [
            os.path.join(bindir, "gunicorn"), "upscaler_platform.wsgi", "--bind", f"{host}:{port}",
            "--workers", str(web_workers), "--threads", "4", "--access-logfile", "-",
        ]
        worker = [
            os.path.join(bindir, "celery"), "-A", "upscaler_platform", "worker", "--beat",
            "--queues", "inference,webhooks,maintenance", "--concurrency", str(worker_concurrency),
            "--loglevel", "INFO", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"),
        ]
        procs = [subprocess.Popen(web), subprocess.Popen(worker)]
        self.stdout.write(f"Web on http://{host}:{port}/ (API at /api/v1/, docs at /api/v1/docs), worker started.")

        def stop(*_):
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.5)
        finally:
            stop()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        return None
