"""The operators' view of accounts, API keys and the ledger.

Credits move only through billing.ledger (top-ups here), so balances and ledger rows are
read-only in the admin and ledger rows can never be deleted. A new API key is shown once,
on the page after it is created; only its hash is stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from billing import ledger
from billing.models import Account, ApiKey, LedgerEntry, Owner
from jobs.operators.admin_mixins import ReadOnlyAdminMixin

LEDGER_INLINE_ROWS = 50


class RecentLedgerFormSet(forms.BaseInlineFormSet):
    def get_queryset(self):
        # Only the latest rows: an old account can have thousands ("Full ledger" has all).
        return super().get_queryset()[:LEDGER_INLINE_ROWS]


class LedgerEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LedgerEntry
    formset = RecentLedgerFormSet
    fk_name = "account"
    extra = 0
    can_delete = False
    ordering = ("-id",)
    fields = readonly_fields = ("created_at", "kind", "amount", "balance_after", "job", "memo")
    verbose_name_plural = f"ledger (latest {LEDGER_INLINE_ROWS} entries)"


class ApiKeyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = readonly_fields = ("prefix", "name", "is_active", "created_at", "last_used_at", "revoked_at")
    show_change_link = True


class OwnerInline(admin.TabularInline):
    """The people who sign in to the web app for this account: link a user whose username
    is their email (create_account --email makes both)."""

    model = Owner
    extra = 0
    fields = ("user", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)


class TopUpForm(forms.Form):
    credits = forms.IntegerField(min_value=1, max_value=10**12, help_text="Whole credits to add to the balance.")
    memo = forms.CharField(
        max_length=150,
        required=True,
        help_text="Why (an invoice number, a goodwill credit...). Stored on the ledger entry with your user name.",
    )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "balance", "unfinished_jobs", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    readonly_fields = ("balance", "created_at")
    fields = ("name", "is_active", "balance", "created_at")
    inlines = [OwnerInline, ApiKeyInline, LedgerEntryInline]
    actions = ["top_up", "activate", "deactivate"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_unfinished=Count("jobs", filter=Q(jobs__status__in=["IN_QUEUE", "IN_PROGRESS"])))
        )

    def has_delete_permission(self, request, obj=None):
        return False  # accounts own ledger rows and jobs, which are kept for the record

    def has_top_up_permission(self, request):
        return request.user.has_perm("billing.add_ledgerentry") or request.user.is_superuser

    @admin.display(description="unfinished jobs", ordering="_unfinished")
    def unfinished_jobs(self, account) -> int:
        return account._unfinished

    def get_urls(self):
        return [
            path(
                "<int:account_id>/top-up/", self.admin_site.admin_view(self.top_up_view), name="billing_account_top_up"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_top_up": self.has_top_up_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def top_up_view(self, request, account_id: int):
        """An intermediate page: how many credits and why; then one ledger row."""
        if not self.has_top_up_permission(request):
            raise PermissionDenied
        account = get_object_or_404(Account, pk=account_id)
        form = TopUpForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            credits = form.cleaned_data["credits"]
            memo = f"{form.cleaned_data['memo']} (by {request.user.get_username()})"[:200]
            entry = ledger.top_up(account, credits, memo=memo)
            self.log_change(request, account, f"Topped up {credits} credits: {memo}")
            self.message_user(
                request,
                f"Added {credits} credits to {account}; the balance is now {entry.balance_after}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:billing_account_change", args=[account.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Top up {account}",
            "opts": self.model._meta,
            "account": account,
            "form": form,
        }
        return TemplateResponse(request, "admin/billing/account/top_up.html", context)

    @admin.action(description="Top up credits…", permissions=["top_up"])
    def top_up(self, request, queryset):
        accounts = list(queryset[:2])
        if len(accounts) != 1:
            self.message_user(request, "Select exactly one account to top up.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:billing_account_top_up", args=[accounts[0].pk]))

    @admin.action(description="Enable selected accounts", permissions=["change"])
    def activate(self, request, queryset):
        n = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"Enabled {n} account(s).", messages.SUCCESS)

    @admin.action(description="Disable selected accounts (their keys stop working)", permissions=["change"])
    def deactivate(self, request, queryset):
        n = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"Disabled {n} account(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "account", "is_active", "created_at", "last_used_at", "revoked_at")
    list_filter = ("is_active", "account")
    list_select_related = ("account",)
    search_fields = ("prefix", "name", "account__name")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "name")
        return ("account", "name", "prefix", "is_active", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("account", "prefix", "is_active", "created_at", "last_used_at", "revoked_at")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row records who had access and when

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = ApiKey.issue(obj.account, obj.name)
        # The admin goes on with `obj` (log entry, redirect): make it the issued row.
        obj.pk, obj.prefix, obj.key_hash = key.pk, key.prefix, key.key_hash
        obj.created_at = key.created_at
        obj._state.adding = False
        self.message_user(
            request,
            f"The new API key for {key.account} is {raw} — copy it now: it is shown only "
            "once and only its hash is stored.",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        n = queryset.filter(is_active=True).update(is_active=False, revoked_at=timezone.now())
        self.message_user(request, f"Revoked {n} API key(s).", messages.SUCCESS)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only ledger: viewable and filterable, never edited or deleted."""

    list_display = ("id", "created_at", "account", "kind", "amount", "balance_after", "job", "memo")
    list_filter = ("kind", "account", "created_at")
    list_select_related = ("account",)
    search_fields = ("memo", "account__name")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in LedgerEntry._meta.fields]
