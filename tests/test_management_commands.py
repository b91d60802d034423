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
