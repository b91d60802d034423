from django.urls import path

from jobs.api.maskr import views

# Under /v1/services/ (upscaler_platform/urls.py), as Maskr's API.
urlpatterns = [
    path("image-upscaling", views.UpscaleView.as_view(), name="maskr-upscale"),
    path("image-upscaling/batch", views.BatchView.as_view(), name="maskr-batch"),
    path("image-upscaling/jobs/<str:job_id>", views.JobView.as_view(), name="maskr-job"),
    path("image-upscaling/batch/<str:batch_id>", views.BatchLookupView.as_view(), name="maskr-batch-lookup"),
]
