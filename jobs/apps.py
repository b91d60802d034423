from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        """The composition root: the domain's Celery tasks (the model scan's, torch-free to
        import, with its worker-start handler) and the tasks state changes queue, bound into
        lifecycle; then each face wires itself in one way, its wire(): the API surfaces,
        the customers' web app, the operators' pages."""
        from jobs import lifecycle, model_scan, tasks  # noqa: F401  (model_scan: its task)
        from jobs.api import wiring as api
        from jobs.operators import wiring as operators
        from jobs.web import surface as web

        lifecycle.use_tasks(run_job=tasks.run_job, deliver_webhook=tasks.deliver_webhook)
        api.wire()
        web.wire()
        operators.wire()
