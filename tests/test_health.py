"""/healthz and /readyz: readiness follows the database, the broker and the storage."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import redis
from django.test import override_settings

from tests.flows import wait_until
from tests.ports import free_port

pytestmark = pytest.mark.django_db


class RedisServer:
    def __init__(self, port: int, workdir):
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def pings() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
            except redis.ConnectionError:
                return False

        wait_until(pings, 10, "redis-server to start", interval=0.05)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_own_redis(workdir) -> RedisServer:
    """A throwaway redis-server of this test's own, on a free port."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    return RedisServer(free_port(), workdir).start()


@pytest.fixture
def own_redis(tmp_path):
    server = start_own_redis(tmp_path)
    yield server
    server.kill()


def test_healthz_answers_while_the_process_runs(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_follows_the_broker(client, own_redis):
    with override_settings(CELERY_BROKER_URL=own_redis.url):
        r = client.get("/readyz")
        assert r.status_code == 200, r.json()
        assert r.json()["status"] == "ok"
        assert set(r.json()["checks"]) == {"database", "broker", "storage"}

        own_redis.kill()
        started = time.monotonic()
        r = client.get("/readyz")
        assert time.monotonic() - started < 5
        assert r.status_code == 503
        body = r.json()
        assert body["failed"] == ["broker"]
        assert "Connection" in body["checks"]["broker"]["error"]
        assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]

        own_redis.start()  # the same port again
        r = client.get("/readyz")
        assert r.status_code == 200, r.json()


def test_readyz_names_a_broken_storage(client, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "media")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["failed"] == ["storage"]


def test_readyz_times_out_a_hung_check(client, monkeypatch):
    from jobs.operators import health

    monkeypatch.setitem(health.CHECKS, "broker", lambda: time.sleep(10))
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    r = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert r.status_code == 503 and "timed out" in r.json()["checks"]["broker"]["error"]


def test_readyz_checks_the_filesystem_broker_too(client, tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    with override_settings(CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=options):
        r = client.get("/readyz")
        assert r.status_code == 200, r.json()
        folder.rmdir()
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["failed"] == ["broker"]
