from django.core.management.base import BaseCommand, CommandError

from billing import ledger
from billing.models import Account


class Command(BaseCommand):
    help = "Add credits to an account (writes a top-up row to the ledger)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("credits", type=int)
        parser.add_argument("--memo", default="Top-up")

    def handle(self, name, credits, memo, **options):
        if credits <= 0:
            raise CommandError("credits must be a positive whole number")
        try:
            account = Account.objects.get(name=name)
        except Account.DoesNotExist:
            raise CommandError(f"No account named {name!r}") from None
        entry = ledger.top_up(account, credits, memo=memo)
        self.stdout.write(f"Added {credits} credits to {name!r}; balance is now {entry.balance_after}.")
