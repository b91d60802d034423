"""Who may see a page: a signed-in owner of an active account. Views take the account from
`request.account` and look up every object through it, so another account's id is a 404."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from billing.owners import account_of


def _owner(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        account = account_of(request.user)
        if account is None:
            return render(request, "web/no_account.html", {"reason": "no-account"}, status=403)
        if not account.is_active:
            return render(request, "web/no_account.html", {"reason": "disabled", "account": account}, status=403)
        request.account = account
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def owner_required(view):
    """Signed in (else redirected to the sign-in page), and owner of an active account (else
    a page that says why). Never cached: the pages hold the account's data, some a secret."""
    return never_cache(_owner(view))


def owner_file(view):
    """As owner_required, for a job's files (the input, thumbnails): the browser may keep
    them privately, as they never change."""
    return _owner(view)
