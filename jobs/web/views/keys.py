"""API keys: create one with a name (the key is on the page that answers the create, once,
and never stored), see when each was last used, revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from billing.models import ApiKey
from jobs.web.access import owner_required
from jobs.web.forms import ApiKeyForm
from jobs.web.pages import page, public_base_url


@owner_required
def keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            key, raw = ApiKey.issue(request.account, name=form.cleaned_data["name"])
            # Shown in this answer only (never_cache): not in a message, a cookie or a log.
            new_key = {"key": key, "raw": raw}
            form = ApiKeyForm()
        else:
            status = 400
    context = {
        "form": form,
        "new_key": new_key,
        "keys": request.account.api_keys.order_by("-is_active", "-created_at"),
        "api_base": public_base_url(request) + "/api/v1",
    }
    return page(request, "web/keys.html", context, active="keys", status=status)


@require_POST
@owner_required
def revoke(request, key_id: int):
    key = get_object_or_404(ApiKey, pk=key_id, account=request.account)
    label = key.name or key.prefix
    if key.revoke():
        messages.success(request, f"Revoked {label} ({key.prefix}…): the API refuses it from now on.")
    else:
        messages.info(request, f"{label} was revoked already.")
    return redirect("web:keys")
