"""Counters every web process shares: fixed-window counts (the rate limiter) and slots that
expire (image downloads in flight per account).

They live in Redis when REDIS_URL is set and in the database otherwise (the embedded
default). Every change is one atomic operation in the store, a Lua script in Redis, a single
upsert in SQL, so concurrent requests are each counted exactly once, across processes and
machines. A slot expires by itself, so a process that dies holding one does not keep it.

When the store cannot be reached these raise `Unavailable`; the caller decides what that
means (the rate limiter and the download cap let the request through).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F

from jobs.models import Counter


class ProcessSlots:
    """Slots of this process only (its threads), taken without blocking: the waits a web
    process holds (jobs/completion.py), the image downloads it runs (jobs/submission.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def enter(self, cap: int) -> bool:
        """Take one if fewer than `cap` are taken; False (nothing taken) otherwise."""
        with self._lock:
            if self.count >= cap:
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1

    @contextmanager
    def held(self, cap: int) -> Iterator[bool]:
        """Yields whether a slot was taken, and gives it back after."""
        granted = self.enter(cap)
        try:
            yield granted
        finally:
            if granted:
                self.leave()


class Unavailable(Exception):
    """The counter store could not be reached."""


@dataclass(frozen=True)
class Slot:
    """One slot taken by acquire(): give it back with release()."""

    key: str
    holder: str


def incr(name: str, ttl: float) -> int:
    """Add one to the counter `name` and return its new value. A counter that does not exist
    (or has expired) starts at 1 and expires `ttl` seconds later."""
    return _store().incr(name, ttl)


def decr(name: str) -> None:
    """Take one off the counter `name`, if it exists and is above zero (a count given back:
    a sign-in that turned out right). Its expiry is kept."""
    _store().decr(name)


def value(name: str) -> int:
    """The counter's current value (0 when it does not exist or has expired)."""
    return _store().value(name)


def acquire(name: str, limit: int, ttl: float) -> Slot | None:
    """Take one of `limit` slots called `name`, or None when every one is taken. The slot is
    freed by release(), or by itself `ttl` seconds later."""
    return _store().acquire(name, limit, ttl)


def release(slot: Slot) -> None:
    """Free a slot (a no-op if it already expired and someone else took it)."""
    _store().release(slot)


def _store() -> _RedisStore | _DatabaseStore:
    if settings.COUNTER_STORE == "redis":
        return _RedisStore.for_url(settings.REDIS_URL)
    return _DatabaseStore()


def _new_holder() -> str:
    return secrets.token_hex(16)


class _RedisStore:
    # INCR, and an expiry for a counter that has none (a new one), in one atomic step.
    INCR = """
    local n = redis.call('INCR', KEYS[1])
    if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    return n
    """
    DECR = """
    local n = tonumber(redis.call('GET', KEYS[1]) or '0')
    if n > 0 then return redis.call('DECR', KEYS[1]) end
    return 0
    """
    # The first free slot: SET NX with its expiry; returns its 1-based index, 0 if none is free.
    ACQUIRE = """
    for i, key in ipairs(KEYS) do
      if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then return i end
    end
    return 0
    """
    RELEASE = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0
    """

    _instances: dict[str, _RedisStore] = {}
    _lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str) -> _RedisStore:
        with cls._lock:
            if url not in cls._instances:
                cls._instances[url] = cls(url)
            return cls._instances[url]

    def __init__(self, url: str):
        # Short timeouts: an unreachable Redis must cost a request a second, not hang it.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._incr = self.client.register_script(self.INCR)
        self._decr = self.client.register_script(self.DECR)
        self._acquire = self.client.register_script(self.ACQUIRE)
        self._release = self.client.register_script(self.RELEASE)

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(int(seconds * 1000), 1)

    def incr(self, name: str, ttl: float) -> int:
        try:
            return int(self._incr(keys=[f"{settings.REDIS_KEY_PREFIX}counter:{name}"], args=[self._ms(ttl)]))
        except redis.RedisError as exc:
            raise Unavailable(str(exc)) from exc

    def decr(self, name: str) -> None:
        try:
            self._decr(keys=[f"{settings.REDIS_KEY_PREFIX}counter:{name}"])
        except redis.RedisError as exc:
            raise Unavailable(str(exc)) from exc

    def value(self, name: str) -> int:
        try:
            return int(self.client.get(f"{settings.REDIS_KEY_PREFIX}counter:{name}") or 0)
        except redis.RedisError as exc:
            raise Unavailable(str(exc)) from exc

    def acquire(self, name: str, limit: int, ttl: float) -> Slot | None:
        # The braces make every slot of one name hash to the same Redis Cluster slot.
        keys = [f"{settings.REDIS_KEY_PREFIX}slot:{{{name}}}:{i}" for i in range(limit)]
        if not keys:
            return None
        holder = _new_holder()
        try:
            index = int(self._acquire(keys=keys, args=[holder, self._ms(ttl)]))
        except redis.RedisError as exc:
            raise Unavailable(str(exc)) from exc
        return Slot(keys[index - 1], holder) if index else None

    def release(self, slot: Slot) -> None:
        try:
            self._release(keys=[slot.key], args=[slot.holder])
        except redis.RedisError as exc:
            raise Unavailable(str(exc)) from exc


class _DatabaseStore:
    """The Counter table. Needs INSERT ... ON CONFLICT ... RETURNING: PostgreSQL, or SQLite
    3.35 and later. Run outside a transaction, so that other processes see the change at once."""

    def _sql(self, template: str) -> str:
        q = connection.ops.quote_name
        return template.format(
            t=q(Counter._meta.db_table), name=q("name"), count=q("count"), holder=q("holder"), exp=q("expires_at")
        )

    def incr(self, name: str, ttl: float) -> int:
        now = time.time()
        sql = self._sql(
            "INSERT INTO {t} ({name}, {count}, {holder}, {exp}) VALUES (%s, 1, '', %s) "
            "ON CONFLICT ({name}) DO UPDATE SET "
            "{count} = CASE WHEN {t}.{exp} <= %s THEN 1 ELSE {t}.{count} + 1 END, "
            "{exp} = CASE WHEN {t}.{exp} <= %s THEN excluded.{exp} ELSE {t}.{exp} END "
            "RETURNING {count}"
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [name, now + ttl, now, now])
                (count,) = cursor.fetchone()
            if count == 1:  # a new counter, once per name and window: drop the expired ones
                Counter.objects.filter(expires_at__lte=now).delete()
        except DatabaseError as exc:
            raise Unavailable(str(exc)) from exc
        return int(count)

    def decr(self, name: str) -> None:
        try:
            Counter.objects.filter(name=name, count__gt=0, expires_at__gt=time.time()).update(count=F("count") - 1)
        except DatabaseError as exc:
            raise Unavailable(str(exc)) from exc

    def value(self, name: str) -> int:
        try:
            row = Counter.objects.filter(name=name, expires_at__gt=time.time()).values_list("count", flat=True).first()
        except DatabaseError as exc:
            raise Unavailable(str(exc)) from exc
        return int(row or 0)

    def acquire(self, name: str, limit: int, ttl: float) -> Slot | None:
        now = time.time()
        holder = _new_holder()
        # Inserts the slot, or takes over an expired one; returns no row when it is held.
        sql = self._sql(
            "INSERT INTO {t} ({name}, {count}, {holder}, {exp}) VALUES (%s, 1, %s, %s) "
            "ON CONFLICT ({name}) DO UPDATE SET {holder} = excluded.{holder}, {exp} = excluded.{exp} "
            "WHERE {t}.{exp} <= %s "
            "RETURNING {holder}"
        )
        try:
            with connection.cursor() as cursor:
                for i in range(limit):
                    key = f"slot:{name}:{i}"
                    cursor.execute(sql, [key, holder, now + ttl, now])
                    if cursor.fetchone() is not None:
                        return Slot(key, holder)
        except DatabaseError as exc:
            raise Unavailable(str(exc)) from exc
        return None

    def release(self, slot: Slot) -> None:
        try:
            Counter.objects.filter(name=slot.key, holder=slot.holder).delete()
        except DatabaseError as exc:
            raise Unavailable(str(exc)) from exc
