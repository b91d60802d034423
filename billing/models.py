"""Accounts, API keys and the append-only credits ledger."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

KEY_PREFIX = "upk_"


def hash_key(raw_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Account(models.Model):
    NAME_MAX_LENGTH = 100
    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    is_active = models.BooleanField(default=True)
    # Cached sum of the ledger, updated in the same transaction as each ledger row; the
    # conditional decrement on it is what makes debits race-free.
    balance = models.BigIntegerField(default=0)
    # Standard Webhooks signing secret. After a rotation the previous one stays valid
    # (both signatures are sent) until previous_webhook_secret_expires_at.
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    previous_webhook_secret = models.CharField(max_length=64, blank=True, default="", editable=False)
    previous_webhook_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    # The API authenticates accounts, not Django users; DRF's permission check reads this.
    is_authenticated = True

    def valid_webhook_secrets(self) -> list[str]:
        secrets_ = [self.webhook_secret]
        expires = self.previous_webhook_secret_expires_at
        if self.previous_webhook_secret and expires and expires > timezone.now():
            secrets_.append(self.previous_webhook_secret)
        return secrets_

    def rotate_webhook_secret(self, grace: timedelta = timedelta(hours=24)) -> str:
        self.previous_webhook_secret = self.webhook_secret
        self.previous_webhook_secret_expires_at = timezone.now() + grace
        self.webhook_secret = new_webhook_secret()
        self.save(update_fields=["webhook_secret", "previous_webhook_secret", "previous_webhook_secret_expires_at"])
        return self.webhook_secret

    def ledger_sum(self) -> int:
        return self.ledger.aggregate(total=Sum("amount"))["total"] or 0


class Owner(models.Model):
    """A person who signs in to the web app for an account: a Django user (whose username is
    their email) linked to one account. An account may have several owners."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owner")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="owners")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "account owner"

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.account.name})"


class ApiKey(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a key")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account.name})"

    @classmethod
    def issue(cls, account: Account, name: str = "") -> tuple[ApiKey, str]:
        """Create a key; the raw key is returned once and never stored."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(account=account, name=name, prefix=raw[:12], key_hash=hash_key(raw))
        return key, raw

    def revoke(self) -> bool:
        """Refuse the key from now on; False if it was revoked already."""
        revoked = ApiKey.objects.filter(pk=self.pk, is_active=True).update(is_active=False, revoked_at=timezone.now())
        self.refresh_from_db(fields=["is_active", "revoked_at"])
        return bool(revoked)


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        DEBIT = "debit", "Job charge"
        REFUND = "refund", "Job refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger")
    amount = models.BigIntegerField(help_text="Credits: positive adds, negative spends")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    memo = models.CharField(max_length=200, blank=True, default="")
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-id"]
        constraints = [
            # A job is charged once and refunded at most once, whatever retries happen.
            models.UniqueConstraint(
                fields=["job", "kind"],
                condition=Q(kind__in=["debit", "refund"]),
                name="ledger_one_debit_one_refund_per_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.kind} ({self.account.name})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("The ledger is append-only: entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The ledger is append-only: entries are never deleted")
