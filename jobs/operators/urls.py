"""The jobs app's pages outside the API: signed output files, health probes, Prometheus
metrics and the operators' dashboard (inside the admin site)."""

from django.contrib import admin
from django.urls import path

from jobs.operators import health, metrics
from jobs.operators.dashboard_views import dashboard_data_view, dashboard_view
from jobs.operators.files import signed_file

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/dashboard/data.json", admin.site.admin_view(dashboard_data_view), name="admin-dashboard-data"),
    path("files/<path:name>", signed_file, name="signed-file"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
