from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Each API surface registers the shape of its webhook bodies (jobs/surfaces.py).
        from jobs.api import serializers  # noqa: F401
        from jobs.web import surface  # noqa: F401
