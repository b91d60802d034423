"""Credits: the balance, the ledger with the balance after each entry, credits spent per day
(drawn by the page's own script), and the whole ledger as CSV."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.utils import timezone

from billing.models import LedgerEntry
from jobs.operators.dashboard import credits_per_day
from jobs.timestamps import iso
from jobs.web.access import owner_required
from jobs.web.pages import page

PAGE_SIZE = 50
CHART_DAYS = 30


@owner_required
def overview(request):
    account = request.account
    entries = LedgerEntry.objects.filter(account=account).select_related("job").order_by("-id")
    listed = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    spend = credits_per_day(timezone.now(), days=CHART_DAYS, account_id=account.pk)
    context = {
        "page_obj": listed,
        "spend": spend,
        "spent_total": sum(spend["spent"]),
        "jobs_charged": entries.filter(kind=LedgerEntry.Kind.DEBIT, created_at__date__gte=spend["days"][0]).count(),
        "chart_days": CHART_DAYS,
    }
    return page(request, "web/credits.html", context, active="credits")


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    """Text cells that a spreadsheet would run as a formula are quoted (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@owner_required
def export(request):
    account = request.account
    writer = csv.writer(_Echo())
    entries = LedgerEntry.objects.filter(account=account).order_by("id")

    def rows():
        yield writer.writerow(["date", "kind", "amount", "balance_after", "job", "memo"])
        for entry in entries.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    iso(entry.created_at, "seconds"),
                    entry.kind,
                    entry.amount,
                    entry.balance_after,
                    entry.job_id or "",
                    _cell(entry.memo),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="credits-{account.pk}-{stamp}.csv"'
    return response
