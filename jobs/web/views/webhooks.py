"""Webhooks: the signing secret (revealed on request, rotated with a grace period), a test
event sent by a worker through the webhook delivery and its SSRF guard (the page shows its
outcome when it arrives), and the recent deliveries."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jobs import ratelimit, tasks, webhooks
from jobs.errors import RateLimited
from jobs.models import WebhookDelivery
from jobs.web.access import owner_required
from jobs.web.forms import TestWebhookForm
from jobs.web.pages import page, rate_key

RECENT = 20


def _render(request, *, form=None, secret: str = "", test=None, status: int = 200, throttled: str = ""):
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
        "throttled": throttled,
        "test_timeout": settings.WEBHOOK_TIMEOUT_SECONDS,
        "deliveries": deliveries,
    }
    return page(request, "web/webhooks.html", context, active="webhooks", status=status)


def _test_event(request, delivery_id) -> WebhookDelivery:
    return get_object_or_404(WebhookDelivery, pk=delivery_id, account=request.account, event=WebhookDelivery.Event.TEST)


@owner_required
def overview(request):
    """`?test=<id>`: the outcome of that test event, or that it is still being sent."""
    test_id = request.GET.get("test", "")
    test = _test_event(request, test_id) if test_id.isdigit() else None
    return _render(request, test=test, form=TestWebhookForm(initial={"url": test.url}) if test else None)


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
    """Queue a test event (a worker sends it) and show the page that waits for its outcome.
    One at a time per account, and WEBHOOK_TESTS_PER_MINUTE a minute."""
    form = TestWebhookForm(request.POST)
    if not form.is_valid():
        return _render(request, form=form, status=400)
    account = request.account
    pending = webhooks.pending_test_event(account)
    if pending is not None:
        response = _render(
            request,
            form=form,
            test=pending,
            status=429,
            throttled="A test event is still being sent: its outcome appears here when it arrives. "
            "Send the next one after that.",
        )
        response["Retry-After"] = str(int(settings.WEBHOOK_TIMEOUT_SECONDS))
        return response
    try:
        ratelimit.check(rate_key(account), "webhook-test", [ratelimit.Window(settings.WEBHOOK_TESTS_PER_MINUTE, 60)])
    except RateLimited as exc:
        response = _render(
            request,
            form=form,
            status=429,
            throttled=f"At most {settings.WEBHOOK_TESTS_PER_MINUTE} test events a minute: "
            f"try again in {exc.retry_after} seconds.",
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    record = tasks.queue_test_event(account, form.cleaned_data["url"])
    return redirect(f"{reverse('web:webhooks')}?test={record.pk}")


@require_GET
@owner_required
def test_status(request, delivery_id: int):
    """Polled by the page while a test event is being sent: whether its outcome is in."""
    record = _test_event(request, delivery_id)
    return JsonResponse({"done": record.completed_at is not None, "succeeded": record.succeeded})
