"""The APIs jobs come in by ("surfaces"): what each sends as a job's webhook body, and how
a job is submitted through it again (the curl command the web app shows on a job's page).

Webhook delivery is one mechanism for every surface; only the body differs. Each face
registers its renderers in its wire(), called once when the app loads (jobs/apps.py), so
domain code asks this registry and never imports an API module."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.models import Job

WebhookRenderer = Callable[["Job"], dict]
CurlRenderer = Callable[["Job", str], str]

_webhook_bodies: dict[str, WebhookRenderer] = {}
_curls: dict[str, CurlRenderer] = {}


def register_webhook_body(surface: str, render: WebhookRenderer) -> None:
    _webhook_bodies[surface] = render


def register_curl(surface: str, render: CurlRenderer) -> None:
    _curls[surface] = render


def _renderer(registry: dict, surface: str, what: str):
    try:
        return registry[surface]
    except KeyError:
        raise LookupError(f"No {what} is registered for the {surface!r} surface") from None


def webhook_body(job: Job) -> dict:
    """The JSON body POSTed to the job's webhook, in its surface's shape."""
    return _renderer(_webhook_bodies, job.surface, "webhook body")(job)


def curl_command(job: Job, base_url: str) -> str:
    """The job's request again, through its surface's API, as a curl command."""
    return _renderer(_curls, job.surface, "curl command")(job, base_url)
