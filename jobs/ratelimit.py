"""Rate limits in fixed windows, for every face: the API's (and the web app's) per-key
request limits here, the sign-in throttle (jobs/sign_in.py) on the same
windows. One shared counter per scope, identity and window (jobs/counters.py: Redis, or the
database on the embedded default), incremented atomically, so every web process counts
against the same windows and none is over-admitted."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings

from jobs import counters
from jobs.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: int


def fixed_window(scope: str, ident: int | str, seconds: int, now: float) -> tuple[str, int]:
    """The fixed window of `seconds` that `now` falls in, for `ident` in `scope`: the name
    of its shared counter, and the seconds until it resets (at least 1)."""
    start = int(now // seconds) * seconds
    return f"rl:{scope}:{ident}:{seconds}:{start}", max(int(start + seconds - now), 1)


def windows(scope: str) -> list[Window]:
    return [Window(limit, seconds) for limit, seconds in settings.RATE_LIMITS.get(scope, [])]


def check(key_id: int | str, scope: str, limits: list[Window] | None = None) -> dict[str, str]:
    """Count one request; raise a 429 when a window is full. Returns the X-RateLimit headers
    for the tightest window. If the counter store is unreachable the request is let through
    (logged): a rate limiter must not take the API down with it. `limits`: the windows of a
    scope that is not the API's (RATE_LIMITS)."""
    now = time.time()
    tightest: dict[str, str] = {}
    tightest_remaining = None
    for window in windows(scope) if limits is None else limits:
        counter, reset = fixed_window(scope, key_id, window.seconds, now)
        try:
            used = counters.incr(counter, ttl=window.seconds + 5)
        except counters.Unavailable:
            log.warning("rate limit store unreachable; letting the request through", exc_info=True)
            return {}
        remaining = max(window.limit - used, 0)
        headers = {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }
        if used > window.limit:
            per = "minute" if window.seconds == 60 else "hour" if window.seconds == 3600 else f"{window.seconds}s"
            raise RateLimited(
                f"Rate limit exceeded: at most {window.limit} {scope} requests per {per} for this API key; "
                f"retry in {reset} seconds.",
                retry_after=reset,
                headers=headers,
            )
        if tightest_remaining is None or remaining < tightest_remaining:
            tightest, tightest_remaining = headers, remaining
    return tightest
