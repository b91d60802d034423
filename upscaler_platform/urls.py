from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    # First: the jobs app's own pages include the dashboard under admin/, which the admin's
    # catch-all would otherwise answer with a 404.
    path("", include("jobs.operators.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.apixo.urls")),  # APIXO's generateTask/statusTask, same prefix
    path("api/v1/", include("jobs.api.urls")),
    path("v1/services/", include("jobs.api.maskr.urls")),  # Maskr's API
    path("", include("jobs.api.ximilar.urls")),  # Ximilar's API, at the root as api.ximilar.com's
    path("api/v1/schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/v1/docs",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    # The customers' web app, at the root: "/" is its sign-in page.
    path("", include("jobs.web.urls")),
]

# A path under a vendor API's prefix that nothing answers, or a request Django refuses before
# a view runs, is answered in that API's error shape; elsewhere Django's pages (jobs/api/fallback.py).
handler400 = "jobs.api.fallback.handler400"
handler404 = "jobs.api.fallback.handler404"
