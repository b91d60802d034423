"""Links into the web app that are handed out of band (printed by create_account, mailed by
the password reset)."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from jobs import public_url


def set_password_url(user, base_url: str = "") -> str:
    """A link that lets `user` choose a password, once (the token is void once the password
    changes) and for PASSWORD_RESET_TIMEOUT seconds."""
    base = (base_url or public_url.out_of_band()).rstrip("/")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base + reverse("web:password-reset-confirm", kwargs={"uidb64": uid, "token": token})
