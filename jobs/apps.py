from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # The model scan's Celery task and the worker-start signal handler (torch-free to
        # import); each API surface registers the shape of its webhook bodies (jobs/surfaces.py).
        from jobs import model_scan, surfaces  # noqa: F401
        from jobs.api import serializers  # noqa: F401
        from jobs.api.apixo import payloads as apixo
        from jobs.api.ximilar import payloads  # noqa: F401
        from jobs.models import Job
        from jobs.web import surface  # noqa: F401

        surfaces.register_webhook_body(Job.Surface.APIXO, apixo.webhook_body)
