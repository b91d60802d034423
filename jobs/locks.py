"""A short lock in the cache (Redis, or the database on the embedded default), so that a
periodic task started twice at once (two beats, or a run and a manual one) runs once.

It saves work; it is not what makes a second run harmless. The tasks' writes are
conditional updates, so a run that gets in anyway (the cache is down, or the first run
outlived the lock) changes nothing that the first one changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

log = logging.getLogger(__name__)


@contextmanager
def held(name: str, seconds: float) -> Iterator[bool]:
    """Yields True when this process took the lock `name`, which lasts until the block ends
    or `seconds` pass (so a run that died keeps the next one out no longer than that)."""
    token = uuid.uuid4().hex
    key: str | None = f"lock:{name}"
    try:
        mine = cache.add(key, token, timeout=seconds)
    except Exception:
        log.warning("The cache is unreachable; %s runs without its lock", name, exc_info=True)
        mine, key = True, None
    try:
        yield mine
    finally:
        if mine and key is not None:
            try:
                if cache.get(key) == token:
                    cache.delete(key)
            except Exception:
                log.warning("Could not release the lock %s; it expires in %g s", name, seconds, exc_info=True)
