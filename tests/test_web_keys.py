"""API keys in the web app: created with a name and shown once, listed with their last use,
revoked (and then refused by the API); another account's key is a 404."""

from __future__ import annotations

import re

import pytest

from billing.models import ApiKey, hash_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def test_a_new_key_is_shown_once_and_stored_as_a_hash(web, account, client):
    r = web.post("/keys", {"name": "production server"})
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    raw = re.search(r'<code id="new-key-value">(upk_[^<]+)</code>', r.content.decode()).group(1)
    key = ApiKey.objects.get(account=account, name="production server")
    assert key.key_hash == hash_key(raw) and key.prefix == raw[:12]
    assert raw not in str(list(r.cookies.values()))

    page = web.get("/keys").content.decode()
    assert raw not in page and f"{key.prefix}…" in page and "production server" in page
    assert web.get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert "just now" in web.get("/keys").content.decode()


def test_a_key_needs_a_name(web, account):
    before = account.api_keys.count()
    r = web.post("/keys", {"name": ""})
    assert r.status_code == 400 and b"This field is required." in r.content
    assert account.api_keys.count() == before


def test_a_revoked_key_is_refused_by_the_api(web, account):
    key = account.api_keys.get()
    r = web.post(f"/keys/{key.id}/revoke", follow=True)
    assert b"the API refuses it from now on" in r.content
    key.refresh_from_db()
    assert not key.is_active and key.revoked_at is not None
    refused = web.get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert refused.status_code == 403 and refused.json()["error"] == "This API key has been revoked."
    assert b"Revoked" in web.get("/keys").content
    assert b"was revoked already" in web.post(f"/keys/{key.id}/revoke", follow=True).content


def test_another_accounts_key_cannot_be_revoked(web, other_account):
    theirs = other_account.api_keys.get()
    assert web.post(f"/keys/{theirs.id}/revoke").status_code == 404
    assert web.get(f"/keys/{theirs.id}/revoke").status_code == 405
    theirs.refresh_from_db()
    assert theirs.is_active
    assert theirs.prefix not in web.get("/keys").content.decode()
