"""Billing's refusals. `Refusal` is the base of every domain error (jobs.errors re-exports
it as `DomainError`): it lives here, in the lower package, so billing raises domain errors
without importing jobs."""

from __future__ import annotations


class Refusal(Exception):
    """Base of every refusal. `field` names the input at fault, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InsufficientCredits(Refusal):
    def __init__(self, cost: int, balance: int):
        self.cost = cost
        self.balance = balance
        super().__init__(f"Insufficient credits: this job costs {cost} credits and the balance is {balance}.")
