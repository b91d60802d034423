from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from billing.models import Account, ApiKey, hash_key

pytestmark = pytest.mark.django_db


def test_it_creates_an_account_and_prints_the_key_last():
    out = io.StringIO()
    call_command("create_account", "studio", "--credits", "50", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    account = Account.objects.get(name="studio")
    assert account.balance == 50 == account.ledger_sum()
    stored = ApiKey.objects.get(account=account)
    assert stored.key_hash == hash_key(key) and key not in (stored.key_hash, stored.prefix)


def test_it_adds_credits_with_a_ledger_row():
    call_command("create_account", "studio", stdout=io.StringIO())
    call_command("add_credits", "studio", "25", stdout=io.StringIO())
    account = Account.objects.get(name="studio")
    assert account.balance == 25 == account.ledger_sum()
    assert account.ledger.get().kind == "topup"


def test_it_refuses_bad_top_ups():
    with pytest.raises(CommandError):
        call_command("add_credits", "nobody", "5")
    call_command("create_account", "studio", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("add_credits", "studio", "-5")


def test_it_creates_the_owners_login_with_the_password_from_the_environment(monkeypatch):
    from django.contrib.auth import authenticate

    monkeypatch.setenv("ACCOUNT_PASSWORD", "a-long-unusual-passphrase")
    out = io.StringIO()
    call_command("create_account", "studio", "--credits", "5", "--email", "Ana@Studio.example", stdout=out)
    lines = out.getvalue().strip().splitlines()
    account = Account.objects.get(name="studio")
    assert ApiKey.objects.get(account=account).key_hash == hash_key(lines[-1])
    assert "Owner login: ana@studio.example (password from ACCOUNT_PASSWORD)." in lines
    user = authenticate(username="ana@studio.example", password="a-long-unusual-passphrase")
    assert user is not None and user.owner.account == account
    assert "a-long-unusual-passphrase" not in out.getvalue()


def test_without_a_password_it_prints_a_one_time_link_to_set_one(client, monkeypatch, settings):
    monkeypatch.delenv("ACCOUNT_PASSWORD", raising=False)
    settings.PUBLIC_BASE_URL = "https://app.example.com"
    out = io.StringIO()
    call_command("create_account", "studio", "--email", "ana@studio.example", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[-1].startswith("upk_")
    [line] = [line for line in lines if line.startswith("Owner login:")]
    link = line.rsplit(" ", 1)[-1]
    assert link.startswith("https://app.example.com/password/")
    user = Account.objects.get(name="studio").owners.get().user
    assert not user.has_usable_password()

    r = client.get(link.removeprefix("https://app.example.com"), follow=True)
    assert b"Choose a password" in r.content
    new = "another-long-passphrase-9"
    client.post(r.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    user.refresh_from_db()
    assert user.check_password(new)
    assert b"This link has expired" in client.get(link.removeprefix("https://app.example.com"), follow=True).content


def test_it_refuses_a_taken_email_a_weak_password_or_a_password_without_email(monkeypatch):
    call_command("create_account", "one", "--email", "ana@studio.example", stdout=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_account", "two", "--email", "ANA@studio.example", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a valid email"):
        call_command("create_account", "three", "--email", "nope", stdout=io.StringIO())
    monkeypatch.setenv("ACCOUNT_PASSWORD", "short")
    with pytest.raises(CommandError, match="ACCOUNT_PASSWORD: This password is too short"):
        call_command("create_account", "four", "--email", "b@studio.example", stdout=io.StringIO())
    monkeypatch.setenv("ACCOUNT_PASSWORD", "a-long-unusual-passphrase")
    with pytest.raises(CommandError, match="--email is not"):
        call_command("create_account", "five", stdout=io.StringIO())
    assert set(Account.objects.values_list("name", flat=True)) == {"one"}
