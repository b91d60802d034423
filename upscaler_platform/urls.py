from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs.dashboard_views import dashboard_data_view, dashboard_view
from jobs.files import signed_file
from upscaler_platform import health, metrics

urlpatterns = [
    # Before admin.site.urls, whose catch-all would answer these paths with a 404.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path(
        "admin/dashboard/data.json",
        admin.site.admin_view(dashboard_data_view),
        name="admin-dashboard-data",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.urls")),
    path("v1/services/", include("jobs.api.maskr.urls")),  # Maskr's API
    path("api/v1/schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/v1/docs",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    path("files/<path:name>", signed_file, name="signed-file"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
