"""The sign-in throttle: one for both sign-in pages, the customers' (`/`) and the operators'
(the Django admin's login).

Every attempt is counted before its password is checked, with one atomic increment per
counter in the shared store (jobs/counters.py: Redis INCR with an expiry, or an upsert in
the database), and refused when the count passes the limit: so a burst of parallel guesses
gets exactly the limit checked, never more. A successful sign-in gives its counts back.

Counters, in fixed windows of SIGN_IN_WINDOW_SECONDS:
- per client address, SIGN_IN_FAILURES_PER_IP: one address guessing across many accounts;
- per account (the email or user name), SIGN_IN_FAILURES_PER_EMAIL: many addresses guessing
  one account.
A browser that has signed in to an account before carries a device token for it (a signed
cookie): its attempts for that account count against that token alone, up to
SIGN_IN_FAILURES_PER_EMAIL, and neither lockout above holds it back. So an attacker behind
a shared address (an office NAT), or one guessing a victim's password, does not lock out the
people who use that address or that account every day; new browsers wait for the window.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing

from jobs import counters, ratelimit
from jobs.errors import RateLimited

log = logging.getLogger(__name__)

DEVICE_COOKIE = "upscaler_device"
DEVICE_TOKEN_MAX_AGE = 90 * 24 * 3600
_DEVICE_SALT = "jobs.sign_in.device"


def client_ip(meta: dict) -> str:
    """REMOTE_ADDR, or the last entry of CLIENT_IP_HEADER when a proxy in front sets it."""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = meta.get(header, "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return meta.get("REMOTE_ADDR", "")


def _digest(value: str) -> str:
    # Hashed: counter names and tokens name neither the email nor the address.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _counter(scope: str, ident: str, seconds: int, now: float) -> tuple[str, int]:
    return ratelimit.fixed_window(scope, _digest(ident), seconds, now)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@dataclass
class Attempt:
    """A sign-in attempt let through: its counts, given back if it succeeds."""

    login: str
    charged: list[str] = field(default_factory=list)

    def succeeded(self) -> str:
        """The attempt was right: its counts are given back. Returns the device token to
        hand the browser (DEVICE_COOKIE) for this account."""
        for name in self.charged:
            try:
                counters.decr(name)
            except counters.Unavailable:
                log.warning("rate limit store unreachable; a successful sign-in stays counted", exc_info=True)
        return signing.dumps({"a": _digest(self.login), "d": secrets.token_hex(16)}, salt=_DEVICE_SALT)


def _device(token: str, login: str) -> str | None:
    """The device id in `token` when it was issued for `login` (and is not too old)."""
    if not token or not login:
        return None
    try:
        data = signing.loads(token, salt=_DEVICE_SALT, max_age=DEVICE_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != _digest(login) or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def begin(login: str, address: str, device_token: str = "") -> Attempt:
    """Count a sign-in attempt for `login` (a normalized email or user name) from `address`
    before its password is checked. Raises RateLimited (saying when to retry) once a limit
    is passed: the password is not checked then, right or wrong. An unreachable store lets
    the attempt through (logged), as the API's rate limiter does."""
    window = settings.SIGN_IN_WINDOW_SECONDS
    text = "Too many failed sign-ins {who}. Try again in {{minutes}}."
    device = _device(device_token, login)
    if device is not None:
        limits = [("sign-in-device", device, settings.SIGN_IN_FAILURES_PER_EMAIL, "from this browser")]
    else:
        # The address first: a locked-out address does not count against the accounts it tries.
        limits = [("sign-in-ip", address, settings.SIGN_IN_FAILURES_PER_IP, "from your network")]
        if login:
            limits.append(("sign-in-email", login, settings.SIGN_IN_FAILURES_PER_EMAIL, "for this email"))
    attempt = Attempt(login)
    now = time.time()
    for scope, ident, limit, who in limits:
        name, reset = _counter(scope, ident, window, now)
        try:
            used = counters.incr(name, ttl=window + 5)
        except counters.Unavailable:
            log.warning("rate limit store unreachable; letting the attempt through", exc_info=True)
            continue
        attempt.charged.append(name)
        if used > limit:
            raise RateLimited(text.format(who=who).format(minutes=_minutes(reset)), retry_after=reset)
    return attempt


def costly_request(address: str) -> None:
    """A password-reset request (it sends an email) or a sign-up (it creates an account)
    counts like a failed sign-in from its address; raises RateLimited past the limit."""
    window = settings.SIGN_IN_WINDOW_SECONDS
    name, reset = _counter("sign-in-ip", address, window, time.time())
    try:
        used = counters.incr(name, ttl=window + 5)
    except counters.Unavailable:
        log.warning("rate limit store unreachable; letting the request through", exc_info=True)
        return
    if used > settings.SIGN_IN_FAILURES_PER_IP:
        raise RateLimited(f"Too many requests from your network. Try again in {_minutes(reset)}.", retry_after=reset)
