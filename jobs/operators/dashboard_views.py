"""The operators' dashboard at /admin/dashboard/ (inside the admin site), and its data as JSON.
The figures themselves come from jobs/dashboard.py."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from jobs.operators import dashboard
from jobs.operators.admin import seconds_label


def _require_dashboard_permission(request) -> None:
    if not request.user.has_perm("jobs.view_job"):
        raise PermissionDenied


def dashboard_view(request):
    """/admin/dashboard/: charts and tables drawn by jobs/static/jobs/dashboard.js from the
    data embedded in the page."""
    _require_dashboard_permission(request)
    data = dashboard.dashboard_data()
    timings, failures = data["timings"], data["failures"]
    rate = failures["rate"]
    tiles = [
        ("p50 in queue", seconds_label(timings["queue"]["p50"]), f"{timings['queue']['n']} jobs"),
        ("p95 in queue", seconds_label(timings["queue"]["p95"]), "last 24 h"),
        ("p50 processing", seconds_label(timings["processing"]["p50"]), f"{timings['processing']['n']} jobs"),
        ("p95 processing", seconds_label(timings["processing"]["p95"]), "last 24 h"),
        (
            "failure rate",
            "-" if rate is None else f"{rate:.1%}",
            f"{failures['failed']} failed / {failures['failed'] + failures['succeeded']} ended",
        ),
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": data,
        "tiles": tiles,
        "job_changelist_url": reverse("admin:jobs_job_changelist"),
        "generated_at": timezone.now(),
    }
    return TemplateResponse(request, "admin/upscaler_dashboard.html", context)


def dashboard_data_view(request):
    """The same data as JSON, for the page's refresh button (and for scripts)."""
    _require_dashboard_permission(request)
    response = JsonResponse(dashboard.dashboard_data())
    response["Cache-Control"] = "no-store"
    return response
