"""The Django admin's site, with the customers' sign-in throttle on its login (one throttle,
jobs/sign_in.py, two faces) and a log-out that lands back on the admin's own login page,
not on the customers' sign-in (LOGOUT_REDIRECT_URL)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import LogoutView
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from jobs import sign_in
from jobs.errors import RateLimited


class OperatorsAdminSite(admin.AdminSite):
    login_template = "admin/upscaler_login.html"
    # The app list beside every page took 275 px the list tables need (at 1400 px their
    # last columns scrolled out of sight); the breadcrumbs and the index lead everywhere.
    enable_nav_sidebar = False

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        """Every POST is counted before its password is checked; past a limit the answer is
        a 429 with the login form, whatever the password."""
        if request.method != "POST":
            return super().login(request, extra_context)
        username = request.POST.get("username", "").strip().lower()
        try:
            attempt = sign_in.begin(
                username, sign_in.client_ip(request.META), request.COOKIES.get(sign_in.DEVICE_COOKIE, "")
            )
        except RateLimited as exc:
            throttled = self._throttled(request, exc)
            throttled["Retry-After"] = str(exc.retry_after)
            return throttled
        response = super().login(request, extra_context)
        if request.user.is_authenticated and self.has_permission(request) and response.status_code == 302:
            response.set_cookie(
                sign_in.DEVICE_COOKIE,
                attempt.succeeded(),
                max_age=sign_in.DEVICE_TOKEN_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def _throttled(self, request, exc: RateLimited) -> TemplateResponse:
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": "",
            "form": AdminAuthenticationForm(request),
            "throttled": exc.message,
            REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name),
        }
        request.current_app = self.name
        return TemplateResponse(request, self.login_template, context, status=429)

    def logout(self, request, extra_context=None):
        request.current_app = self.name
        return LogoutView.as_view(
            next_page=reverse("admin:login", current_app=self.name),
            extra_context={**self.each_context(request), "has_permission": False, **(extra_context or {})},
        )(request)
