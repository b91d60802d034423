from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests

from tests.flows import wait_until
from tests.ports import free_port
from tests.servers import FileServer, WebhookReceiver

REPO = Path(__file__).resolve().parent.parent


def require_service(name: str, check) -> None:
    """A test service that cannot be reached fails the test under CI and skips it elsewhere."""
    try:
        check()
    except Exception as exc:
        message = f"{name} is not reachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def account(db):
    from billing import ledger
    from billing.models import Account, ApiKey

    acc = Account.objects.create(name="acme")
    ledger.top_up(acc, 100, memo="test credits")
    _, raw = ApiKey.issue(acc)
    acc.raw_key = raw
    return acc


@pytest.fixture
def other_account(db):
    from billing import ledger
    from billing.models import Account, ApiKey

    acc = Account.objects.create(name="other")
    ledger.top_up(acc, 100)
    _, raw = ApiKey.issue(acc)
    acc.raw_key = raw
    return acc


@pytest.fixture
def api(client, account):
    """Django's test client, authenticated as `account`."""

    class Api:
        def __init__(self, key):
            self.key = key

        def headers(self):
            return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}

        def post(self, path, body=None, **extra):
            return client.post(
                f"/api/v1/{path}", body or {}, content_type="application/json", **self.headers(), **extra
            )

        def post_form(self, path, data, **extra):
            return client.post(f"/api/v1/{path}", data, **self.headers(), **extra)

        def get(self, path, **extra):
            return client.get(f"/api/v1/{path}", **self.headers(), **extra)

        def as_key(self, key):
            return Api(key)

    return Api(account.raw_key)


@pytest.fixture
def file_server():
    with FileServer() as server:
        yield server


@pytest.fixture
def webhook_receiver():
    with WebhookReceiver() as receiver:
        yield receiver


def redis_url() -> str:
    return os.environ["CELERY_BROKER_URL"]


@pytest.fixture(scope="session", autouse=True)
def broker():
    """Redis is the broker, the cache and the rate-limit store. This run's keys carry its
    own prefix (tests/env_defaults.py); they are removed before and after the run."""
    client = redis.Redis.from_url(redis_url())
    require_service("Redis", client.ping)

    def clear():
        for key in client.scan_iter(match=f"{os.environ['REDIS_KEY_PREFIX']}*", count=500):
            client.delete(key)

    clear()
    yield redis_url()
    clear()


class WorkerProcess:
    """A Celery worker (and, with `beat`, a Celery beat beside it, as deployments run it),
    each in a process group of its own, which is what gets killed."""

    def __init__(
        self,
        env: dict,
        log_path: Path,
        queues: str = "inference,webhooks,maintenance",
        beat: bool = False,
        supervised: bool = False,
        concurrency: int = 2,
    ):
        self.env, self.log_path, self.queues, self.beat = env, log_path, queues, beat
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.beat_proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        if supervised:  # restart it when it exits, as compose's and Kubernetes' restart policies do
            threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            if self.proc is not None and self.proc.poll() is not None and not self._stopping.is_set():
                _kill_group(self.proc)  # pool processes it left behind
                self.restarts += 1
                self.start()
            if self.beat_proc is not None and self.beat_proc.poll() is not None and not self._stopping.is_set():
                self._start_beat()

    def _popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "upscaler_platform", *args],
            cwd=REPO,
            env=self.env,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _start_beat(self) -> None:
        schedule = str(self.log_path.with_suffix(".beat"))
        self.beat_proc = self._popen("beat", "--loglevel", "INFO", "--schedule", schedule)

    def start(self, timeout: float = 90) -> WorkerProcess:
        ready_before = self.log_path.read_bytes().count(b" ready.") if self.log_path.exists() else 0
        self.proc = self._popen(
            "worker",
            "-Q",
            self.queues,
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}-{time.time_ns()}@%h",
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            return self.log_path.read_bytes().count(b" ready.") > ready_before

        wait_until(ready, timeout, "the worker to be ready", interval=0.2, context=lambda: self.log()[-3000:])
        if self.beat and self.beat_proc is None:
            self._start_beat()
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        """Kill the worker's whole process group (main process and pool children), and beat's."""
        self._stopping.set()
        for proc in (self.proc, self.beat_proc):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=30)

    def stop(self) -> None:
        self._stopping.set()
        for proc in (self.proc, self.beat_proc):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def settled(self, task: str) -> bool:
        """Every `task` this worker received (due now or scheduled for later) has ended, by
        its log: the event a test waits for before it says "no other attempt comes"."""
        log = self.log()
        received = Counter(re.findall(rf"Task {re.escape(task)}\[([^\]]+)\] received", log))
        ended = Counter(
            re.findall(rf"Task {re.escape(task)}\[([^\]]+)\] (?:succeeded|raised|retry|ignored|rejected)", log)
        )
        return bool(received) and all(ended[task_id] >= n for task_id, n in received.items())


def gunicorn_command(port: int, *extra: str) -> list[str]:
    """The web server as every deployment starts it (upscaler_platform/gunicorn_conf.py), on
    127.0.0.1:port; `extra` options override the config file's."""
    from jobs.management.commands.run_embedded import GUNICORN_CONFIG

    return [
        str(Path(sys.executable).parent / "gunicorn"),
        f"--config={GUNICORN_CONFIG}",
        "upscaler_platform.wsgi",
        f"--bind=127.0.0.1:{port}",
        *extra,
    ]


def answers(url: str, timeout: float = 20) -> bool:
    """The URL answers 200 (a server that is up)."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def worker_env(live_server_url: str, **extra) -> dict:
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["PUBLIC_BASE_URL"] = live_server_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def celery_worker(request, django_db_setup, django_db_blocker, live_server, broker, tmp_path_factory):
    """A real Celery worker process on the test database and the Redis broker. Per module,
    so fault tests elsewhere own the queues with workers configured their way; a module's
    `WORKER_ENV` (a dict) adds to its environment."""
    with django_db_blocker.unblock():
        env = worker_env(live_server.url, **getattr(request.module, "WORKER_ENV", {}))
    worker = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def make_worker(django_db_setup, live_server, broker, tmp_path):
    """Start extra worker processes within a test (fault tests); all stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(
        beat: bool = False,
        supervised: bool = False,
        concurrency: int = 2,
        queues: str = "inference,webhooks,maintenance",
        **extra,
    ) -> WorkerProcess:
        log = tmp_path / f"worker{len(started)}.log"
        env = worker_env(live_server.url, **extra)
        worker = WorkerProcess(env, log, queues, beat=beat, supervised=supervised, concurrency=concurrency).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def gunicorn_server(broker, tmp_path):
    """Start the web server as deployments run it (gunicorn with the project's config) on a
    free port, against the test database and Redis: `base_url = gunicorn_server(**env)`.
    Stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(**extra_env: str) -> str:
        port = free_port()
        log_path = tmp_path / f"web{len(started)}.log"
        proc = subprocess.Popen(
            gunicorn_command(port),
            cwd=REPO,
            env=worker_env("http://127.0.0.1", **extra_env),
            stdout=open(log_path, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            return answers(base + "/healthz")

        wait_until(up, 60, "the web server", interval=0.2, context=lambda: log_path.read_text()[-3000:])
        return base

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


OWNER_PASSWORD = "correct-horse-battery-staple"


def make_owner(account, email: str):
    from billing.owners import add_owner

    return add_owner(account, email, OWNER_PASSWORD).user


@pytest.fixture
def owner(account):
    """The web-app login of `account` (a Django user linked to it by billing.Owner)."""
    return make_owner(account, "owner@acme.example")


@pytest.fixture
def other_owner(other_account):
    return make_owner(other_account, "owner@other.example")


@pytest.fixture
def web(client, owner):
    """Django's test client, signed in to the web app as `owner`."""
    client.force_login(owner)
    return client


@pytest.fixture
def fresh_rate_limits(broker):
    """Forget this run's rate-limit counters (the sign-in ones count per email, which tests
    share), without touching other runs' keys in the shared Redis."""
    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(match=f"{os.environ['REDIS_KEY_PREFIX']}*rl:*", count=500):
        client.delete(key)
    yield
    client.close()


@pytest.fixture(scope="session")
def face_model_file(tmp_path_factory) -> Path:
    """A GFPGAN-architecture face model with random weights (tests/face_models.py), once a session."""
    from tests.face_models import FACE_MODEL, write_random_gfpgan

    return write_random_gfpgan(tmp_path_factory.mktemp("face-model") / f"{FACE_MODEL}.safetensors")


@pytest.fixture(scope="session")
def face_model_dir(tmp_path_factory, face_model_file) -> Path:
    """A model directory with the shared weights and the random GFPGAN face model."""
    from tests.face_models import model_dir_with_faces

    return model_dir_with_faces(tmp_path_factory.mktemp("models-with-faces"), face_model_file)
