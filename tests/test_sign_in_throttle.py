"""The sign-in throttle under parallel guessing (issue 22, items 6 and 7), against gunicorn as
deployments run it: every attempt is counted atomically before its password is checked, so
a burst gets exactly the limit checked, per account and per address; a browser that signed
in before keeps getting in; the Django admin's login has the same throttle."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model

from jobs.sign_in import DEVICE_COOKIE
from tests.conftest import OWNER_PASSWORD
from tests.flows import post_sign_in, sign_in_form

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fresh_rate_limits")]

PER_ACCOUNT, PER_ADDRESS = 5, 12
ENV = {
    "SESSION_COOKIE_SECURE": "false",  # signed in over plain http, as on the embedded default
    "CSRF_COOKIE_SECURE": "false",
    "SIGN_IN_FAILURES_PER_EMAIL": str(PER_ACCOUNT),
    "SIGN_IN_FAILURES_PER_IP": str(PER_ADDRESS),
    "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",  # so that one machine can be many addresses
}
EMAIL = "owner@acme.example"


def burst(base: str, path: str, attempts: list[tuple[str, str, str]], other_key: str = "") -> list[int]:
    """(login, password, address) attempts, all at once, each from a browser of its own;
    meanwhile another account's API calls are answered within 3 s."""
    token = sign_in_form(requests.Session(), base, path)

    def one(attempt: tuple[str, str, str]) -> int:
        login, password, address = attempt
        session = requests.Session()
        session.cookies.set("csrftoken", token)
        return post_sign_in(session, base, login, password, path, token, **{"X-Forwarded-For": address}).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        codes = pool.map(one, attempts)
        if other_key:
            for _ in range(3):
                r = requests.get(f"{base}/api/v1/account", headers={"Authorization": f"Bearer {other_key}"}, timeout=3)
                assert r.status_code == 200, r.text
        return list(codes)


def browser(address: str, device: str = "") -> tuple[requests.Session, dict]:
    session = requests.Session()
    if device:
        session.cookies.set(DEVICE_COOKIE, device)
    return session, {"X-Forwarded-For": address}


def signed_in_device(base: str, login: str, password: str, path: str = "/") -> str:
    """Sign in once from a browser; the device token it keeps."""
    session, headers = browser("198.51.100.1")
    r = post_sign_in(session, base, login, password, path, **headers)
    assert r.status_code == 302, r.text[:1000]
    return session.cookies[DEVICE_COOKIE]


def test_parallel_guesses_get_the_limit_checked_per_account_and_per_address(
    gunicorn_server, owner, other_owner, other_account
):
    base = gunicorn_server(**ENV)
    device = signed_in_device(base, EMAIL, OWNER_PASSWORD)

    # One account guessed from many addresses at once: PER_ACCOUNT checked, no more.
    codes = burst(base, "/", [(EMAIL, "wrong", f"203.0.113.{n}") for n in range(30)], other_account.raw_key)
    assert (codes.count(200), codes.count(429)) == (PER_ACCOUNT, 30 - PER_ACCOUNT), codes
    session, headers = browser("198.51.100.2")
    r = post_sign_in(session, base, EMAIL, OWNER_PASSWORD, **headers)  # the right password, a new browser
    assert r.status_code == 429 and "Too many failed sign-ins for this email" in r.text
    assert int(r.headers["Retry-After"]) >= 1
    session, headers = browser("198.51.100.2", device)  # the browser that signed in before
    assert post_sign_in(session, base, EMAIL, OWNER_PASSWORD, **headers).status_code == 302

    # One address guessing many accounts at once: PER_ADDRESS checked, no more.
    codes = burst(base, "/", [(f"guess{n}@example.com", "wrong", "192.0.2.7") for n in range(30)])
    assert (codes.count(200), codes.count(429)) == (PER_ADDRESS, 30 - PER_ADDRESS), codes
    other_device = signed_in_device(base, "owner@other.example", OWNER_PASSWORD)
    session, headers = browser("192.0.2.7")
    r = post_sign_in(session, base, "owner@other.example", OWNER_PASSWORD, **headers)
    assert r.status_code == 429 and "Too many failed sign-ins from your network" in r.text
    # ... but the people behind that address who signed in there before are not locked out.
    session, headers = browser("192.0.2.7", other_device)
    assert post_sign_in(session, base, "owner@other.example", OWNER_PASSWORD, **headers).status_code == 302
    # A device token is for the account it signed in to.
    session, headers = browser("192.0.2.7", other_device)
    assert post_sign_in(session, base, EMAIL, OWNER_PASSWORD, **headers).status_code == 429


def test_the_admin_login_has_the_same_throttle(gunicorn_server, account):
    get_user_model().objects.create_superuser("ops", "ops@example.com", OWNER_PASSWORD)
    base = gunicorn_server(**ENV)
    device = signed_in_device(base, "ops", OWNER_PASSWORD, "/admin/login/")

    codes = burst(base, "/admin/login/", [("ops", "wrong", f"203.0.113.{n}") for n in range(30)])
    assert (codes.count(200), codes.count(429)) == (PER_ACCOUNT, 30 - PER_ACCOUNT), codes

    session, headers = browser("198.51.100.3")
    r = post_sign_in(session, base, "ops", OWNER_PASSWORD, "/admin/login/", **headers)  # the right one
    assert r.status_code == 429 and 'id="login-throttled"' in r.text and "Too many failed sign-ins" in r.text
    assert session.get(f"{base}/admin/", allow_redirects=False, timeout=30).status_code == 302  # not signed in

    session, headers = browser("198.51.100.3", device)
    r = post_sign_in(session, base, "ops", OWNER_PASSWORD, "/admin/login/", **headers)
    assert r.status_code == 302
    assert session.get(f"{base}/admin/", allow_redirects=False, timeout=30).status_code == 200
    # Logging out of the admin lands on the admin's login, not the customers' sign-in.
    out = session.post(
        f"{base}/admin/logout/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/admin/"},
        allow_redirects=False,
        timeout=30,
    )
    assert out.status_code == 302 and out.headers["Location"] == "/admin/login/"
