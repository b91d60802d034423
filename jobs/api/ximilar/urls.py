from django.urls import path, re_path

from jobs.api.ximilar import views

# At the site root (upscaler_platform/urls.py), as Ximilar's API: a client's endpoint
# https://your-host/ replaces https://api.ximilar.com/.
urlpatterns = [
    # A trailing slash is optional: Ximilar's client strips it, its curl examples have none,
    # and it joins "account/v2/request/" without one but lists requests with it.
    re_path(r"^upscaler/(?P<scale>[^/]+)/upscale/?$", views.UpscaleView.as_view(), name="ximilar-upscale"),
    re_path(r"^account/v2/request/?$", views.RequestsView.as_view(), name="ximilar-requests"),
    # The client's get_user_details() asks account/v2/user/; Ximilar documents account/v2/details/.
    # Two routes, not one alternation: the OpenAPI schema cannot name a non-capturing group.
    re_path(r"^account/v2/user/?$", views.UserView.as_view(), name="ximilar-user"),
    re_path(r"^account/v2/details/?$", views.UserView.as_view(), name="ximilar-user-details"),
    path("account/v2/request/<str:request_id>", views.RequestView.as_view(), name="ximilar-request"),
    path("account/v2/request/<str:request_id>/status", views.RequestStatusView.as_view(), name="ximilar-status"),
]
