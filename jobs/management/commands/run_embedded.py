"""Runs the embedded default: the web app (gunicorn) and a Celery worker (with beat) as
separate processes, until interrupted. `make run` calls this."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

GUNICORN_CONFIG = "python:upscaler_platform.gunicorn_conf"


def web_command(host: str, port: int, workers: int) -> list[str]:
    """gunicorn as every deployment runs it: its settings in upscaler_platform/gunicorn_conf.py."""
    return [
        os.path.join(os.path.dirname(sys.executable), "gunicorn"),
        f"--config={GUNICORN_CONFIG}",
        "upscaler_platform.wsgi",
        f"--bind={host}:{port}",
        f"--workers={workers}",
    ]


class Command(BaseCommand):
    help = "Start the web app and a worker on this machine (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "1")))

    def handle(self, host, port, web_workers, worker_concurrency, **options):
        bindir = os.path.dirname(sys.executable)
        web = web_command(host, port, web_workers)
        worker = [
            os.path.join(bindir, "celery"),
            "-A",
            "upscaler_platform",
            "worker",
            "--beat",
            "--queues",
            "inference,webhooks,maintenance",
            "--concurrency",
            str(worker_concurrency),
            "--loglevel",
            "INFO",
            "--schedule",
            str(settings.DATA_DIR / "celerybeat-schedule"),
        ]
        # Several gunicorn workers share their request metrics through this folder.
        metrics_dir = settings.DATA_DIR / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        commands = {"web": web, "worker": worker}
        procs = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(f"Web on http://{host}:{port}/ (API at /api/v1/, docs at /api/v1/docs), worker started.")
        stopping = False
        restarts: list[float] = []

        def stop(*_):
            nonlocal stopping
            stopping = True
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping:
                time.sleep(0.5)
                for name, proc in procs.items():
                    if proc.poll() is None or stopping:
                        continue
                    # A crashed process is restarted (Celery's worker can die when its broker
                    # connection breaks); one that keeps crashing stops everything.
                    now = time.monotonic()
                    restarts[:] = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > 5:
                        self.stderr.write(f"{name} keeps exiting (code {proc.returncode}); stopping.")
                        stop()
                        break
                    self.stderr.write(f"{name} exited with code {proc.returncode}; restarting it.")
                    procs[name] = subprocess.Popen(commands[name])
        finally:
            stop()
            for proc in procs.values():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
