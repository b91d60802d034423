"""Waiting for jobs to end, cheaply: synchronous answers (`Prefer: wait=N` and the vendor
surfaces that answer when the upscale is done) block here, not in a database poll loop.

When a job ends, the process that ended it announces it once the transaction commits. With
Redis configured the announcement is a pub/sub message on the job's channel and a waiter
sleeps in the socket until it arrives (subscribing before it looks at the database, so an
announcement cannot slip between the look and the subscription). On the embedded default
(no Redis) a waiter polls the database with a backing-off interval. Either way the database
stays the truth: an announcement only says "look again".

Waits are capped per process (SYNC_WAIT_MAX_CONCURRENT): each holds a web thread, and the
threads left over must keep answering status polls. `hold()` refuses a wait past the cap
instead of queueing it; the caller then answers asynchronously.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator

from django.conf import settings

from jobs import connections, counters
from jobs.models import Job

log = logging.getLogger(__name__)

_POLL_FIRST_SECONDS = 0.1
_POLL_MAX_SECONDS = 2.0
# A waiter re-reads the database at least this often even with Redis: a lost announcement
# (Redis restarted, a worker killed between commit and publish) costs seconds, not the wait.
_RECHECK_SECONDS = 5.0

_waits = counters.ProcessSlots()


def channel(job_id) -> str:
    return f"{settings.REDIS_KEY_PREFIX}job-ended:{job_id}"


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=None)


def announce(job_id) -> None:
    """Tell waiters that the job ended (call after the commit that ended it)."""
    if not settings.REDIS_URL:
        return
    try:
        client = _redis()
        try:
            client.publish(channel(job_id), "ended")
        finally:
            client.close()
    except Exception:
        log.warning("could not announce the end of job %s; waiters find it by polling", job_id, exc_info=True)


@contextlib.contextmanager
def hold() -> Iterator[bool]:
    """A wait slot of this process: yields True when one was free (and releases it after),
    False when SYNC_WAIT_MAX_CONCURRENT waits are running already."""
    with _waits.held(settings.SYNC_WAIT_MAX_CONCURRENT) as granted:
        yield granted


def waits_in_progress() -> int:
    return _waits.count


def _unfinished(job_ids: set[str], *, release_connection: bool = False) -> set[str]:
    still = {
        str(pk) for pk in Job.objects.filter(pk__in=job_ids, status__in=Job.UNFINISHED).values_list("pk", flat=True)
    }
    if release_connection:
        # A waiter sleeps for seconds between looks: give its database connection back
        # meanwhile, so that many waits do not hold as many PostgreSQL connections.
        connections.give_back()
    return still


def wait_for(job_ids: Iterable, timeout: float) -> set[str]:
    """Block until every job has ended or `timeout` seconds pass; returns the ids still
    unfinished (empty when all ended)."""
    pending = {str(job_id) for job_id in job_ids}
    deadline = time.monotonic() + max(timeout, 0)
    if settings.REDIS_URL:
        try:
            return _wait_with_redis(pending, deadline)
        except Exception:
            log.warning("Redis unavailable for waiting; polling the database", exc_info=True)
    return _wait_polling(pending, deadline)


def _wait_with_redis(pending: set[str], deadline: float) -> set[str]:
    client = _redis()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(*(channel(job_id) for job_id in pending))
        pending = _unfinished(pending, release_connection=True)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            message = pubsub.get_message(timeout=min(left, _RECHECK_SECONDS))
            if message is None and time.monotonic() < deadline:
                pending = _unfinished(pending, release_connection=True)  # the periodic re-check
                continue
            if message is not None:
                ended = message["channel"].decode().rsplit(":", 1)[-1]
                if ended in pending:
                    pending = _unfinished(pending, release_connection=True)
        return _unfinished(pending) if pending else pending
    finally:
        pubsub.close()
        client.close()


def _wait_polling(pending: set[str], deadline: float) -> set[str]:
    interval = _POLL_FIRST_SECONDS
    pending = _unfinished(pending)
    while pending and time.monotonic() < deadline:
        time.sleep(min(interval, max(deadline - time.monotonic(), 0)))
        interval = min(interval * 2, _POLL_MAX_SECONDS)
        pending = _unfinished(pending)
    return pending
