"""The operators' face plugs in when the app loads (jobs/apps.py), like every face's wire():
the admin pages of jobs and billing register with the admin site."""

from __future__ import annotations


def wire() -> None:
    from jobs.operators import admin, billing_admin  # noqa: F401  (ModelAdmin registrations)
