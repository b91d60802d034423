"""Webhooks: the signing secret (revealed on request, rotated with a grace period), a test
event sent through the webhook delivery and its SSRF guard, and the recent deliveries."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from jobs import ratelimit, webhooks
from jobs.errors import RateLimited
from jobs.models import WebhookDelivery
from jobs.web.access import owner_required
from jobs.web.forms import TestWebhookForm
from jobs.web.pages import page, rate_key

RECENT = 20


def _render(request, *, form=None, secret: str = "", test=None, status: int = 200):
    account = request.account
    deliveries = (
        WebhookDelivery.objects.filter(Q(job__account=account) | Q(account=account))
        .select_related("job")
        .order_by("-created_at", "-id")[:RECENT]
    )
    context = {
        "form": form or TestWebhookForm(),
        "secret": secret,
        "previous_valid_until": account.previous_webhook_secret_expires_at
        if len(account.valid_webhook_secrets()) > 1
        else None,
        "test": test,
        "deliveries": deliveries,
    }
    return page(request, "web/webhooks.html", context, active="webhooks", status=status)


@owner_required
def overview(request):
    return _render(request)


@require_POST
@owner_required
def secret(request):
    """`action=reveal` shows the secret in this answer only; `action=rotate` makes a new one
    (the previous stays valid 24 hours, and webhooks carry both signatures meanwhile)."""
    account = request.account
    account.refresh_from_db()
    if request.POST.get("action") == "rotate":
        value = account.rotate_webhook_secret()
        messages.success(
            request,
            "A new signing secret is in use. The previous one stays valid for 24 hours: switch over before then.",
        )
        return _render(request, secret=value)
    return _render(request, secret=account.webhook_secret)


@require_POST
@owner_required
def test(request):
    form = TestWebhookForm(request.POST)
    if not form.is_valid():
        return _render(request, form=form, status=400)
    try:
        ratelimit.check(rate_key(request.account), "submit")
    except RateLimited as exc:
        messages.error(request, f"Too many requests; try again in {exc.retry_after} seconds.")
        return redirect("web:webhooks")
    delivery = webhooks.send_test_event(request.account, form.cleaned_data["url"])
    return _render(request, form=form, test=delivery)
