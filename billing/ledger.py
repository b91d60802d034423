"""Every credit movement goes through here: one ledger row per movement, balance updated in
the same transaction, so an account's balance always equals the sum of its ledger."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.errors import InsufficientCredits
from billing.models import Account, LedgerEntry

__all__ = ["InsufficientCredits", "debit_for_job", "refund_job", "top_up"]


def _move(account_id: int, amount: int, kind: str, *, job=None, memo: str = "") -> LedgerEntry:
    Account.objects.filter(pk=account_id).update(balance=F("balance") + amount)
    balance = Account.objects.values_list("balance", flat=True).get(pk=account_id)
    return LedgerEntry.objects.create(
        account_id=account_id, amount=amount, kind=kind, job=job, memo=memo, balance_after=balance
    )


def top_up(account: Account, credits: int, memo: str = "", kind: str = LedgerEntry.Kind.TOPUP):
    if credits <= 0 and kind == LedgerEntry.Kind.TOPUP:
        raise ValueError("A top-up must add a positive number of credits")
    with transaction.atomic():
        return _move(account.pk, credits, kind, memo=memo)


def debit_for_job(account_id: int, job, cost: int) -> LedgerEntry:
    """Charge a job. Call inside the transaction that creates the job.

    The conditional UPDATE is the race guard: on PostgreSQL a concurrent debit waits for the
    row lock and re-checks `balance >= cost`, so two submits cannot both spend the last
    credits and the balance never goes negative.
    """
    charged = Account.objects.filter(pk=account_id, balance__gte=cost).update(balance=F("balance") - cost)
    if not charged:
        balance = Account.objects.values_list("balance", flat=True).get(pk=account_id)
        raise InsufficientCredits(cost, balance)
    balance = Account.objects.values_list("balance", flat=True).get(pk=account_id)
    return LedgerEntry.objects.create(
        account_id=account_id,
        amount=-cost,
        kind=LedgerEntry.Kind.DEBIT,
        job=job,
        memo=f"{job.mode} job",
        balance_after=balance,
    )


def refund_job(job, reason: str = "") -> bool:
    """Give a job's charge back, exactly once. Returns False if it was refunded already."""
    if not job.credit_cost:
        return False
    try:
        with transaction.atomic():
            _move(job.account_id, job.credit_cost, LedgerEntry.Kind.REFUND, job=job, memo=reason[:200])
    except IntegrityError:
        # The unique (job, refund) constraint: another process refunded it first.
        return False
    return True
