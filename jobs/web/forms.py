"""The web app's forms. The playground's input is validated by the API's serializers, so a
value the API refuses is refused here with the same words; the Django forms below are for
the pages' own fields (sign-in, sign-up, keys, webhooks, filters)."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model, password_validation

from billing import owners
from jobs.api.serializers import INPUT_SERIALIZERS
from jobs.errors import DomainError, InsufficientCredits, InvalidRequest, flatten_errors
from jobs.models import Batch, Job
from jobs.submission import clean_webhook
from jobs.web import options

EMAIL_WIDGET = forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True, "placeholder": "you@company.com"})


class SignInForm(auth_forms.AuthenticationForm):
    """Django's sign-in form; the username is the owner's email."""

    username = auth_forms.UsernameField(label="Email", max_length=254, widget=EMAIL_WIDGET)

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Check both and try again.",
    }

    def clean_username(self) -> str:
        return owners.normalize_email(self.cleaned_data.get("username", ""))


class SignUpForm(forms.Form):
    account = forms.CharField(
        label="Company or project", max_length=100, help_text="The name of your account; your team sees it."
    )
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common password.",
    )

    def clean_email(self) -> str:
        email = owners.normalize_email(self.cleaned_data["email"])
        if get_user_model().objects.filter(username__iexact=email).exists():
            raise forms.ValidationError("A login for this email exists already: sign in, or reset its password.")
        return email

    def clean_account(self) -> str:
        name = self.cleaned_data["account"].strip()
        try:
            owners.check_new_account(name)
        except owners.OwnerError as exc:
            raise forms.ValidationError(str(exc)) from None
        return name

    def clean(self):
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            user = get_user_model()(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

    def save(self) -> owners.NewAccount:
        data = self.cleaned_data
        return owners.create_account(
            data["account"],
            credits=settings.SIGNUP_CREDITS,
            email=data["email"],
            password=data["password"],
            issue_key=False,
            memo="Sign-up credits",
        )


class OwnerPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, which also reaches owners who never set a password (created by
    create_account without ACCOUNT_PASSWORD): the link is how they set one."""

    email = forms.EmailField(label="Email", max_length=254, widget=EMAIL_WIDGET)

    def get_users(self, email):
        users = get_user_model()._default_manager.filter(email__iexact=owners.normalize_email(email), is_active=True)
        return (user for user in users if user.has_usable_password() or hasattr(user, "owner"))


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. production server", "autocomplete": "off"}),
        help_text="So you can tell your keys apart.",
    )


class TestWebhookForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/upscaler", "autocomplete": "off"}),
    )

    def clean_url(self) -> str:
        try:
            return clean_webhook(self.cleaned_data["url"], field="The URL")
        except InvalidRequest as exc:
            raise forms.ValidationError(exc.message) from None


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Job.Status.choices], required=False)
    mode = forms.ChoiceField(choices=[("", "Any mode"), *Job.Mode.choices], required=False)
    surface = forms.ChoiceField(choices=[("", "Any surface"), *Job.Surface.choices], required=False)
    batch = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def filter(self, jobs, account):
        """`jobs` narrowed by the valid filters; an invalid one is ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        for name in ("status", "mode", "surface"):
            if data.get(name):
                jobs = jobs.filter(**{name: data[name]})
        self.batch_obj = None
        if data.get("batch"):
            self.batch_obj = Batch.objects.filter(pk=data["batch"], account=account).first()
            jobs = jobs.filter(batch=self.batch_obj) if self.batch_obj else jobs.none()
        return jobs


# The API's camelCase field names, in a message the page shows, as the page labels those
# fields (the one-word ones, "model", "detail", read as words already).
_PAGE_NAMES = {
    **{name: label for name, (label, _) in options.LABELS.items() if name != name.lower()},
    "imageUrl": "The image URL",
    "imageBase64": "The image",
}
_API_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, _PAGE_NAMES)) + r")\b")


def in_words(message: str) -> str:
    """ "upscaleFactor must be a number from 1 to 16" -> "Upscale factor must be ..."."""
    return _API_NAMES.sub(lambda m: _PAGE_NAMES[m.group(1)], message)


class PlaygroundForm:
    """The playground's submit: one mode's fields (named `<mode>-<field>`), the common
    output fields, the image as a file or a URL, an optional webhook. Validated by the
    mode's API serializer; `errors` maps the page's field names to messages."""

    def __init__(self, data=None, files=None, initial: dict | None = None):
        self.data, self.files = data, files
        self.initial = initial or {}
        self.errors: dict[str, str] = {}
        self.throttled = False
        self.insufficient = False
        self.modes = options.modes()
        self.common = options.common()
        self.mode = (data or {}).get("mode") or self.initial.get("mode") or "precise"
        if self.mode not in {m.name for m in self.modes}:
            self.mode = "precise"
        self.source = (data or {}).get("source") or self.initial.get("source") or "file"
        self.validated: dict = {}
        self.webhook = ""
        self.upload = None

    # -- rendering ------------------------------------------------------------------------

    def value(self, name: str, option: options.Option | None = None):
        """What a field shows: the posted value, else the initial one, else the default.
        (Only the chosen mode's fields are posted; an unticked box is not posted either.)"""
        if self.data is not None:
            if option is not None and option.kind == "boolean" and name.startswith(f"{self.mode}-"):
                return self.data.get(name) == "true"
            if name in self.data:
                return self.data[name]
        value = self.initial.get(name, option.default if option is not None else "")
        if isinstance(value, float):
            return f"{value:g}"
        return value

    @property
    def non_field_error(self) -> str:
        return self.errors.get("__all__", "")

    @property
    def texts(self) -> dict:
        return {name: self.value(name) for name in ("imageUrl", "webhook")}

    def fieldsets(self):
        return [
            {
                "mode": mode,
                "fields": [
                    (f"{mode.name}-{opt.name}", opt, self.value(f"{mode.name}-{opt.name}", opt)) for opt in mode.options
                ],
            }
            for mode in self.modes
        ]

    def common_fields(self):
        return [(opt.name, opt, self.value(opt.name, opt)) for opt in self.common]

    # -- validation -----------------------------------------------------------------------

    def fields_for(self, mode: str) -> dict:
        """The API's input fields from the posted form, for the serializer."""
        data = self.data
        fields: dict[str, object] = {}
        names: list[str] = list(INPUT_SERIALIZERS[mode]().fields)
        for name in names:
            key = name if name in options.COMMON else f"{mode}-{name}"
            value = data.get(key)
            if value not in (None, ""):
                fields[name] = value
        fields.pop("imageBase64", None)
        fields.pop("imageUrl", None)
        if self.source == "url":
            fields["imageUrl"] = (data.get("imageUrl") or "").strip()
        return fields

    def is_valid(self) -> bool:
        mode = next((m for m in self.modes if m.name == self.mode), None)
        if mode is None or mode.unavailable:
            self.errors["__all__"] = (mode.unavailable or "") if mode else "Choose a mode."
            return False
        self.upload = self.files.get("image") if self.source == "file" else None
        if self.source == "file" and self.upload is None:
            self.errors["image"] = "Choose an image to upload (JPEG, PNG or WebP)."
        if self.source == "url" and not (self.data.get("imageUrl") or "").strip():
            self.errors["imageUrl"] = "Paste the URL of a JPEG, PNG or WebP image."
        serializer = INPUT_SERIALIZERS[self.mode](data=self.fields_for(self.mode))
        if not serializer.is_valid():
            for name, detail in serializer.errors.items():
                self.errors.setdefault(self.key_for(name), in_words(" ".join(flatten_errors(detail, name))))
        try:
            self.webhook = clean_webhook(self.data.get("webhook", ""), field="The webhook URL")
        except InvalidRequest as exc:
            self.errors["webhook"] = exc.message
        if self.errors:
            return False
        self.validated = dict(serializer.validated_data)
        return True

    def key_for(self, field: str | None) -> str:
        """The page's field for an API field name (or a domain error's `field`)."""
        if field in ("image", "imageUrl", "imageBase64", "input"):
            return "image" if self.source == "file" else "imageUrl"
        if field in options.COMMON or field == "webhook":
            return field
        if field and field in INPUT_SERIALIZERS[self.mode]().fields:
            return f"{self.mode}-{field}"
        return "__all__"

    def add_domain_error(self, exc: DomainError) -> None:
        self.errors[self.key_for(exc.field)] = in_words(exc.message)
        self.insufficient = isinstance(exc, InsufficientCredits)
