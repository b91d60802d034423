from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing: accounts, keys and credits"

    def ready(self):
        from billing import openapi  # noqa: F401  (registers the schema extension)
