"""Signing in to the web app (`/`), its rate limits, signing out, password reset by email,
open sign-up, and the cookie and email defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from billing.models import Account, LedgerEntry, Owner
from tests.conftest import OWNER_PASSWORD, REPO

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def sign_in(client, email, password=OWNER_PASSWORD, **extra):
    return client.post("/", {"username": email, "password": password}, **extra)


def test_it_signs_an_owner_in_by_email_whatever_its_case(client, owner):
    r = sign_in(client, "  Owner@ACME.example ")
    assert r.status_code == 302 and r["Location"] == "/playground"
    assert client.get("/playground").status_code == 200


def test_it_follows_next_after_signing_in(client, owner):
    r = client.post("/?next=/keys", {"username": owner.email, "password": OWNER_PASSWORD, "next": "/keys"})
    assert r["Location"] == "/keys"


def test_a_wrong_password_says_so(client, owner):
    r = sign_in(client, owner.email, "not-the-password")
    assert r.status_code == 200
    assert b"That email and password do not match an account" in r.content
    assert client.get("/playground").status_code == 302


def test_it_limits_failed_sign_ins_per_email(client, owner, settings):
    settings.SIGN_IN_FAILURES_PER_EMAIL = 3
    for _ in range(3):
        assert sign_in(client, owner.email, "wrong").status_code == 200
    r = sign_in(client, owner.email)  # even the right password waits now
    assert r.status_code == 429
    assert int(r["Retry-After"]) >= 1
    assert re.search(rb"Too many failed sign-ins for this email. Try again in \d+ (minutes?|seconds)", r.content)
    assert client.get("/playground").status_code == 302
    # Another email from the same address is not blocked by this one's failures.
    other = get_user_model().objects.create_user("b@example.com", "b@example.com", OWNER_PASSWORD)
    Owner.objects.create(user=other, account=owner.owner.account)
    assert sign_in(client, "b@example.com").status_code == 302


def test_it_limits_failed_sign_ins_per_address(client, owner, settings):
    settings.SIGN_IN_FAILURES_PER_IP = 4
    for n in range(4):
        assert sign_in(client, f"guess{n}@example.com", "wrong").status_code == 200
    r = sign_in(client, owner.email)
    assert r.status_code == 429
    assert b"Too many failed sign-ins from your network" in r.content
    assert sign_in(Client(REMOTE_ADDR="10.9.9.9"), owner.email).status_code == 302


def test_the_client_address_can_come_from_a_proxy_header(client, owner, settings):
    settings.SIGN_IN_FAILURES_PER_IP = 2
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for _ in range(2):
        sign_in(client, "x@example.com", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.1")
    assert sign_in(client, owner.email, HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.1").status_code == 429
    assert sign_in(client, owner.email, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 302


def test_signing_out_is_a_post(web):
    assert web.get("/signout").status_code == 405
    r = web.post("/signout")
    assert r.status_code == 302 and r["Location"] == "/"
    assert web.get("/playground").status_code == 302


def test_every_form_needs_its_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    r = sign_in(client, owner.email)
    assert r.status_code == 403
    assert b"Please try again" in r.content
    client.force_login(owner)
    assert client.post("/keys", {"name": "x"}).status_code == 403


def reset_link(email_body: str) -> str:
    return re.search(r"https?://\S+/password/\S+", email_body).group(0)


def test_a_password_reset_link_sets_the_password_once_and_signs_in(client, owner):
    r = client.post("/password-reset", {"email": "OWNER@acme.example"})
    assert r.status_code == 302 and r["Location"] == "/password-reset/sent"
    [message] = mail.outbox
    assert message.to == [owner.email]
    link = reset_link(message.body)
    assert link.startswith("http://testserver/password/")

    r = client.get(link, follow=True)
    assert b"Choose a password" in r.content
    form_url = r.redirect_chain[-1][0]
    new = "another-long-passphrase-9"
    r = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert r.status_code == 302 and r["Location"] == "/playground"
    assert client.get("/playground").status_code == 200
    owner.refresh_from_db()
    assert owner.check_password(new)

    fresh = Client()
    r = fresh.get(link, follow=True)
    assert b"This link has expired" in r.content


def test_reset_links_use_the_public_base_url(client, owner, settings):
    settings.PUBLIC_BASE_URL = "https://app.example.com"
    client.post("/password-reset", {"email": owner.email})
    assert reset_link(mail.outbox[0].body).startswith("https://app.example.com/password/")


def test_an_owner_who_never_set_a_password_can_ask_for_a_link(client, account):
    from billing.owners import add_owner

    user = add_owner(account, "new@acme.example").user
    assert not user.has_usable_password()
    client.post("/password-reset", {"email": "new@acme.example"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@acme.example"]


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client):
    r = client.post("/password-reset", {"email": "nobody@example.com"})
    assert r.status_code == 302 and r["Location"] == "/password-reset/sent"
    assert mail.outbox == []


def test_reset_requests_are_limited_per_address(client, owner, settings):
    settings.SIGN_IN_FAILURES_PER_IP = 2
    for _ in range(2):
        client.post("/password-reset", {"email": owner.email})
    r = client.post("/password-reset", {"email": owner.email})
    assert r.status_code == 429 and b"Too many requests from your network" in r.content
    assert len(mail.outbox) == 2


def test_sign_up_is_closed_by_default(client):
    assert client.get("/signup").status_code == 404
    assert client.post("/signup", {"account": "x", "email": "x@example.com", "password": "p" * 12}).status_code == 404
    assert b"/signup" not in client.get("/").content


def test_open_sign_up_creates_an_account_its_owner_and_starting_credits(client, settings):
    settings.SIGNUP_OPEN = True
    settings.SIGNUP_CREDITS = 10
    assert b'href="/signup"' in client.get("/").content
    r = client.post(
        "/signup", {"account": "Northwind", "email": "Ana@Northwind.example", "password": "a-long-unusual-passphrase"}
    )
    assert r.status_code == 302 and r["Location"] == "/playground"
    account = Account.objects.get(name="Northwind")
    owner = Owner.objects.get(account=account).user
    assert owner.username == owner.email == "ana@northwind.example"
    assert account.balance == 10 == account.ledger_sum()
    assert account.ledger.get().memo == "Sign-up credits"
    assert not account.api_keys.exists()  # created on the keys page, shown once there
    assert b"Welcome! Your account Northwind is ready with 10 credits." in client.get("/playground").content


def test_sign_up_starts_at_zero_credits_by_default(client, settings):
    settings.SIGNUP_OPEN = True
    client.post("/signup", {"account": "Zero", "email": "z@example.com", "password": "a-long-unusual-passphrase"})
    account = Account.objects.get(name="Zero")
    assert account.balance == 0 and not LedgerEntry.objects.filter(account=account).exists()


def test_sign_up_refuses_taken_names_and_emails_and_weak_passwords(client, settings, owner, account):
    settings.SIGNUP_OPEN = True
    r = client.post("/signup", {"account": account.name, "email": owner.email, "password": "password"})
    assert r.status_code == 200
    content = r.content.decode()
    assert "An account named &#x27;acme&#x27; exists already." in content
    assert "A login for this email exists already" in content
    assert "This password is too common." in content
    assert Account.objects.count() == 1


@pytest.mark.parametrize(
    ("env", "secure", "backend"),
    [
        ({"DATABASE_URL": "postgres://db/x"}, True, "smtp"),
        ({}, False, "console"),
        ({"DATABASE_URL": "postgres://db/x", "DEBUG": "true"}, False, "smtp"),
        ({"DATABASE_URL": "postgres://db/x", "SESSION_COOKIE_SECURE": "false"}, False, "smtp"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}, False, "smtp"),
    ],
)
def test_cookies_are_secure_outside_development_and_mail_is_printed_only_there(tmp_path, env, secure, backend):
    names = ("DATABASE_URL", "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "EMAIL_BACKEND")
    clean = {k: v for k, v in os.environ.items() if k not in names}
    clean.update(env, UPSCALER_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="upscaler_platform.settings")
    probe = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_HTTPONLY, s.EMAIL_BACKEND)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=clean, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    session, csrf, httponly, mail_backend = out.stdout.split()
    assert (session, csrf, httponly) == (str(secure), str(secure), "True")
    assert mail_backend.endswith(f"{backend}.EmailBackend")
