"""The APIs jobs come in by ("surfaces") and what each sends as a job's webhook body.

Webhook delivery is one mechanism for every surface; only the body differs. Each surface's
API module registers its renderer when the app loads (jobs/apps.py), so domain code asks
this registry and never imports an API module."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.models import Job

WebhookRenderer = Callable[["Job"], dict]

_webhook_bodies: dict[str, WebhookRenderer] = {}


def register_webhook_body(surface: str, render: WebhookRenderer) -> None:
    _webhook_bodies[surface] = render


def webhook_body(job: Job) -> dict:
    """The JSON body POSTed to the job's webhook, in its surface's shape."""
    try:
        render = _webhook_bodies[job.surface]
    except KeyError:
        raise LookupError(f"No webhook body is registered for the {job.surface!r} surface") from None
    return render(job)
