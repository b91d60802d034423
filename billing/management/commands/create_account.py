from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing import ledger
from billing.models import Account, ApiKey


class Command(BaseCommand):
    help = (
        "Create an account with an API key and optional starting credits. "
        "The key is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0)

    def handle(self, name, credits, **options):
        if credits < 0:
            raise CommandError("--credits must be zero or more")
        if Account.objects.filter(name=name).exists():
            raise CommandError(f"An account named {name!r} exists already")
        with transaction.atomic():
            account = Account.objects.create(name=name)
            if credits:
                ledger.top_up(account, credits, memo="Initial credits")
            _, raw_key = ApiKey.issue(account, name="created by create_account")
        self.stdout.write(f"Created account {name!r} with {credits} credits. API key (shown once):")
        self.stdout.write(raw_key)
