"""The credits page: balance, the ledger with the balance after each entry, spend per day
for the chart, and the CSV export; only this account's entries."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from billing import ledger
from jobs.models import Job
from tests.test_admin_actions import make_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]


def test_it_shows_the_ledger_with_running_balances(web, account, other_account):
    make_job(account, cost=3)
    make_job(account, Job.Status.FAILED, cost=2, error="x")
    make_job(other_account, cost=7)
    r = web.get("/credits")
    entries = list(r.context["page_obj"].object_list)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("refund", 2, 97),
        ("debit", -2, 95),
        ("debit", -3, 97),
        ("topup", 100, 100),
    ]
    page = r.content.decode()
    assert 'id="credit-balance">97<' in page
    assert "+100" in page and "−3" in page


def test_the_chart_data_is_this_accounts_spend_per_day(web, account, other_account):
    make_job(account, cost=3)
    make_job(account, Job.Status.CANCELED, cost=5)
    make_job(other_account, cost=7)
    page = web.get("/credits").content.decode()
    data = json.loads(re.search(r'<script id="spend-data" type="application/json">(.*?)</script>', page).group(1))
    assert len(data["days"]) == 30 and data["spent"][-1] == 3 and sum(data["spent"]) == 3
    assert data["charged"][-1] == 8 and data["refunded"][-1] == 5
    assert 'id="spent-total">3<' in page


def test_the_csv_export_has_every_entry_and_quotes_formulas(web, account, other_account):
    make_job(account, cost=3)
    ledger.top_up(account, 5, memo='=HYPERLINK("http://evil")')
    make_job(other_account, cost=7)
    r = web.get("/credits.csv")
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"].startswith(f'attachment; filename="credits-{account.pk}-')
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0] == ["date", "kind", "amount", "balance_after", "job", "memo"]
    assert [(row[1], row[2], row[3]) for row in rows[1:]] == [
        ("topup", "100", "100"),
        ("debit", "-3", "97"),
        ("topup", "5", "102"),
    ]
    assert rows[3][5] == '\'=HYPERLINK("http://evil")'
    assert rows[1][0].endswith("Z")
