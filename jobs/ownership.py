"""An account sees its own jobs and batches only: another account's id is not found either,
on every face (each surface words JobNotFound its way; the web app answers 404)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db import models

from jobs.errors import JobNotFound

M = TypeVar("M", bound=models.Model)


def owned(model: type[M], account, object_id, *, message: str | None = None, **filters) -> M:
    """The account's `model` row with this id (and `filters`, e.g. a surface), or JobNotFound
    with `message` (by default "No <model> with id '<id>' for this account.")."""
    try:
        return model._default_manager.get(pk=uuid.UUID(str(object_id)), account=account, **filters)
    except (ValueError, model.DoesNotExist):  # type: ignore[attr-defined]
        text = message or f"No {model._meta.verbose_name} with id {str(object_id)!r} for this account."
        raise JobNotFound(text) from None
