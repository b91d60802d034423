from django.urls import path

from jobs.api.apixo import views

# Under /api/v1/ (upscaler_platform/urls.py), before the Upsampler-style paths, which share
# the prefix and none of these names. Any model id routes here: the views answer 404 for one
# other than image-upscaler, in APIXO's envelope.
urlpatterns = [
    path("generateTask/<str:model>", views.GenerateTaskView.as_view(), name="apixo-generate-task"),
    path("statusTask/<str:model>", views.StatusTaskView.as_view(), name="apixo-status-task"),
    path("apikeys/current-balance", views.CurrentBalanceView.as_view(), name="apixo-current-balance"),
]
