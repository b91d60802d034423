"""What the vendors' own clients call besides upscaling (issue 22, items 20 and 21): APIXO's
`GET /api/v1/apikeys/current-balance` (its MCP server's apixo_get_balance) in APIXO's
envelope, and Ximilar's user details (`get_user_details()` of ximilar-client, `GET
/account/v2/user/`) in Ximilar's shape, each with the account's credits, against a live
server."""

from __future__ import annotations

import pytest
import requests

from billing import ledger
from tests import apixo, ximilar
from tests.conftest import make_owner

pytestmark = pytest.mark.django_db(transaction=True)

BALANCE = "/api/v1/apikeys/current-balance"


def test_apixo_current_balance_is_the_accounts_credits_in_the_envelope(live_server, account):
    r = requests.get(live_server.url + BALANCE, headers=apixo.headers(account.raw_key), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 200, "message": "success", "data": 100}
    ledger.top_up(account, 25)
    assert (
        requests.get(live_server.url + BALANCE, headers=apixo.headers(account.raw_key), timeout=30).json()["data"]
        == 125
    )


def test_apixo_current_balance_refuses_a_missing_or_unknown_key_in_the_envelope(live_server, account):
    for key, message in [(None, "Missing API key"), ("upk_wrong", "Unknown API key.")]:
        r = requests.get(live_server.url + BALANCE, headers=apixo.headers(key), timeout=30)
        answer = r.json()
        assert r.status_code == answer["code"] == 401 and answer["data"] is None
        assert answer["message"].startswith(message)


def test_ximilar_clients_get_user_details(live_server, account):
    make_owner(account, "ana@acme.example")
    details = ximilar.client(live_server.url, account.raw_key).get_user_details()
    assert details == {
        "id": str(account.pk),
        "email": "ana@acme.example",
        "first_name": "",
        "last_name": "",
        "stats": {"credits_counter": 100},
    }
    # Ximilar's documented path answers the same; without a trailing slash too.
    for path in ("/account/v2/details/", "/account/v2/user"):
        r = requests.get(live_server.url + path, headers={"Authorization": f"Token {account.raw_key}"}, timeout=30)
        assert r.status_code == 200 and r.json() == details


def test_ximilar_user_details_refuse_an_unknown_key_in_ximilars_shape(live_server, account):
    answer = ximilar.client(live_server.url, "upk_wrong").get_user_details()
    assert answer["status"]["code"] == 401 and "Unknown API key" in answer["status"]["error_description"]
