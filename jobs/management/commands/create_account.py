import os

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing import owners
from jobs.web.links import set_password_url


class Command(BaseCommand):
    help = (
        "Create an account with an API key and optional starting credits, and with --email "
        "its owner's web-app login (password from ACCOUNT_PASSWORD, else a set-password link "
        "is printed). The key is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0)
        parser.add_argument("--email", default="", help="The owner's email: their login to the web app")

    def handle(self, name, credits, email, **options):
        if credits < 0:
            raise CommandError("--credits must be zero or more")
        # As `createsuperuser --noinput` reads DJANGO_SUPERUSER_PASSWORD.
        password = os.environ.get("ACCOUNT_PASSWORD") or None
        if password and not email:
            raise CommandError("ACCOUNT_PASSWORD is set but --email is not: the password is the owner's")
        if password:
            try:
                password_validation.validate_password(password)
            except ValidationError as exc:
                raise CommandError("ACCOUNT_PASSWORD: " + " ".join(exc.messages)) from None
        try:
            created = owners.create_account(name, credits=credits, email=email, password=password)
        except owners.OwnerError as exc:
            raise CommandError(str(exc)) from None
        if created.owner is not None:
            login = created.owner.user.get_username()
            if password:
                self.stdout.write(f"Owner login: {login} (password from ACCOUNT_PASSWORD).")
            else:
                link = set_password_url(created.owner.user)
                self.stdout.write(f"Owner login: {login}. Set its password once at: {link}")
        self.stdout.write(f"Created account {name!r} with {credits} credits. API key (shown once):")
        assert created.raw_key is not None  # create_account issues a key unless told not to
        self.stdout.write(created.raw_key)
