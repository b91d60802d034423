"""Runs the embedded default: the web app (gunicorn), two Celery workers and Celery beat, each
as its own supervised process, until interrupted. `make run` calls this.

The two workers are the deployments' queues on one machine: the inference worker runs jobs
(WORKER_CONCURRENCY at once, 1 by default: what one GPU or a CPU allows), and the I/O worker
delivers webhooks and runs the maintenance tasks in threads, so a webhook never waits behind
the inference queue, however long it is.

Each child runs in a process group of its own, and that group is what gets killed: when a
child exits (a crash, a kill -9) whatever it left behind (pool processes) is killed before
it is restarted, and on shutdown nothing outlives the launcher. Beat runs by itself rather
than inside the worker (`--beat`), whose beat child outlives a worker killed with -9: the
restarted worker then started a second beat, and every periodic task ran twice.
"""

from __future__ import annotations

import contextlib
import ctypes
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


# Threads of the I/O worker (webhook deliveries at once, and the maintenance tasks).
IO_CONCURRENCY = 8


def _celery() -> list[str]:
    return [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "upscaler_platform"]


def worker_commands(inference_concurrency: int, io_concurrency: int) -> dict[str, list[str]]:
    """The embedded default's two workers: inference alone (prefork, one job per process),
    and webhooks plus maintenance in threads (I/O-bound, no torch imported)."""
    common = ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return {
        "worker": [
            *_celery(),
            "worker",
            "--queues",
            settings.INFERENCE_QUEUE,
            "--concurrency",
            str(inference_concurrency),
            "--prefetch-multiplier",
            "1",
            "--hostname",
            "inference@%h",
            *common,
        ],
        "io-worker": [
            *_celery(),
            "worker",
            "--queues",
            f"{settings.WEBHOOKS_QUEUE},{settings.MAINTENANCE_QUEUE}",
            "--pool",
            "threads",
            "--concurrency",
            str(io_concurrency),
            "--hostname",
            "io@%h",
            *common,
        ],
    }


# How long children get to stop on shutdown (a running job is put back in the queue after).
STOP_TIMEOUT_SECONDS = 20.0
PR_SET_PDEATHSIG = 1


def _die_with_launcher():
    """Run in each child before it starts: on Linux, SIGTERM it if the launcher dies (even by
    kill -9), so no child is left without its supervisor."""
    if not sys.platform.startswith("linux"):
        return None
    libc, launcher = ctypes.CDLL(None, use_errno=True), os.getpid()

    def prepare() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != launcher:  # it died before prctl took effect
            os._exit(1)

    return prepare


class Command(BaseCommand):
    help = "Start the web app, the inference and I/O workers and beat on this machine (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "1")))
        parser.add_argument(
            "--io-concurrency", type=int, default=int(os.environ.get("IO_WORKER_CONCURRENCY", str(IO_CONCURRENCY)))
        )

    def handle(self, host, port, web_workers, worker_concurrency, io_concurrency, **options):
        commands = {
            "web": web_command(host, port, web_workers),
            **worker_commands(worker_concurrency, io_concurrency),
            "beat": [
                *_celery(),
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(settings.DATA_DIR / "celerybeat-schedule"),
            ],
        }
        # Several gunicorn workers share their request metrics through this folder.
        metrics_dir = settings.DATA_DIR / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))

        prepare = _die_with_launcher()

        def start(name: str) -> subprocess.Popen:
            proc = subprocess.Popen(commands[name], process_group=0, preexec_fn=prepare)
            self.stdout.write(f"{name} started (pid {proc.pid})")
            return proc

        procs = {name: start(name) for name in commands}
        self.stdout.write(f"Web on http://{host}:{port}/ (API at /api/v1/, docs at /api/v1/docs).")
        stopping = False
        restarts: list[float] = []

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping:
                time.sleep(0.5)
                for name, proc in procs.items():
                    if proc.poll() is None or stopping:
                        continue
                    _kill_group(proc)  # what the dead one left behind
                    # A crashed process is restarted (Celery's worker can die when its broker
                    # connection breaks); one that keeps crashing stops everything.
                    now = time.monotonic()
                    restarts[:] = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > 5:
                        self.stderr.write(f"{name} keeps exiting (code {proc.returncode}); stopping.")
                        stopping = True
                        break
                    self.stderr.write(f"{name} exited with code {proc.returncode}; restarting it.")
                    procs[name] = start(name)
        finally:
            _shut_down(procs.values())


def _shut_down(procs) -> None:
    """SIGTERM each child (a warm shutdown), wait for them together, then kill each process
    group, so neither a child that did not stop nor anything a child left behind survives."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 0))
    for proc in procs:
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _kill_group(proc: subprocess.Popen) -> None:
    # The group is the child's pid (process_group=0); it outlives the child while any member does.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
