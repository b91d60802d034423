from django.urls import path

from jobs.api import views

urlpatterns = [
    path("precise-upscale", views.PreciseUpscaleView.as_view(), name="precise-upscale"),
    path("dynamic-upscale", views.DynamicUpscaleView.as_view(), name="dynamic-upscale"),
    path("smart-upscale", views.SmartUpscaleView.as_view(), name="smart-upscale"),
    path("restore", views.RestoreView.as_view(), name="restore"),
    path("status/<str:job_id>", views.StatusView.as_view(), name="status"),
    path("cancel/<str:job_id>", views.CancelView.as_view(), name="cancel"),
    path("jobs", views.JobListView.as_view(), name="jobs"),
    path("jobs/<str:job_id>/webhook-deliveries", views.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    path("jobs/<str:job_id>/redeliver-webhook", views.RedeliverWebhookView.as_view(), name="redeliver-webhook"),
    path("account", views.AccountView.as_view(), name="account"),
    path("account/webhook-secret", views.WebhookSecretView.as_view(), name="webhook-secret"),
    path("modes", views.ModesView.as_view(), name="modes"),
    path("models", views.NetworkModelsView.as_view(), name="models"),
]
