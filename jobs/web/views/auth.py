"""Signing in and out, open sign-up (when SIGNUP_OPEN), and password reset by email."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from billing.owners import OwnerError, normalize_email
from jobs import sign_in
from jobs.errors import RateLimited
from jobs.web.forms import OwnerPasswordResetForm, SignInForm, SignUpForm
from jobs.web.pages import public_base_url


def _throttled(response, exc: RateLimited):
    response["Retry-After"] = str(exc.retry_after)
    return response


class SignInView(auth_views.LoginView):
    """`/`: a visitor gets the sign-in form; a signed-in owner goes to the playground."""

    template_name = "web/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_open": settings.SIGNUP_OPEN}

    def post(self, request, *args, **kwargs):
        """Counted (jobs/sign_in.py) before the password is checked: past a limit the
        answer is a 429, whatever the password."""
        email = normalize_email(request.POST.get("username", ""))
        try:
            self.attempt = sign_in.begin(
                email, sign_in.client_ip(request.META), request.COOKIES.get(sign_in.DEVICE_COOKIE, "")
            )
        except RateLimited as exc:
            form = self.authentication_form(request, initial={"username": email})
            context = self.get_context_data(form=form, throttled=exc.message)
            return _throttled(self.render_to_response(context, status=429), exc)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        remember_device(response, self.attempt.succeeded())
        return response


def remember_device(response, token: str) -> None:
    """The browser that signed in gets its device token (jobs/sign_in.py): the lockouts that
    hold back other browsers do not hold it back."""
    response.set_cookie(
        sign_in.DEVICE_COOKIE,
        token,
        max_age=sign_in.DEVICE_TOKEN_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def sign_up(request):
    if not settings.SIGNUP_OPEN:
        raise Http404("Sign-up is closed on this deployment.")
    if request.user.is_authenticated:
        return redirect("web:playground")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        try:
            sign_in.costly_request(sign_in.client_ip(request.META))
        except RateLimited as exc:
            return _throttled(
                render(request, "web/sign_up.html", {"form": form, "throttled": exc.message}, status=429), exc
            )
        if form.is_valid():
            try:
                created = form.save()
            except OwnerError as exc:
                form.add_error(None, str(exc))
            else:
                assert created.owner is not None  # sign-up always creates the owner
                login(request, created.owner.user, backend="django.contrib.auth.backends.ModelBackend")
                credits = settings.SIGNUP_CREDITS
                messages.success(
                    request,
                    f"Welcome! Your account {created.account.name} is ready"
                    + (f" with {credits} credits." if credits else "."),
                )
                return redirect("web:playground")
    return render(request, "web/sign_up.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "web/password_reset.html"
    email_template_name = "web/email/password_reset.txt"
    subject_template_name = "web/email/password_reset_subject.txt"
    form_class = OwnerPasswordResetForm
    success_url = reverse_lazy("web:password-reset-done")

    def post(self, request, *args, **kwargs):
        try:
            sign_in.costly_request(sign_in.client_ip(request.META))
        except RateLimited as exc:
            context = self.get_context_data(form=self.get_form(), throttled=exc.message)
            return _throttled(self.render_to_response(context, status=429), exc)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # Links point where the owner reaches the app (PUBLIC_BASE_URL when set).
        self.extra_email_context = {"base_url": public_base_url(self.request)}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_done.html"


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The link from the reset email (or from create_account): choose a password, then you
    are signed in."""

    template_name = "web/password_set.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("web:playground")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set, and you are signed in.")
        return response
