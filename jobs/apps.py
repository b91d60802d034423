from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # The model scan's Celery task and the worker-start signal handler (torch-free to
        # import); each API surface registers the shape of its webhook bodies (jobs/surfaces.py).
        from jobs import model_scan  # noqa: F401
        from jobs.api import serializers  # noqa: F401
        from jobs.api.ximilar import payloads  # noqa: F401
        from jobs.web import surface  # noqa: F401
