"""Every page of the web app: who may see it (anonymous visitors are sent to sign in; a
login that owns no account, or a disabled one, is told why) and what an account with
nothing yet sees (an empty state that says what to do)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from billing.models import Account
from tests.conftest import make_owner

pytestmark = pytest.mark.django_db

PAGES = ["/playground", "/jobs", "/keys", "/webhooks", "/credits", "/credits.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_it_sends_anonymous_visitors_to_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r["Location"] == f"/?next={path}"


def test_the_root_is_the_sign_in_form_and_sends_owners_to_the_playground(client, owner):
    r = client.get("/")
    assert r.status_code == 200
    assert b'name="username"' in r.content and b'name="password"' in r.content
    client.force_login(owner)
    r = client.get("/")
    assert r.status_code == 302 and r["Location"] == "/playground"


@pytest.mark.parametrize("path", PAGES)
def test_a_login_without_an_account_is_told_why(client, path):
    client.force_login(get_user_model().objects.create_user("ops", "ops@example.com", "x"))
    r = client.get(path)
    assert r.status_code == 403
    assert b"No account for this login" in r.content


def test_a_disabled_account_is_refused(web, account):
    Account.objects.filter(pk=account.pk).update(is_active=False)
    r = web.get("/playground")
    assert r.status_code == 403
    assert b"This account is disabled" in r.content


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/jobs", b'id="empty-jobs"'),
        ("/keys", b'id="empty-keys"'),
        ("/webhooks", b'id="empty-deliveries"'),
        ("/credits", b'id="empty-ledger"'),
        ("/playground", b'id="result-empty"'),
    ],
)
def test_each_page_has_an_empty_state(client, path, marker):
    # A new account: no jobs, keys, deliveries or ledger entries.
    client.force_login(make_owner(Account.objects.create(name="fresh"), "fresh@example.com"))
    r = client.get(path)
    assert r.status_code == 200, r.content[:500]
    assert marker in r.content


@pytest.mark.parametrize("path", ["/playground", "/jobs", "/keys", "/webhooks", "/credits"])
def test_pages_are_never_cached_and_show_the_account(web, account, path):
    r = web.get(path)
    assert "no-store" in r["Cache-Control"]
    assert account.name.encode() in r.content
    assert b"100 credits" in r.content
    assert b'aria-current="page"' in r.content
