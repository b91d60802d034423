"""API key authentication: `Authorization: Bearer <key>` (or `Token <key>`)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from billing.models import ApiKey, hash_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # -> 401 from the permission check
        scheme, _, raw_key = header.partition(" ")
        raw_key = raw_key.strip()
        if scheme.lower() not in self.keywords or not raw_key:
            raise exceptions.AuthenticationFailed("Send the API key as 'Authorization: Bearer <key>'.")
        try:
            key = ApiKey.objects.select_related("account").get(key_hash=hash_key(raw_key))
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown API key.") from None
        if not key.is_active:
            raise exceptions.PermissionDenied("This API key has been revoked.")
        if not key.account.is_active:
            raise exceptions.PermissionDenied("This account is disabled.")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.account, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
