from django.urls import path, re_path

from jobs.api.maskr import views

# Under /v1/services/ (upscaler_platform/urls.py), as Maskr's API.
urlpatterns = [
    path("image-upscaling", views.UpscaleView.as_view(), name="maskr-upscale"),
    path("image-upscaling/batch", views.BatchView.as_view(), name="maskr-batch"),
    path("image-upscaling/jobs/<str:job_id>", views.JobView.as_view(), name="maskr-job"),
    path("image-upscaling/batch/<str:batch_id>", views.BatchLookupView.as_view(), name="maskr-batch-lookup"),
    # As FastAPI does (redirect_slashes): a path with a trailing slash is redirected (307,
    # method and body kept) to the one without.
    # Only the paths above, each with a slash: Django's APPEND_SLASH must find nothing to add
    # a slash to for a path that exists in neither form.
    re_path(
        r"^(?P<path>image-upscaling(?:/batch)?|image-upscaling/(?:jobs|batch)/[^/]+)/$",
        views.without_trailing_slash,
    ),
]
