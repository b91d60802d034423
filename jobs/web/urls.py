from django.contrib.auth.views import LogoutView
from django.urls import path

from jobs.web.views import auth, credits, jobs, keys, playground, webhooks

app_name = "web"

urlpatterns = [
    path("", auth.SignInView.as_view(), name="sign-in"),
    path("signout", LogoutView.as_view(), name="sign-out"),
    path("signup", auth.sign_up, name="sign-up"),
    path("password-reset", auth.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent", auth.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("password/<uidb64>/<token>", auth.PasswordSetView.as_view(), name="password-reset-confirm"),
    path("playground", playground.playground, name="playground"),
    path("playground/quote", playground.quote, name="quote"),
    path("jobs", jobs.job_list, name="jobs"),
    path("jobs/<uuid:job_id>", jobs.job_detail, name="job"),
    path("jobs/<uuid:job_id>/status.json", jobs.job_status, name="job-status"),
    path("jobs/<uuid:job_id>/input", jobs.job_input, name="job-input"),
    path("jobs/<uuid:job_id>/thumbnail/<str:which>", jobs.job_thumbnail, name="job-thumbnail"),
    path("jobs/<uuid:job_id>/redeliver", jobs.redeliver, name="job-redeliver"),
    path("jobs/<uuid:job_id>/cancel", jobs.cancel, name="job-cancel"),
    path("keys", keys.keys, name="keys"),
    path("keys/<int:key_id>/revoke", keys.revoke, name="key-revoke"),
    path("webhooks", webhooks.overview, name="webhooks"),
    path("webhooks/secret", webhooks.secret, name="webhook-secret"),
    path("webhooks/test", webhooks.test, name="webhook-test"),
    path("webhooks/test/<int:delivery_id>.json", webhooks.test_status, name="webhook-test-status"),
    path("credits", credits.overview, name="credits"),
    path("credits.csv", credits.export, name="credits-csv"),
]
