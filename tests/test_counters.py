"""Shared counters (jobs/counters.py) count every concurrent increment exactly once, in Redis
and in the database, and the rate limiter built on them admits exactly its limit."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from jobs import counters, ratelimit
from jobs.errors import RateLimited
from jobs.models import Counter
from tests.flows import wait_until

REPO = Path(__file__).resolve().parent.parent
THREADS = 24


@pytest.fixture(params=["redis", "database"])
def store(request, settings):
    """Each test runs on both stores. The database one needs committed rows (other threads
    use their own connections), hence transactional tests."""
    settings.COUNTER_STORE = request.param
    if request.param == "database":
        request.getfixturevalue("transactional_db")
    return request.param


@pytest.fixture
def frozen_window(monkeypatch):
    """The rate limiter's clock stopped mid-window, so a burst cannot straddle two windows."""

    class Clock:
        @staticmethod
        def time() -> float:
            return 1_800_000_030.0

    monkeypatch.setattr(ratelimit, "time", Clock)


def in_parallel(calls: int, fn) -> list:
    """`calls` calls of fn() from THREADS threads released together; each thread closes its
    database connection when done."""
    barrier = threading.Barrier(THREADS)
    per_thread = [calls // THREADS + (1 if i < calls % THREADS else 0) for i in range(THREADS)]

    def work(n: int) -> list:
        try:
            barrier.wait(timeout=30)
            return [fn() for _ in range(n)]
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return [result for batch in pool.map(work, per_thread) for result in batch]


def test_it_counts_every_concurrent_increment_once(store):
    name = f"test:{uuid.uuid4()}"
    values = in_parallel(300, lambda: counters.incr(name, ttl=60))
    assert sorted(values) == list(range(1, 301))


def test_the_rate_limiter_admits_exactly_its_limit_under_concurrency(store, settings, frozen_window):
    settings.RATE_LIMITS = {"status": [(240, 60)]}
    key_id = uuid.uuid4().int % 2**31

    def call() -> bool:
        try:
            ratelimit.check(key_id, "status")
            return True
        except RateLimited:
            return False

    admitted = in_parallel(300, call)
    assert admitted.count(True) == 240 and admitted.count(False) == 60


def test_it_hands_out_exactly_the_slots_there_are(store):
    name = f"test:{uuid.uuid4()}"
    taken = [slot for slot in in_parallel(60, lambda: counters.acquire(name, 4, ttl=60)) if slot]
    assert len(taken) == 4 and len({slot.key for slot in taken}) == 4
    counters.release(taken[0])
    again = counters.acquire(name, 4, ttl=60)
    assert again is not None and again.key == taken[0].key
    assert counters.acquire(name, 4, ttl=60) is None


def test_a_slot_nobody_released_expires(store):
    """A process that dies holding a slot frees it after its ttl."""
    name = f"test:{uuid.uuid4()}"
    assert counters.acquire(name, 1, ttl=0.3) is not None
    assert counters.acquire(name, 1, ttl=0.3) is None
    slot = wait_until(lambda: counters.acquire(name, 1, ttl=60), 10, "the slot to expire", interval=0.05)
    # The expired holder's late release does not free the new holder's slot.
    counters.release(counters.Slot(slot.key, "someone-else"))
    assert counters.acquire(name, 1, ttl=60) is None


def test_a_counter_restarts_after_it_expires(store):
    name = f"test:{uuid.uuid4()}"
    assert counters.incr(name, ttl=0.3) == 1
    assert counters.incr(name, ttl=0.3) == 2
    wait_until(lambda: counters.incr(name, ttl=0.3) == 1, 10, "the counter to expire", interval=0.05)


@pytest.mark.django_db
def test_the_database_store_deletes_expired_rows(settings):
    settings.COUNTER_STORE = "database"
    Counter.objects.create(name="rl:old", count=7, expires_at=time.time() - 1)
    Counter.objects.create(name="rl:current", count=3, expires_at=time.time() + 60)
    assert counters.incr("rl:new", ttl=60) == 1
    assert set(Counter.objects.values_list("name", flat=True)) == {"rl:current", "rl:new"}


def test_the_rate_limiter_lets_requests_through_when_redis_is_down(settings, caplog):
    settings.COUNTER_STORE = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.RATE_LIMITS = {"status": [(1, 60)]}
    with caplog.at_level(logging.WARNING, logger="jobs.ratelimit"):
        assert ratelimit.check(1, "status") == {}
        assert ratelimit.check(1, "status") == {}
    assert "rate limit store unreachable" in caplog.text
    with pytest.raises(counters.Unavailable):
        counters.acquire("test:down", 4, ttl=60)


# The embedded default (SQLite, no Redis), as `make run` prepares it, in its own process: the
# store where increments used to be lost (300 parallel calls all passed a limit of 240).
EMBEDDED_BURST = """
import json, threading, django
from concurrent.futures import ThreadPoolExecutor
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)
from jobs import ratelimit
from jobs.errors import RateLimited

class Clock:
    time = staticmethod(lambda: 1_800_000_030.0)

ratelimit.time = Clock
barrier = threading.Barrier(24)

def work(n):
    admitted = 0
    try:
        barrier.wait(timeout=60)
        for _ in range(n):
            try:
                ratelimit.check(7, "status")
                admitted += 1
            except RateLimited:
                pass
    finally:
        connection.close()
    return admitted

with ThreadPoolExecutor(24) as pool:
    print(json.dumps(sum(pool.map(work, [13] * 12 + [12] * 12))))
"""


@pytest.mark.slow
def test_sqlite_without_redis_admits_exactly_the_limit(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(UPSCALER_DATA_DIR=str(tmp_path / "var"), RATE_LIMIT_STATUS_PER_MINUTE="240")
    out = subprocess.run(
        [sys.executable, "-c", EMBEDDED_BURST], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == 240
