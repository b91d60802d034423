"""Account owners: the people who sign in to the web app for an account.

An owner is a Django user whose username is their email (lower-cased), linked to one
account by billing.models.Owner. Accounts are created here for both create_account and the
web app's open sign-up, so both give the same account: its ledger's first top-up, and an
API key when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from billing import ledger
from billing.models import Account, ApiKey, Owner


class OwnerError(ValueError):
    """The account or owner cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class NewAccount:
    account: Account
    owner: Owner | None
    raw_key: str | None  # shown once, never stored


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def check_new_account(name: str, email: str = "") -> None:
    """Refuse a taken account name, or an owner email that is invalid or taken."""
    if not name.strip():
        raise OwnerError("The account name is empty.")
    if len(name) > Account.NAME_MAX_LENGTH:
        raise OwnerError("The account name is longer than 100 characters.")
    if Account.objects.filter(name=name).exists():
        raise OwnerError(f"An account named {name!r} exists already.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise OwnerError(f"{email!r} is not a valid email address.") from None
        if get_user_model().objects.filter(username__iexact=normalize_email(email)).exists():
            raise OwnerError(f"A login for {normalize_email(email)} exists already.")


def create_account(
    name: str,
    *,
    credits: int = 0,
    email: str = "",
    password: str | None = None,
    issue_key: bool = True,
    memo: str = "Initial credits",
) -> NewAccount:
    """An account with its starting credits, an owner login when `email` is given (without a
    usable password when `password` is None: the owner sets it by link) and an API key.
    Raises OwnerError."""
    if credits < 0:
        raise OwnerError("The starting credits must be zero or more.")
    check_new_account(name, email)
    try:
        with transaction.atomic():
            account = Account.objects.create(name=name)
            if credits:
                ledger.top_up(account, credits, memo=memo)
            owner = add_owner(account, email, password) if email else None
            raw_key = ApiKey.issue(account, name="created by create_account")[1] if issue_key else None
    except IntegrityError:
        # A concurrent request took the name or the email between the check and the insert.
        raise OwnerError("That account name or email was just taken; choose another.") from None
    return NewAccount(account, owner, raw_key)


def add_owner(account: Account, email: str, password: str | None = None) -> Owner:
    email = normalize_email(email)
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return Owner.objects.create(user=user, account=account)


def account_of(user) -> Account | None:
    """The account a signed-in user owns, or None (operators without an account)."""
    if not getattr(user, "is_authenticated", False):
        return None
    owner = Owner.objects.select_related("account").filter(user=user).first()
    return owner.account if owner else None
