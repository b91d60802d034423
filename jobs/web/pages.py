"""Rendering a signed-in page: the layout needs the account (its name and balance) and which
section of the navigation is open."""

from __future__ import annotations

from django.shortcuts import render

from jobs import public_url

NAV = [
    ("playground", "Playground", "web:playground"),
    ("jobs", "Jobs", "web:jobs"),
    ("keys", "API keys", "web:keys"),
    ("webhooks", "Webhooks", "web:webhooks"),
    ("credits", "Credits", "web:credits"),
]


def page(request, template: str, context: dict | None = None, *, active: str, status: int = 200):
    account = request.account
    account.refresh_from_db(fields=["balance"])
    return render(
        request,
        template,
        {"account": account, "nav": NAV, "active": active, **(context or {})},
        status=status,
    )


def request_base_url(request) -> str:
    """scheme://host as the browser reached us (what the API answers would use too)."""
    return public_url.of_request(request)


def public_base_url(request) -> str:
    return public_url.for_request(request)


def rate_key(account) -> str:
    """The web app counts against the API's rate-limit windows per account (the API counts
    per key), under a name no key id can take."""
    return f"web-{account.pk}"
