"""Sign-in throttling: failed attempts counted per email and per client address in the
fixed windows of jobs/ratelimit.py (shared counters: Redis, or the database on the embedded
default), so every web process counts against the same windows."""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings

from jobs import counters, ratelimit
from jobs.errors import RateLimited

log = logging.getLogger(__name__)


def client_ip(request) -> str:
    """REMOTE_ADDR, or the last entry of CLIENT_IP_HEADER when a proxy in front sets it."""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get(header, "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


def _counter(scope: str, ident: str, seconds: int, now: float) -> tuple[str, int]:
    # Hashed: the key names neither the email nor the address.
    return ratelimit.fixed_window(scope, hashlib.sha256(ident.encode()).hexdigest()[:32], seconds, now)


def check(scope: str, ident: str, limit: int, seconds: int, message: str) -> None:
    """Raise RateLimited (with when to retry) once `limit` failures are counted in the
    window. An unreachable cache lets the attempt through (logged), as the API's does."""
    counter, reset = _counter(scope, ident, seconds, time.time())
    try:
        used = counters.value(counter)
    except counters.Unavailable:
        log.warning("rate limit store unreachable; letting the attempt through", exc_info=True)
        return
    if used >= limit:
        raise RateLimited(message.format(minutes=_minutes(reset)), retry_after=reset)


def count(scope: str, ident: str, seconds: int) -> None:
    counter, _ = _counter(scope, ident, seconds, time.time())
    try:
        counters.incr(counter, ttl=seconds + 5)
    except counters.Unavailable:
        log.warning("rate limit store unreachable; the attempt was not counted", exc_info=True)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def check_sign_in(request, email: str) -> None:
    """Before a sign-in attempt: raises RateLimited while this email or this address has
    too many recent failures."""
    window = settings.SIGN_IN_WINDOW_SECONDS
    text = "Too many failed sign-ins {who}. Try again in {{minutes}}."
    if email:
        check("sign-in-email", email, settings.SIGN_IN_FAILURES_PER_EMAIL, window, text.format(who="for this email"))
    check(
        "sign-in-ip", client_ip(request), settings.SIGN_IN_FAILURES_PER_IP, window, text.format(who="from your network")
    )


def count_failure(request, email: str) -> None:
    window = settings.SIGN_IN_WINDOW_SECONDS
    if email:
        count("sign-in-email", email, window)
    count("sign-in-ip", client_ip(request), window)


def check_costly_request(request) -> None:
    """A password-reset request (it sends an email) or a sign-up (it creates an account)
    counts like a failed sign-in from its address."""
    window = settings.SIGN_IN_WINDOW_SECONDS
    check(
        "sign-in-ip",
        client_ip(request),
        settings.SIGN_IN_FAILURES_PER_IP,
        window,
        "Too many requests from your network. Try again in {minutes}.",
    )
    count("sign-in-ip", client_ip(request), window)
